"""Memory benchmarks: recall of evidence turns per retrieval mode, search latency by graph size,
import throughput. Run through `make bench` (a dedicated test Neo4j) — never against live data."""
from __future__ import annotations

import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from advisor.management.commands import memory_import
from advisor.services.importer import import_sessions
from memory import api
from memory.graph import driver as graph_driver
from tests.bench.corpus import Corpus, generate
from tests.bench.cpu import Meter, neo4j_seconds, process_seconds
from tests.conftest import database_url

MODES = ("fulltext", "vector", "hybrid")
REPO = Path(__file__).resolve().parents[2]
NODES_PER_CLIENT = 930  # of the latency corpus (30 sessions x 30 turns and what is derived from them)


def _lines(corpus: Corpus):
    return (json.dumps(session) for session in corpus.sessions)


def import_corpus(corpus: Corpus, firm: str, drain_workers: int = 1) -> dict:
    turns = sum(len(s["turns"]) for s in corpus.sessions)
    with Meter() as meter:
        report = import_sessions(_lines(corpus), firm, drain_workers=drain_workers)
    assert not report.errors, report.errors[:3]
    return {"sessions": len(corpus.sessions), "turns": turns, "seconds": round(meter.wall, 1),
            "turns_per_second": round(turns / meter.wall),
            "python_cpu_s_per_1k_turns": round(meter.python * 1000 / turns, 3),
            "neo4j_cpu_s_per_1k_turns": round(meter.neo4j * 1000 / turns, 3) if meter.neo4j is not None else "n/a",
            "neo4j_jit_share": round(meter.jit / meter.neo4j, 2) if meter.jit is not None and meter.neo4j else None}


# A Neo4j JVM compiles the write paths while the first imports run: measured on `make bench`'s Neo4j
# right after its start, 12,000-turn imports ran at 905, 1,422, 1,882, 1,822, 2,151 and 2,045 turns/s while
# the JIT compiler's share of Neo4j's CPU fell from 42% to 28%. The warm-up imports until that share is
# under WARM_JIT_SHARE (a server that has run for a while: a firm's), at most WARM_UP_ROUNDS times.
WARM_JIT_SHARE = 0.3
WARM_UP_ROUNDS = 16


def warm_up_imports(firm: str, drain_workers: int) -> dict:
    """Import small corpora of another firm until Neo4j's JIT has compiled the import's code."""
    turns, share = 0, None
    for round_ in range(WARM_UP_ROUNDS):
        done = import_corpus(generate(seed=90 + round_, clients=16, sessions_per_client=10, turns_per_session=30,
                                      id_prefix=f"warm{round_}-"), f"{firm}-warm-up-{round_}", drain_workers)
        turns, share = turns + done["turns"], done["neo4j_jit_share"]
        if share is None or share < WARM_JIT_SHARE:
            break
    return {"turns": turns, "last_jit_share": share}


# The seeded corpus's import takes under 5 s here: whether a Lucene segment merge or a burst of JIT compiling
# falls into it moves its figure by a third (BENCHMARKS.md, "Why the import swings"). STEADY_IMPORTS imports
# of 12,000 turns each, one after another, give a figure those average out of.
STEADY_IMPORTS = 3


def steady_imports(firm: str, drain_workers: int) -> dict:
    """STEADY_IMPORTS imports of 12,000 new turns each (40 clients x 10 sessions x 30 turns of another firm)."""
    done = [import_corpus(generate(seed=70 + number, clients=40, sessions_per_client=10, turns_per_session=30,
                                   id_prefix=f"steady{number}-"), f"{firm}-steady-{number}", drain_workers)
            for number in range(STEADY_IMPORTS)]
    turns, seconds = sum(d["turns"] for d in done), sum(d["seconds"] for d in done)
    return {"turns_per_second": [d["turns_per_second"] for d in done], "overall": round(turns / seconds),
            "turns": turns, "neo4j_cpu_s_per_1k_turns": [d["neo4j_cpu_s_per_1k_turns"] for d in done],
            "neo4j_jit_share": [d["neo4j_jit_share"] for d in done]}


def recall_run(corpus: Corpus, firm: str = "bench-recall") -> dict:
    # A freshly started Neo4j imports at under half speed until its JIT has warmed up: the numbers are
    # the steady state a running server gives, after `warm_up_imports`.
    warm_up = warm_up_imports(firm, memory_import.DEFAULT_WORKERS)
    imported = import_corpus(corpus, firm, drain_workers=memory_import.DEFAULT_WORKERS)
    imported["warm_up"] = warm_up
    imported["steady"] = steady_imports(firm, memory_import.DEFAULT_WORKERS)
    # The same size again, drained by one process: what the drain processes add.
    twin = generate(seed=8, clients=20, sessions_per_client=12, turns_per_session=30, id_prefix="one-drain-")
    imported["one_process"] = import_corpus(twin, firm + "-one-drain")
    imported["drain_workers"] = memory_import.DEFAULT_WORKERS
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


