#!/usr/bin/env bash
# Recall of the hand-written evaluation set through the public commands, at three stages:
#   tests/bench/eval_recall.sh EVAL_DIR
# 1. turns-only: after `memory_import`;  2. with-summaries: after `consolidate_memory`;
# 3. after-a-year: after `forget_memory_report --apply` judged one year from now (access counts from
#    the searches above are cleared first, so that measuring does not protect what it measures).
# eval_score.py scores each `memory_search --queries` run and counts the active memories. Use a Neo4j
# and a database of your own (NEO4J_URI, DATABASE_URL; start from an empty one): it adds a firm "eval".
set -euo pipefail
EVAL_DIR=${1:?give the directory holding advisor_conversations.jsonl and advisor_queries.jsonl}
PY=${PY:-.venv/bin/python}
OUT=${OUT:-var/eval-recall}
QUERIES="$EVAL_DIR/advisor_queries.jsonl"
mkdir -p "$OUT"
search() {
  $PY manage.py memory_search --queries "$QUERIES" --firm eval --k 10 > "$OUT/$1.jsonl"
  PYTHONPATH=. $PY tests/bench/eval_score.py "$QUERIES" "$OUT/$1.jsonl" > "$OUT/$1.score"
}
$PY manage.py migrate --noinput -v0
$PY manage.py graph_migrate >/dev/null
$PY manage.py memory_import "$EVAL_DIR/advisor_conversations.jsonl" --firm eval
search turns-only
$PY manage.py consolidate_memory --firm eval
$PY manage.py consolidate_memory --firm eval   # idempotent: writes nothing
search with-summaries
PYTHONPATH=. $PY tests/bench/eval_score.py --clear-access eval
$PY manage.py forget_memory_report --firm eval --apply --limit 0 --at "$($PY -c 'import datetime as d; print((d.datetime.now(d.timezone.utc) + d.timedelta(days=365)).isoformat())')"
search after-a-year
for run in turns-only with-summaries after-a-year; do echo "$run: $(cat "$OUT/$run.score")"; done
