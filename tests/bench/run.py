"""`make bench`: memory recall, search latency and import throughput, the quote refresh cycle, the
digests' firm run, (with --twin / --scenarios) the twin's answer and brief latency and its scenario
suites, and (with --load) the portal, chat and an import together under load from signed-in users.

It empties the graph and the relational database it runs against (imports skip sessions the
database already holds), so it refuses any Neo4j but the project's own benchmark instance and any
database but its own (`var/bench-db.sqlite3`, or the PostgreSQL database `advisor_bench` that
`make bench BENCH_DATABASE=postgres` starts) unless --i-understand-this-empties-the-graph is given.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tests.bench.load import PRODUCTION_SETTINGS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="memory node counts for the latency run")
    parser.add_argument("--skip-recall", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-quotes", action="store_true")
    parser.add_argument("--skip-lifecycle", action="store_true")
    parser.add_argument("--quote-mentions", default="100000,1000000")
    parser.add_argument("--twin", action="store_true", help="also time the twin's ask and brief (tests/bench/twin_bench.py)")
    parser.add_argument("--twin-memories", type=int, default=5000, help="memory nodes of the twin bench's client")
    parser.add_argument("--load", action="store_true",
                        help="also run the portal, chat and an import together under load (tests/bench/load.py)")
    parser.add_argument("--load-seconds", type=float, default=60.0, help="the load test's measured window")
    parser.add_argument("--load-users", type=int, default=20, help="signed-in users at once (4 of them advisors)")
    parser.add_argument("--load-warm-up", type=float, default=10.0,
                        help="the least load before the measured window; it goes on until Neo4j's JVM has compiled "
                             "the requests' code (tests/bench/load.py, _wait_until_warm), at most 300 s")
    parser.add_argument("--load-max-requests", type=int, default=20_000, help="the window also ends at this count")
    # The Procfile's web server (3 sync workers); above 1 thread makes them gthread workers.
    parser.add_argument("--load-web-workers", type=int, default=3, help="gunicorn workers in the load test")
    parser.add_argument("--load-web-threads", type=int, default=1,
                        help="threads per gunicorn worker in the load test (above 1: gthread workers)")
    parser.add_argument("--cost", action="store_true",
                        help="also count what one request costs (tests/bench/request_cost.py)")
    parser.add_argument("--load-import-sessions", type=int, default=400,
                        help="sessions the parallel import records (multiples of 8) for the worker to drain")
    parser.add_argument("--exact-vector-scan", action="store_true",
                        help="measure what a Neo4j 5.x server gets: no vector index, an exact scan of the scope")
    parser.add_argument("--scenarios", action="store_true",
                        help="run the twin's scenario suites (tests/bench/eval/twin_scenarios.json, written independently)")
    parser.add_argument("--skip-digests", action="store_true")
    parser.add_argument("--digest-clients", type=int, default=2000, help="client digests in the firm run")
    parser.add_argument("--digest-workers", type=int, default=2, help="Celery worker processes on the digests queue")
    parser.add_argument("--import-workers", default="",
                        help="also time `memory_import --defer` drained by N ingest workers, e.g. 1,2,4")
    parser.add_argument("--i-understand-this-empties-the-graph", dest="force", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Everything measured runs as a firm runs it (README "Configuration"), like the load test's servers:
    # DEBUG off. With DEBUG on, Django formats and keeps every SQL statement, which cost an import's
    # recording about a seventh of its CPU (BENCHMARKS.md, session 11); figures before then paid it.
    for name, value in PRODUCTION_SETTINGS.items():
        os.environ.setdefault(name, value)
    import django

    django.setup()
    if args.exact_vector_scan:
        from unittest import mock

        # Both the schema (drops the index) and retrieval (scans) ask the same question of the server.
        with mock.patch("memory.graph.schema.filtered_vector_search", return_value=False), \
                mock.patch("memory.graph.search.filtered_vector_search", return_value=False):
            _run(args, argv, " (exact vector scan, as on Neo4j 5.x)")
    else:
        _run(args, argv, "")


def is_bench_database(database: dict) -> bool:
    """The bench's own database, which it may empty: var/bench-db.sqlite3 or PostgreSQL's advisor_bench."""
    name = str(database["NAME"])
    if database["ENGINE"].endswith("postgresql"):
        return name == "advisor_bench"
    return name.endswith("bench-db.sqlite3")


def _run(args: argparse.Namespace, argv: list[str] | None, variant: str) -> None:
    from django.conf import settings
    from django.core.management import call_command

    if not args.force and not settings.NEO4J_URI.endswith(":7689"):
        sys.exit(f"refusing to empty {settings.NEO4J_URI}: run through `make bench`, or pass the flag")
    if not args.force and not is_bench_database(settings.DATABASES["default"]):
        sys.exit(f"refusing to empty the database {settings.DATABASES['default']['NAME']}: run through "
                 "`make bench` (BENCH_DATABASE=postgres for PostgreSQL), or pass the flag")
    call_command("migrate", "--noinput", verbosity=0)
    from memory.graph import schema
    from tests.bench import digests_bench, load, memory_bench, quotes_bench, twin_bench
    from tests.bench.corpus import generate
    from tests.bench.report import percent, table, update_section
    from memory.graph import driver as graph_driver
    from tests.conftest import empty_graph

    def start_empty() -> None:
        # Relationships first, in bounded batches: the quote bench leaves securities with a million price
        # mentions and over a hundred thousand events, and DETACH DELETE of a batch of such nodes can
        # outgrow Neo4j's transaction memory.
        while graph_driver.write(lambda tx: tx.run(
                "MATCH ()-[r]->() WITH r LIMIT 100000 DELETE r RETURN count(*) AS deleted").single()["deleted"]):
            pass
        empty_graph()
        call_command("flush", "--noinput", verbosity=0)

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    command = "make bench" + (" BENCH_DATABASE=postgres" if on_postgres else "") + (f" BENCH_ARGS='{' '.join(argv or sys.argv[1:])}'" if (argv or sys.argv[1:]) else "")
    schema.migrate()
    if not args.skip_recall:
        start_empty()
        corpus = generate(seed=7, clients=20, sessions_per_client=12, turns_per_session=30)
        result = memory_bench.recall_run(corpus)
        rows = [{"mode": mode, "recall@5": r[5], "recall@10": r[10]} for mode, r in result["recall"].items()]
        kinds = [{"question kind": kind, **values} for kind, values in result["per_kind"].items()]
        imported = result["import"]
        body = (f"Seeded corpus (`tests/bench/corpus.py`, seed 7): 20 clients x 12 sessions x 30 turns "
                f"({imported['turns']} turns, mostly small talk and market chat sharing the facts' vocabulary), "
                f"{result['questions']} paraphrased questions whose evidence turns are known: single facts, facts "
                "later updated or contradicted (evidence: the latest statement), history (the first statement), "
                "a named month, a security's price, facts spread over several sessions. A question counts as "
                "found when any of the top-k results cites an evidence turn.\n\n"
                + table(rows, ["mode", "recall@5", "recall@10"]) + "\n\nRecall@10 by question kind:\n\n"
                + table(kinds, ["question kind", "fulltext", "vector", "hybrid"])
                + f"\n\nImport (record + extract + embed + graph write) as `manage.py memory_import` runs it here "
                  f"({imported['drain_workers']} drain processes, one per core): {imported['turns_per_second']} turns/s "
                  f"({imported['turns']} turns in {imported['seconds']} s) after {imported['warm_up']['turns']:,} turns "
                  "of warm-up imports, which stop once Neo4j's JIT compiler uses under "
                  f"{memory_bench.WARM_JIT_SHARE:.0%} of its CPU (it used {percent(imported['warm_up']['last_jit_share'])} "
                  "in the last one; a freshly started Neo4j runs its first import at under half speed while its JVM "
                  "compiles the write paths); CPU seconds per 1,000 "
                  f"turns: {imported['python_cpu_s_per_1k_turns']} in Python (this process and its drain processes), "
                  f"{imported['neo4j_cpu_s_per_1k_turns']} in Neo4j (its JIT compiler's share "
                  f"{percent(imported['neo4j_jit_share'])}). The same size again (seed 8) drained by one "
                  f"process (`--workers 1`): {imported['one_process']['turns_per_second']} turns/s "
                  f"({imported['one_process']['seconds']} s; CPU per 1,000 turns "
                  f"{imported['one_process']['python_cpu_s_per_1k_turns']} Python, "
                  f"{imported['one_process']['neo4j_cpu_s_per_1k_turns']} Neo4j).\n\n"
                  f"Steady import: {imported['steady']['overall']:,} turns/s over {imported['steady']['turns']:,} "
                  f"turns, {memory_bench.STEADY_IMPORTS} imports of 12,000 new turns one after another "
                  f"({_joined(imported['steady']['turns_per_second'])} turns/s; Neo4j CPU s per 1,000 turns "
                  f"{_joined(imported['steady']['neo4j_cpu_s_per_1k_turns'])}, of which its JIT compiler "
                  f"{' / '.join(percent(s) for s in imported['steady']['neo4j_jit_share'])}). The seeded corpus's "
                  "import above takes under 5 s: a Lucene segment merge or a burst of JIT compiling moves it by a "
                  "third.")
        write_cost = memory_bench.import_write_cost()
        body += ("\n\nThe write cost of the vector index on import: then 1,920 more turns per round, alternately "
                 "without the vector index (`scan`, as `graph_migrate` leaves a Neo4j 5.x server) and with it "
                 "(`index`, rebuilt untimed before the round); the Neo4j CPU time swings less with the shared "
                 "machine's load than turns/s do.\n\n"
                 + table(write_cost, ["vector_path", "rounds", "turns_per_round", "turns_per_second",
                                      "neo4j_cpu_seconds", "median_neo4j_cpu_seconds"]))
        update_section("Memory recall and import throughput" + variant, body, command)
        print(body)
    if args.import_workers:
        rows = memory_bench.deferred_import_run(tuple(int(n) for n in args.import_workers.split(",")), start_empty)
        body = ("The seeded corpus (seed 7, 7,200 turns) recorded with `manage.py memory_import --defer`, then "
                "drained by N real Celery workers on the `ingest` queue (`--pool=solo`, one process each, warmed "
                "on a small corpus first), one `memory.drain_outbox` task per worker, each draining its own partition "
                "of the clients (`partition=[i, n]`); `drain_seconds` runs from the first task queued to an "
                "empty outbox. A batch also write-locks its clients in Neo4j, so two drains never plan one "
                "client's fact slots apart. CPU seconds per 1,000 turns: the workers' own, Neo4j's and the "
                "recording command's, comparable across loads of the shared machine where turns/s are not.\n\n"
                + table(rows, ["ingest_workers", "turns", "record_seconds", "record_cpu_s_per_1k_turns",
                               "drain_seconds", "drain_turns_per_second", "turns_per_second_per_added_worker",
                               "worker_cpu_s_per_1k_turns", "neo4j_cpu_s_per_1k_turns"]))
        update_section("Deferred import: turns/s per ingest worker" + variant, body, command)
        print(body)
    if not args.skip_lifecycle:
        from tests.bench.lifecycle_bench import lifecycle_run

        start_empty()
        result = lifecycle_run(generate(seed=7, clients=20, sessions_per_client=12, turns_per_session=30))
        rows = [{"stage": s["stage"], "active memories": s["active memories"], "recall@5": s[5], "recall@10": s[10]}
                for s in result["stages"]]
        speed = result["consolidation"]
        body = ("Seeded corpus (seed 7, 20 clients x 12 sessions x 30 turns): hybrid recall and graph size as memory "
                "organises itself (`tests/bench/lifecycle_bench.py`).\n\n"
                + table(rows, ["stage", "active memories", "recall@5", "recall@10"])
                + f"\n\nForgotten: {result['forgotten']}; kept because cited: {result['kept_cited']}. "
                  f"Consolidation: {speed['sessions_per_second']} sessions/s ({speed['sessions']} sessions in "
                  f"{speed['seconds']} s).")
        update_section("Memory levels, forgetting and consolidation throughput", body, command)
        print(body)
    if not args.skip_latency:
        start_empty()
        sizes = tuple(int(s) for s in args.sizes.split(","))
        rows = memory_bench.latency_run(sizes, paths=("scan",) if variant else ("index", "scan"))
        body = ("Search (`memory.api.search`, k=10, hybrid and vector-only) over a graph grown through the import "
                "path; 200 random questions per size after 20 warm-up questions, each asked once per vector path "
                "(`index`: the vector index filtered by scope inside it, Neo4j 2026.01+; `scan`: the exact cosine "
                "scan of the caller's scopes, what Neo4j 5.x gets), alternating which path goes first.\n\n"
                + table(rows, ["memory_nodes", "clients", "nodes_per_client", "mode", "vector_path", "p50_ms",
                               "p95_ms", "mean_ms", "neo4j_cpu_ms_per_search", "load_seconds"])
                + "\n\n`neo4j_cpu_ms_per_search`: the CPU time the benchmark's Neo4j spent, per search (from "
                  "/proc; it includes the server's background work of the moment): on a shared machine it swings "
                  "less with other load than the wall-clock times do.")
        update_section("Memory search latency" + variant, body, command)
        print(body)
    if not args.skip_quotes:
        start_empty()
        rows, index_cost = quotes_bench.refresh_cycle_run(tuple(int(s) for s in args.quote_mentions.split(",")))
        body = ("One refresh cycle (`refresh_remembered_quotes`) for 500 securities with an instant provider "
                "(provider latency excluded) as remembered price mentions grow: 2,000 clients who each talked "
                "about 20 securities. A quiet cycle (no price crosses a client's threshold); then one in which "
                "every security jumped 25% on the next trading day, so every client-security pair is a new "
                "client move (`client_moves_when_all_moved`): one shared `:Event` per security and day, with "
                "its text and embedding (`events_created`), and one `SAW_MOVE` link per client holding the "
                "client's words and drift (`links_created`); then one later that day in which every security "
                "fell back, so every pair moves again but its link for the day exists already (only the alert "
                "reference changes). `all_moved_neo4j_cpu_seconds`: the CPU time the benchmark's Neo4j spent "
                "in the all-moved cycle (from /proc), `all_moved_python_cpu_seconds` this process's: on a shared "
                "machine they swing less than wall time.\n\n"
                + table(rows, ["price_mentions", "securities", "tracked_pairs", "quiet_cycle_seconds",
                               "all_moved_cycle_seconds", "all_moved_neo4j_cpu_seconds", "all_moved_python_cpu_seconds",
                               "client_moves_when_all_moved", "events_created", "links_created",
                               "moved_again_same_day_seconds", "moves_again"])
                + "\n\nThe write cost of the vector index: after those cycles, at the largest mention count, the "
                  "all-moved cycle on each following day, alternately without the vector index (`scan`, as "
                  "`graph_migrate` leaves a Neo4j 5.x server) and with it (`index`, rebuilt untimed before the "
                  "round).\n\n"
                + table(index_cost, ["vector_path", "rounds", "events_created_per_round", "links_created_per_round",
                                     "all_moved_cycle_seconds",
                                     "median_seconds", "neo4j_cpu_seconds", "median_neo4j_cpu_seconds"]))
        update_section("Quote refresh cycle" + variant, body, command)
        print(body)
    if args.twin:
        start_empty()
        result = twin_bench.latency_run(memories=args.twin_memories)
        body = ("The twin end to end with the deterministic composer (`twin.services.advice.ask` and `brief`): "
                "profile, holdings with quotes, remembered prices, viewpoints, price-history risk, retrieval (ask), "
                "rules, composition, the stored Advice row and the advice written into memory. One client grown "
                f"through the import path (in {result['load_seconds']} s), 5 holdings, 2 viewpoints; 100 calls of "
                "each after 10 warm-up rounds (and the memory search alone on the same questions, for comparison). "
                "Target: p95 under 300 ms.\n\n"
                + table(result["rows"], ["call", "client_memory_nodes", "calls", "p50_ms", "p95_ms", "mean_ms"]))
        update_section("Twin answer and brief latency", body, command)
        print(body)
    if args.scenarios:
        from tests.bench import twin_scenarios

        start_empty()
        rows = []
        for name, path in (("independent (36 histories, tests/bench/eval/twin_scenarios.json)",
                            Path(twin_scenarios.__file__).parent / "eval" / "twin_scenarios.json"),
                           ("own sample (tests/bench/eval/sample_twin_scenarios.json)",
                            Path(twin_scenarios.__file__).parent / "eval" / "sample_twin_scenarios.json")):
            report = twin_scenarios.evaluate(path)
            rows.append({"suite": name, "scenarios": report["scenarios"],
                         "expected_found": f"{report['found']}/{report['expected']} ({report['found_share']})",
                         "forbidden_avoided": f"{report['avoided']}/{report['forbidden']} ({report['avoided_share']})",
                         "misses": "; ".join(f"{r['id']}: {m['kind']} {m['about']}" for r in report["per_scenario"]
                                             for m in r["missed"]) or "none",
                         "violations": "; ".join(f"{r['id']}: {v['kind']} {v['about']}" for r in report["per_scenario"]
                                                 for v in r["violated"]) or "none"})
        body = ("The twin's deterministic rules on client histories seeded through the real paths (import, outbox, "
                "Neo4j, quotes through the refresh, viewpoints through the analyst service); an expected item is "
                "found when an item of its kind mentions its subject, a forbidden one avoided when none does. The "
                "independent suite was written from the product description by someone who never read the rules.\n\n"
                + table(rows, ["suite", "scenarios", "expected_found", "forbidden_avoided", "misses", "violations"]))
        update_section("Twin scenario suites", body, command)
        print(body)
    if not args.skip_digests:
        start_empty()
        row = digests_bench.firm_run(args.digest_clients, args.digest_workers)
        body = ("A firm's scheduled run of client digests (`tests/bench/digests_bench.py`): each client has one "
                "imported session (two prices discussed, a goal, a concern), holds AAPL, has a market-move memory, "
                "and an analyst view on AAPL is new, so every digest shares that content. `run_seconds`: from the "
                "`digests.schedule` task until every digest is built and released, by real Celery workers on the "
                "`digests` queue (`workers` processes); build times are per digest (memory reads and render). "
                "Shared by more than 25 retail clients, the content is held for approval; `approve_and_send_seconds` "
                "is the approval sending every e-mail (file backend) and archiving it.\n\n"
                + table([row], ["client_digests", "workers", "run_seconds", "digests_per_second", "build_p50_ms",
                                "build_p95_ms", "build_max_ms", "held_for_approval", "failed",
                                "approve_and_send_seconds", "sent", "load_seconds"]))
        update_section("Research digests: a firm run", body, command)
        print(body)
    if args.cost:
        from tests.bench import request_cost

        start_empty()
        body = request_cost.report_body(request_cost.run(), 20)
        update_section("Request cost: round trips, queries and CPU per request", body, command)
        print(body)
    if args.load:
        # First the portal and chat alone, then with an import the worker drains at the same time.
        for title, import_sessions_count in (("Portal and chat under load", 0),
                                             ("Portal, chat and import under load", args.load_import_sessions)):
            start_empty()
            report = load.run(duration=args.load_seconds, users=args.load_users, warm_up=args.load_warm_up,
                              max_requests=args.load_max_requests,
                              import_sessions_count=import_sessions_count, web_workers=args.load_web_workers,
                              web_threads=args.load_web_threads)
            body = load.report_body(report)
            update_section(title + (" on PostgreSQL" if on_postgres else "") + variant, body, command)
            print(body)


def _joined(values: list) -> str:
    return " / ".join(f"{value:,}" if isinstance(value, int) else str(value) for value in values)


if __name__ == "__main__":
    main()
