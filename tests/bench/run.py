"""`make bench`: memory recall, search latency and import throughput, and the quote refresh cycle.

It empties the graph and the relational database it runs against (imports skip sessions the
database already holds), so it refuses any Neo4j but the project's own benchmark instance and any
database but `var/bench-db.sqlite3` unless --i-understand-this-empties-the-graph is given.
"""
from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="memory node counts for the latency run")
    parser.add_argument("--skip-recall", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-quotes", action="store_true")
    parser.add_argument("--skip-lifecycle", action="store_true")
    parser.add_argument("--quote-mentions", default="100000,1000000")
    parser.add_argument("--i-understand-this-empties-the-graph", dest="force", action="store_true")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    database = str(settings.DATABASES["default"]["NAME"])
    if not args.force and not settings.NEO4J_URI.endswith(":7689"):
        sys.exit(f"refusing to empty {settings.NEO4J_URI}: run through `make bench`, or pass the flag")
    if not args.force and not database.endswith("bench-db.sqlite3"):
        sys.exit(f"refusing to empty the database {database}: run through `make bench`, or pass the flag")
    call_command("migrate", "--noinput", verbosity=0)
    from memory.graph import schema
    from tests.bench import memory_bench, quotes_bench
    from tests.bench.corpus import generate
    from tests.bench.report import table, update_section
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

    command = "make bench" + (f" BENCH_ARGS='{' '.join(argv or sys.argv[1:])}'" if (argv or sys.argv[1:]) else "")
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
                + f"\n\nImport (record + extract + embed + graph write): {imported['turns_per_second']} turns/s "
                  f"({imported['turns']} turns in {imported['seconds']} s, after a 1,920-turn warm-up import; "
                  "a freshly started Neo4j runs its first import at about half speed).")
        update_section("Memory recall and import throughput", body, command)
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
        rows = memory_bench.latency_run(sizes)
        body = ("Hybrid search (`memory.api.search`, k=10) over a graph grown through the import path; "
                "200 random questions per size after 20 warm-up queries.\n\n"
                + table(rows, ["memory_nodes", "clients", "nodes_per_client", "p50_ms", "p95_ms", "mean_ms", "load_seconds"]))
        update_section("Memory search latency", body, command)
        print(body)
    if not args.skip_quotes:
        start_empty()
        rows = quotes_bench.refresh_cycle_run(tuple(int(s) for s in args.quote_mentions.split(",")))
        body = ("One refresh cycle (`refresh_remembered_quotes`) for 500 securities with an instant provider "
                "(provider latency excluded) as remembered price mentions grow: 2,000 clients who each talked "
                "about 20 securities. A quiet cycle (no price crosses a client's threshold); then one in which "
                "every security jumped 25% on the next trading day, so every client-security pair becomes a new "
                "memory event (`events_created`: new `:Event` nodes, each with its text, embedding and links); "
                "then one later that day in which every security fell back, so every pair moves again but its "
                "event for the day exists already (only the alert reference changes).\n\n"
                + table(rows, ["price_mentions", "securities", "tracked_pairs", "quiet_cycle_seconds",
                               "all_moved_cycle_seconds", "events_when_all_moved", "events_created",
                               "moved_again_same_day_seconds", "moves_again"]))
        update_section("Quote refresh cycle", body, command)
        print(body)


if __name__ == "__main__":
    main()
