"""Where an import's CPU goes: Python's and Neo4j's CPU seconds per 1,000 turns, by phase and by Cypher statement.

    python -m tests.bench.import_profile --i-understand-this-empties-the-graph

Imports the seeded corpus (seed 7: 7,200 turns, after a 1,920-turn warm-up import of another firm)
through `import_sessions` into the Neo4j of NEO4J_URI and the database of DATABASE_URL, both emptied
first. Each phase is timed exclusive of the phases inside it: the SQL record (sessions, turns, outbox,
audit), extraction, building the graph rows, embedding, each Cypher statement (until its result is
read), and the rest of the graph transaction (its commit: index updates). Neo4j's CPU comes from
/proc (tests/bench/cpu.py; NEO4J_LOCAL_NAME names the local server's pid file). The drain runs its
chunks one after the other here (an import extracts the next chunk while Neo4j writes the one before),
so that each CPU second lands on one phase; the totals are those of the sequential drain.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--i-understand-this-empties-the-graph", dest="force", action="store_true")
    if not parser.parse_args(argv).force:
        sys.exit("this empties the graph and the database it runs against: pass --i-understand-this-empties-the-graph")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from neo4j import ManagedTransaction

    import advisor.services.importer as importer
    import memory.services.ingest as ingest
    from memory.extraction.rules import RuleExtractor
    from memory.graph import schema
    from tests.bench.corpus import generate
    from tests.bench.cpu import Meter, neo4j_seconds
    from tests.conftest import empty_graph

    call_command("migrate", "--noinput", verbosity=0)
    empty_graph()
    call_command("flush", "--noinput", verbosity=0)
    schema.migrate()
    spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # label -> [python, neo4j] seconds
    open_phases: list[str] = []

    def measured(label_of: Callable[..., str], work: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            label = label_of(*args, **kwargs)
            python, neo4j = time.process_time(), neo4j_seconds() or 0.0
            open_phases.append(label)
            try:
                return work(*args, **kwargs)
            finally:
                open_phases.pop()
                used = (time.process_time() - python, (neo4j_seconds() or 0.0) - neo4j)
                for index, seconds in enumerate(used):
                    spent[label][index] += seconds
                    for outer in open_phases:  # exclusive: the enclosing phase does not count it again
                        spent[outer][index] -= seconds
        return run

    def phase(owner: Any, name: str, label: str) -> None:
        setattr(owner, name, measured(lambda *a, **k: label, getattr(owner, name)))

    phase(importer, "_import_chunk", "record: sessions, turns, outbox, audit (SQL)")
    phase(RuleExtractor, "extract", "extraction (rules, securities master)")
    phase(ingest._BatchBuilder, "add_session", "graph rows (Python)")
    phase(ingest._BatchBuilder, "embed", "embedding (wordllama)")
    phase(ingest.driver, "write", "graph transaction: commit and the rest")
    phase(ingest, "_mark_stored", "outbox stored, signals (SQL)")
    def sequentially(chunks: list[list[Any]]) -> tuple[int, int, int]:
        totals = [0, 0, 0]
        for chunk in chunks:
            for index, value in enumerate(ingest._ingest_isolating(chunk, ingest._build_sessions)):
                totals[index] += value
        return totals[0], totals[1], totals[2]

    ingest._ingest_pipelined = sequentially
    run_statement = ManagedTransaction.run

    def statement(tx: ManagedTransaction, query: str, *args: Any, **kwargs: Any) -> Any:
        result = run_statement(tx, query, *args, **kwargs)
        result._buffer_all()  # the server's work on it happens now, inside the measurement (records kept)
        return result

    ManagedTransaction.run = measured(lambda tx, query, *a, **k: "cypher: " + re.sub(r"\s+", " ", query.strip())[:80],
                                      statement)

    def lines(corpus: Any) -> Any:
        return (json.dumps(session) for session in corpus.sessions)

    importer.import_sessions(lines(generate(seed=99, clients=8, sessions_per_client=8, turns_per_session=30)), "warm")
    spent.clear()
    corpus = generate(seed=7, clients=20, sessions_per_client=12, turns_per_session=30)
    turns = sum(len(session["turns"]) for session in corpus.sessions)
    with Meter() as meter:
        report = importer.import_sessions(lines(corpus), "bench-profile")
    assert not report.errors and not report.pending, (report.errors[:3], report.pending)
    print(f"{turns} turns in {meter.wall:.1f} s ({turns / meter.wall:.0f} turns/s); CPU seconds per 1,000 turns: "
          f"Python {meter.python * 1000 / turns:.3f}, Neo4j {(meter.neo4j or 0) * 1000 / turns:.3f}")
    print("python  neo4j   (CPU s per 1,000 turns)")
    for label, (python, neo4j) in sorted(spent.items(), key=lambda item: -sum(item[1])):
        print(f"{python * 1000 / turns:6.3f} {neo4j * 1000 / turns:6.3f}   {label}")


if __name__ == "__main__":
    main()
