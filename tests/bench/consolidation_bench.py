"""Hourly consolidation, full against incremental: clients read, graph transactions and CPU seconds.

    NEO4J_URI=bolt://127.0.0.1:7721 NEO4J_LOCAL_NAME=neo4j-test DATABASE_URL=sqlite:///var/bench-db.sqlite3 \\
      python -m tests.bench.consolidation_bench --clients 20 --changed 2 --i-understand-this-empties-the-graph

Loads N clients of the firm-scale shape with the bulk loader (`tests/bench/bulk_load.py`: about 915
memories each, written by ingestion's own `write_batch`), consolidates every one once, then measures
three hourly runs (`memory.services.consolidation.consolidate`):

- `nothing changed`: the incremental run with no write since;
- `full, K changed`: K clients are each given a note through `memory.api.remember` (a real write path,
  which marks the client), then a full pass (`full=True`, every client read, as before the marker);
- `incremental, K changed`: the same K clients each get another note, then the incremental run.

CPU seconds of this process and of the local Neo4j (tests/bench/cpu.py; the Neo4j figure needs the server's
pid file: `NEO4J_LOCAL_NAME`), and graph transactions (tests/graph_calls.py), never wall time: the machine
is shared. It empties the graph first, so it runs only when told it may.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

FIRM = "bench-consolidation"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20, help="clients loaded (N)")
    parser.add_argument("--changed", type=int, default=2, help="clients changed before each measured run (K)")
    parser.add_argument("--i-understand-this-empties-the-graph", dest="force", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from memory import api
    from memory.graph import schema
    from memory.services.consolidation import consolidate
    from tests.bench import bulk_load
    from tests.bench.cpu import Meter
    from tests.conftest import empty_graph
    from tests.graph_calls import count_graph_calls

    if not args.force:
        sys.exit(f"this empties the graph of {settings.NEO4J_URI}: pass --i-understand-this-empties-the-graph")
    empty_graph()
    schema.migrate()
    call_command("migrate", "--noinput", verbosity=0)  # notes are audited in the relational database
    loaded = bulk_load.load(shape="clients", firm_id=FIRM, target=args.clients * 915)
    client_ids = sorted({question["client_id"] for question in loaded.questions})
    consolidate(firm_id=FIRM)  # every client consolidated once: the steady state of the hourly run
    changed = client_ids[:args.changed]

    def change(round_: int) -> None:
        for client_id in changed:
            api.remember(firm_id=FIRM, client_id=client_id, text=f"Asked for a call back ({round_}).",
                         source="bench")

    runs = []
    for label, before, full in (("nothing changed", None, False), (f"full, {len(changed)} changed", 1, True),
                                (f"incremental, {len(changed)} changed", 2, False)):
        if before is not None:
            change(before)
        with count_graph_calls() as calls, Meter() as meter:
            report = consolidate(firm_id=FIRM, full=full)
        runs.append({"run": label, "clients_read": report.clients, "skipped": report.skipped,
                     "graph_transactions": calls.total,
                     "neo4j_cpu_s": round(meter.neo4j, 2) if meter.neo4j is not None else None,
                     "python_cpu_s": round(meter.python, 2)})
    print(json.dumps({"clients": len(client_ids), "memories": loaded.memories, "changed": len(changed),
                      "runs": runs}), flush=True)


if __name__ == "__main__":
    main()
