#!/usr/bin/env bash
# Recall@5/@10 of the hand-written evaluation set, through the public commands only:
#   tests/bench/eval_recall.sh EVAL_DIR [--consolidate]
# Imports EVAL_DIR/advisor_conversations.jsonl with `memory_import`, optionally runs
# `consolidate_memory`, then `memory_search --queries` and scores the results with eval_score.py.
# Use a Neo4j and a database of your own (NEO4J_URI, DATABASE_URL): it adds a firm named "eval".
set -euo pipefail
EVAL_DIR=${1:?give the directory holding advisor_conversations.jsonl and advisor_queries.jsonl}
PY=${PY:-.venv/bin/python}
OUT=${OUT:-var/eval-recall}
mkdir -p "$OUT"
$PY manage.py migrate --noinput -v0
$PY manage.py graph_migrate >/dev/null
$PY manage.py memory_import "$EVAL_DIR/advisor_conversations.jsonl" --firm eval
if [ "${2:-}" = "--consolidate" ]; then $PY manage.py consolidate_memory --firm eval; fi
$PY manage.py memory_search --queries "$EVAL_DIR/advisor_queries.jsonl" --firm eval --k 10 > "$OUT/results.jsonl"
PYTHONPATH=. $PY tests/bench/eval_score.py "$EVAL_DIR/advisor_queries.jsonl" "$OUT/results.jsonl"
