"""Score `memory_search --queries` output against gold evidence turns: `python tests/bench/eval_score.py
QUERIES.jsonl RESULTS.jsonl` (run from the repository, against the Neo4j the results came from);
`--clear-access FIRM` forgets the access counts searches left, before a forgetting simulation.

Turn ids are unique only within a session, so each result's sources are resolved to (session, turn)
pairs in the graph. Two measures:
- results@k: some result among the first k has an evidence turn among its sources (as `make bench`);
- turns@k: an evidence turn is among the first k distinct source turns, in result order and, within a
  result, in the order of its `sources` (best match first): a summary citing forty turns spends them
  all, so coarse results cannot inflate it, but it spends its best ones first.
"""
from __future__ import annotations

import json
import os
import sys
from collections import defaultdict

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from memory.graph import driver  # noqa: E402


def source_pairs(ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    def _read(tx):
        result = tx.run(
            """
            UNWIND $ids AS wanted MATCH (m:Memory {id: wanted})
            OPTIONAL MATCH (m)-[:DERIVED_FROM]->(t:Turn)
            WITH m, t ORDER BY t.recorded_at, t.position
            WITH m, collect([t.session_id, t.turn_id]) AS derived
            RETURN m.id AS id, CASE WHEN m.level = 'turn' THEN [[m.session_id, m.turn_id]] ELSE derived END AS pairs
            """, ids=ids)
        return {r["id"]: [tuple(p) for p in r["pairs"]] for r in result}

    return driver.read(_read)


def ordered(pairs: list[tuple[str, str]], sources: list[str]) -> list[tuple[str, str]]:
    """A result's (session, turn) pairs in the order of its `sources` (search returns a summary's turns
    best match first); pairs whose turn id appears twice (two sessions) keep their time order."""
    rank = {turn: index for index, turn in reversed(list(enumerate(sources)))}
    return sorted(pairs, key=lambda pair: rank.get(pair[1], len(sources)))


def active_memories(firm: str) -> dict[str, int]:
    return dict(driver.read(lambda tx: tx.run(
        "MATCH (m:Memory) WHERE m.firm_id = $firm AND m.status = 'active' RETURN m.level AS level, count(*) AS n "
        "ORDER BY level", firm=firm).values()))


def clear_access(firm: str) -> None:
    driver.write(lambda tx: tx.run("MATCH (m:Memory) WHERE m.firm_id = $firm REMOVE m.access_count, m.last_accessed_at",
                                   firm=firm).consume())


def main(queries_path: str, results_path: str, firm: str = "eval") -> None:
    gold = {q["qid"]: q for q in map(json.loads, open(queries_path))}
    rows = [json.loads(line) for line in open(results_path)]
    pairs = source_pairs(sorted({r["id"] for row in rows for r in row["results"]}))
    hits: dict[str, int] = defaultdict(int)
    by_category: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        question = gold[row["qid"]]
        evidence = {(e["session_id"], e["turn_id"]) for e in question["evidence"]}
        ranked = [ordered(pairs.get(r["id"], []), r.get("sources", [])) for r in row["results"]]
        turns = list(dict.fromkeys(p for sources in ranked for p in sources))
        for k in (5, 10):
            hits[f"results@{k}"] += any(evidence & set(sources) for sources in ranked[:k])
            hits[f"turns@{k}"] += bool(evidence & set(turns[:k]))
        by_category[question["category"]].append(bool(evidence & set(turns[:10])))
    total = len(gold)
    print(json.dumps({"questions": total, **{key: round(value / total, 3) for key, value in sorted(hits.items())},
                      "active memories": active_memories(firm),
                      "turns@10 by category": {c: round(sum(v) / len(v), 2) for c, v in sorted(by_category.items())}}))


if __name__ == "__main__":
    if sys.argv[1] == "--clear-access":
        clear_access(sys.argv[2])
    else:
        main(*sys.argv[1:3])
