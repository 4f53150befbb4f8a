"""Memory that organises itself, measured: recall with and without the summary level, graph size and
recall after a simulated year of consolidation and forgetting, and consolidation throughput.

Recall counts a question as found when any of the top-k results cites an evidence turn (as
`memory_bench.recall_run`). The simulated year consolidates, clears the access counts the measuring
searches left (so measuring does not protect what it measures), then forgets as of a year from now.
"""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from memory import api
from memory.graph import driver as graph_driver
from memory.services.consolidation import consolidate
from memory.services.forgetting import forget
from tests.bench.corpus import Corpus
from tests.bench.memory_bench import import_corpus


def _recall(corpus: Corpus, firm: str) -> dict[int, float]:
    hits = {5: 0, 10: 0}
    for question in corpus.questions:
        evidence = set(question["evidence"])
        results = api.search(firm_id=firm, client_id=question["client_id"], query=question["query"], k=10)
        for k in hits:
            hits[k] += any(evidence & set(r.sources) for r in results[:k])
    return {k: round(n / len(corpus.questions), 3) for k, n in hits.items()}


def _active(firm: str) -> int:
    return graph_driver.read(lambda tx: tx.run(
        "MATCH (m:Memory) WHERE m.firm_id = $firm AND m.status = 'active' RETURN count(m) AS n", firm=firm).single()["n"])


def lifecycle_run(corpus: Corpus, firm: str = "bench-lifecycle") -> dict:
    import_corpus(corpus, firm)
    stages = [{"stage": "turns, facts and observations", "active memories": _active(firm), **_recall(corpus, firm)}]
    consolidated = consolidate(firm_id=firm)
    stages.append({"stage": "+ summaries and profile", "active memories": _active(firm), **_recall(corpus, firm)})
    graph_driver.write(lambda tx: tx.run(
        "MATCH (m:Memory) WHERE m.firm_id = $firm REMOVE m.access_count, m.last_accessed_at", firm=firm).consume())
    forgotten = forget(firm_id=firm, at=timezone.now() + timedelta(days=365), dry_run=False)
    stages.append({"stage": "after a simulated year of forgetting", "active memories": _active(firm),
                   **_recall(corpus, firm)})
    return {"stages": stages, "forgotten": dict(forgotten.by_reason), "kept_cited": dict(forgotten.protected),
            "consolidation": {"sessions": consolidated.sessions, "seconds": consolidated.seconds,
                              "sessions_per_second": consolidated.sessions_per_second}}
