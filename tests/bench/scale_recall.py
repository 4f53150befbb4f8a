"""Recall of the firm-scale bench's gold questions, per question kind, on a graph `scale_bench` loaded.

    NEO4J_URI=bolt://127.0.0.1:7743 NEO4J_LOCAL_NAME=neo4j-scale \\
      python -m tests.bench.scale_recall --shape firm-research [--questions 600]

`scale_bench` saves the gold questions of each shape it loads (`var/scale-questions-SHAPE.jsonl`); a
question counts as found at k when any of the top k results (`memory.api.search`, hybrid) is or cites one of
its evidence turns. The latency bench says how fast a search is; this says whether it still finds what the
bulk-loaded client said, beside the seeded and independent sets of `make bench`. The big-client shape
repeats one client's sessions to reach its size, so its gold turn is one of many identical ones and its
figure says little.

`--against-scan N` also asks N of the questions in vector mode both ways, through the vector index and
through the exact cosine scan of the reader's scopes, and reports the share of the scan's ten best cosines
that the index's ten reach (ties count, so identical memories do not lower it): what the index's
approximation costs, apart from the other lists of a hybrid search.
"""
from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict

from tests.bench.scale_bench import FIRM, ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", required=True, choices=["clients", "big-client", "firm-research"])
    parser.add_argument("--questions", type=int, default=600, help="the first N saved questions")
    parser.add_argument("--against-scan", type=int, default=0, metavar="N",
                        help="also compare the vector index with the exact scan on N questions")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from memory import api
    from memory.services.retrieval import named_period

    with open(ROOT / "var" / f"scale-questions-{args.shape}.jsonl") as lines:
        questions = [json.loads(line) for line in lines][: args.questions]
    found: dict[int, int] = {5: 0, 10: 0}
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for question in questions:
        results = api.search(firm_id=FIRM, client_id=question["client_id"], query=question["query"], k=10)
        evidence = set(question["evidence"])
        for k in found:
            found[k] += any(evidence & ({r.id} | set(r.sources)) for r in results[:k])
        kind = "month" if named_period(question["query"]) else question["kind"]
        by_kind[kind].append(any(evidence & ({r.id} | set(r.sources)) for r in results))
    print(json.dumps({"shape": args.shape, "questions": len(questions),
                      "recall": {f"@{k}": round(hits / len(questions), 3) for k, hits in found.items()},
                      "found_at_10_by_kind": {kind: f"{sum(hits)}/{len(hits)}" for kind, hits in sorted(by_kind.items())}}))
    if args.against_scan:
        print(json.dumps({"shape": args.shape, **index_against_scan(questions[: args.against_scan])}))


def index_against_scan(questions: list[dict], k: int = 10, firm_id: str = FIRM) -> dict:
    """Of the exact scan's k best cosines, the share the vector index's k best reach, over these questions."""
    from unittest import mock

    from memory.embeddings import embed_query
    from memory.graph import schema
    from memory.graph import search as graph_search
    from memory.scope import Reader
    from memory.services.retrieval import topic_of

    reached: list[float] = []
    for question in questions:
        scopes = Reader(firm_id, question["client_id"]).scopes
        vector = embed_query(topic_of(question["query"], graph_search.people_named(scopes)))  # as a search embeds it
        best: dict[str, list[float]] = {}
        for path in ("index", "scan"):
            with mock.patch.object(graph_search, "filtered_vector_search", return_value=path == "index"):
                found = graph_search.candidates(scopes=scopes, lucene=None, vector=vector, symbols=[], slots=[],
                                                limit=max(k * 4, 40), as_of=None, include_recent=False)
            best[path] = [candidate.score for candidate in found.get("vector", [])][:k]
        if len(best["scan"]) == k:
            reached.append(sum(score >= best["scan"][-1] - 1e-6 for score in best["index"]) / k)
    config = schema.vector_index_config() or {}
    return {"questions": len(reached), f"index_reaches_scan_top{k}": round(sum(reached) / max(len(reached), 1), 3),
            "quantization": config.get("vector.quantization.type", config.get("vector.quantization.enabled"))}


if __name__ == "__main__":
    main()