def _start_ingest_workers(count: int) -> list[subprocess.Popen]:
    """`count` real Celery workers on the ingest queue, one process each (`--pool=solo`: the task runs
    in the process we measure), as `celery -A config worker -Q ingest` runs them in production."""
    from config.celery import app

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_URL": database_url(settings.DATABASES["default"])}
    log = open(REPO / "var" / "log" / "bench-ingest-workers.log", "a")
    tag = f"bench-ingest-{os.getpid()}-{time.monotonic_ns()}"
    workers = [subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING",
                                 "--pool=solo", "-Q", "ingest", "-n", f"{tag}-{number}@%h"],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
               for number in range(count)]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answered = {name for reply in (app.control.ping(timeout=1.0) or []) for name in reply if tag in name}
        if len(answered) == count:
            return workers
    _stop(workers)
    raise RuntimeError(f"{count} bench ingest workers did not all answer within 120 s; see var/log/bench-ingest-workers.log")


def _stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def _record_deferred(corpus: Corpus, firm: str) -> tuple[float, float]:
    """`manage.py memory_import --defer` of the corpus as a file: (wall seconds, its CPU seconds)."""
    path = REPO / "var" / f"bench-{firm}.jsonl"
    path.write_text("".join(json.dumps(session) + "\n" for session in corpus.sessions))
    env = {**os.environ, "DATABASE_URL": database_url(settings.DATABASES["default"])}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", "memory_import", str(path), "--defer", "--firm", firm],
                   cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    path.unlink()
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def _drain_with_workers(workers: list[subprocess.Popen], timeout: float = 1800) -> float:
    """One drain task per worker, each of its own partition of the clients (`drain_outbox(partition=)`),
    then wait for an empty outbox; the seconds from the first task to the last record stored."""
    from memory.models import OutboxEntry
    from memory.tasks import drain_memory_outbox

    pending = OutboxEntry.objects.filter(status=OutboxEntry.Status.PENDING)
    started = time.perf_counter()
    for part in range(len(workers)):  # prefetch 1: each idle worker takes one task
        drain_memory_outbox.apply_async(kwargs={"max_sessions": 1_000_000, "partition": [part, len(workers)]},
                                        ignore_result=True)
    while pending.exists():
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"the ingest workers left {pending.count()} records after {timeout:.0f} s")
        time.sleep(0.1)
    return time.perf_counter() - started


def deferred_import_run(worker_counts: tuple[int, ...], reset: Callable[[], None]) -> list[dict]:
    """`memory_import --defer` of the seeded corpus, then N ingest workers drain it, for each N.

    Each count starts from an empty graph and database (`reset`), warms its workers on a small corpus
    of another firm (a worker loads the embeddings and the securities master on its first record),
    records the measured corpus, then times the drain. CPU seconds are the workers' own (from /proc),
    Neo4j's and the recording command's, per 1,000 turns.
    """
    rows: list[dict] = []
    corpus = generate(seed=7, clients=20, sessions_per_client=12, turns_per_session=30)
    turns = sum(len(session["turns"]) for session in corpus.sessions)
    for count in worker_counts:
        reset()
        workers = _start_ingest_workers(count)
        try:
            warm = generate(seed=99, clients=2 * count, sessions_per_client=4, turns_per_session=30,
                            id_prefix=f"warm{count}-")
            _record_deferred(warm, f"bench-defer-warm-{count}")
            _drain_with_workers(workers)
            record_wall, record_cpu = _record_deferred(corpus, f"bench-defer-{count}")
            cpu_before = [process_seconds(worker.pid) for worker in workers]
            neo4j_before = neo4j_seconds()
            drain = _drain_with_workers(workers)
            neo4j_after = neo4j_seconds()
            worker_cpu = sum(process_seconds(w.pid) - b for w, b in zip(workers, cpu_before, strict=True))
        finally:
            _stop(workers)
        neo4j_cpu = neo4j_after - neo4j_before if neo4j_after is not None and neo4j_before is not None else None
        rows.append({"ingest_workers": count, "turns": turns, "record_seconds": round(record_wall, 1),
                     "record_cpu_s_per_1k_turns": round(record_cpu * 1000 / turns, 3),
                     "drain_seconds": round(drain, 1), "drain_turns_per_second": round(turns / drain),
                     "worker_cpu_s_per_1k_turns": round(worker_cpu * 1000 / turns, 3),
                     "neo4j_cpu_s_per_1k_turns": round(neo4j_cpu * 1000 / turns, 3) if neo4j_cpu is not None else "n/a"})
    for previous, row in zip([None, *rows], rows, strict=False):
        if previous is None:  # the first count's workers are all "added"
            row["turns_per_second_per_added_worker"] = round(row["drain_turns_per_second"] / row["ingest_workers"])
            continue
        added = row["ingest_workers"] - previous["ingest_workers"]
        gain = row["drain_turns_per_second"] - previous["drain_turns_per_second"]
        row["turns_per_second_per_added_worker"] = round(gain / added) if added else "n/a"
    return rows
