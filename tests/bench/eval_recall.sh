#!/usr/bin/env bash
# Recall of the hand-written evaluation set, through the public commands only, with and without the
# summary level:   tests/bench/eval_recall.sh EVAL_DIR
# Imports EVAL_DIR/advisor_conversations.jsonl with `memory_import`, runs `memory_search --queries`,
# then `consolidate_memory` and the same search again; eval_score.py scores both. Use a Neo4j and a
# database of your own (NEO4J_URI, DATABASE_URL; the database is created fresh): it adds a firm "eval".
set -euo pipefail
EVAL_DIR=${1:?give the directory holding advisor_conversations.jsonl and advisor_queries.jsonl}
PY=${PY:-.venv/bin/python}
OUT=${OUT:-var/eval-recall}
mkdir -p "$OUT"
$PY manage.py migrate --noinput -v0
$PY manage.py graph_migrate >/dev/null
$PY manage.py memory_import "$EVAL_DIR/advisor_conversations.jsonl" --firm eval
$PY manage.py memory_search --queries "$EVAL_DIR/advisor_queries.jsonl" --firm eval --k 10 > "$OUT/turns-only.jsonl"
$PY manage.py consolidate_memory --firm eval
$PY manage.py memory_search --queries "$EVAL_DIR/advisor_queries.jsonl" --firm eval --k 10 > "$OUT/with-summaries.jsonl"
for run in turns-only with-summaries; do
  echo "$run: $(PYTHONPATH=. $PY tests/bench/eval_score.py "$EVAL_DIR/advisor_queries.jsonl" "$OUT/$run.jsonl")"
done
