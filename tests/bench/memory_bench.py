"""Memory benchmarks: recall of evidence turns per retrieval mode, search latency by graph size,
import throughput. Run through `make bench` (a dedicated test Neo4j) — never against live data."""
from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict

from advisor.services.importer import import_sessions
from memory import api
from memory.graph import driver as graph_driver
from tests.bench.corpus import Corpus, generate
from tests.bench.cpu import Meter

MODES = ("fulltext", "vector", "hybrid")
NODES_PER_CLIENT = 930  # of the latency corpus (30 sessions x 30 turns and what is derived from them)


def _lines(corpus: Corpus):
    return (json.dumps(session) for session in corpus.sessions)


def import_corpus(corpus: Corpus, firm: str) -> dict:
    turns = sum(len(s["turns"]) for s in corpus.sessions)
    started = time.perf_counter()
    report = import_sessions(_lines(corpus), firm)
    elapsed = time.perf_counter() - started
    assert not report.errors, report.errors[:3]
    return {"sessions": len(corpus.sessions), "turns": turns, "seconds": round(elapsed, 1),
            "turns_per_second": round(turns / elapsed)}


def recall_run(corpus: Corpus, firm: str = "bench-recall") -> dict:
    # A freshly started Neo4j (and Python) imports at about half speed until the JIT has warmed up:
    # a small corpus of another firm goes first, so the number is the steady state.
    import_corpus(generate(seed=99, clients=8, sessions_per_client=8, turns_per_session=30), firm + "-warm-up")
    imported = import_corpus(corpus, firm)
    hits: dict[tuple[str, int], int] = defaultdict(int)
    by_kind: dict[tuple[str, str], list[int]] = defaultdict(list)
    for question in corpus.questions:
        evidence = set(question["evidence"])
        for mode in MODES:
            results = api.search(firm_id=firm, client_id=question["client_id"], query=question["query"], k=10, mode=mode)
            for k in (5, 10):
                found = any(evidence & set(r.sources) for r in results[:k])
                hits[(mode, k)] += found
                if k == 10:
                    by_kind[(mode, question["kind"])].append(found)
    total = len(corpus.questions)
    recall = {mode: {k: round(hits[(mode, k)] / total, 3) for k in (5, 10)} for mode in MODES}
    kinds = sorted({q["kind"] for q in corpus.questions})
    per_kind = {kind: {mode: round(sum(by_kind[(mode, kind)]) / len(by_kind[(mode, kind)]), 2) for mode in MODES}
                for kind in kinds}
    return {"import": imported, "questions": total, "recall": recall, "per_kind": per_kind}


def import_write_cost(rounds: int = 3) -> list[dict]:
    """Import throughput without and with the vector index, alternating round by round on one graph.

    `scan` drops the index as `graph_migrate` does on Neo4j 5.x, `index` rebuilds it (not timed);
    each round imports 1,920 new turns of 8 new clients.
    """
    from unittest import mock

    from memory.graph import schema

    measured: dict[str, list[Meter]] = {"scan": [], "index": []}
    for number in range(rounds * 2):
        path = ("scan", "index")[number % 2]
        with mock.patch.object(schema, "filtered_vector_search", return_value=path == "index"):
            schema.migrate()
        corpus = generate(seed=200 + number, clients=8, sessions_per_client=8, turns_per_session=30,
                          id_prefix=f"W{number}-")
        with Meter() as meter:
            import_corpus(corpus, f"bench-write-{number}")
        measured[path].append(meter)
    schema.migrate()
    return [{"vector_path": path, "rounds": rounds, "turns_per_round": 1920,
             "turns_per_second": " / ".join(f"{1920 / m.wall:.0f}" for m in found),
             "neo4j_cpu_seconds": " / ".join(f"{m.neo4j or 0:.2f}" for m in found),
             "median_neo4j_cpu_seconds": round(statistics.median(m.neo4j or 0 for m in found), 2)}
            for path, found in measured.items()]


def memory_node_count() -> int:
    return graph_driver.read(lambda tx: tx.run("MATCH (m:Memory) RETURN count(m) AS n").single()["n"])


def latency_run(targets: tuple[int, ...], queries: int = 200, seed: int = 11,
                paths: tuple[str, ...] = ("index", "scan")) -> list[dict]:
    """Grow the graph to each target size through the import path, then time searches.

    Each question is asked in hybrid and in vector mode once per vector path (the index filtered by
    scope, and the exact scan of the scope that Neo4j 5.x gets), alternating which path goes first,
    so both paths see the same graph, cache and machine load.
    """
    import random
    from unittest import mock

    rng = random.Random(seed)
    results = []
    loaded_clients = 0
    load_seconds = 0.0
    questions: list[dict] = []
    for target in targets:
        while (before := memory_node_count()) < target:
            # About 930 memory nodes per client: small steps near a target so each size lands close to it.
            clients = max(1, min(50, (target - before) // NODES_PER_CLIENT + 1))
            batch = generate(seed=seed, clients=clients, sessions_per_client=30, turns_per_session=30,
                             first_client=loaded_clients, id_prefix="L")
            started = time.perf_counter()
            import_corpus(batch, "bench-latency")
            load_seconds += time.perf_counter() - started
            loaded_clients += clients
            if memory_node_count() == before:
                raise RuntimeError("the import added no memory: is the relational database left from another run?")
            questions.extend(batch.questions)
        nodes = memory_node_count()
        sample = [rng.choice(questions) for _ in range(queries)]
        timings: dict[tuple[str, str], list[float]] = defaultdict(list)
        neo4j_cpu: dict[tuple[str, str], float] = defaultdict(float)
        for number, q in enumerate(sample[:20] + sample):  # the first 20: warm-up (page cache, query plans)
            for mode in ("hybrid", "vector"):
                for path in (paths if number % 2 else paths[::-1]):
                    with mock.patch("memory.graph.search.filtered_vector_search", return_value=path == "index"):
                        with Meter() as meter:
                            api.search(firm_id="bench-latency", client_id=q["client_id"], query=q["query"], k=10,
                                       mode=mode)
                        if number >= 20:
                            timings[(mode, path)].append(meter.wall * 1000)
                            neo4j_cpu[(mode, path)] += meter.neo4j or 0.0
        for (mode, path), found in timings.items():
            found.sort()
            results.append({
                "memory_nodes": nodes, "clients": loaded_clients, "nodes_per_client": round(nodes / loaded_clients),
                "mode": mode, "vector_path": path, "p50_ms": round(statistics.median(found), 1),
                "p95_ms": round(found[int(len(found) * 0.95) - 1], 1), "mean_ms": round(statistics.mean(found), 1),
                "neo4j_cpu_ms_per_search": round(neo4j_cpu[(mode, path)] * 1000 / len(found), 1),
                "load_seconds": round(load_seconds),
            })
    return results
