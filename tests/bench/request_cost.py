"""What one request costs: Neo4j round trips, SQL queries and CPU time, per endpoint, counted in-process.

    NEO4J_URI=bolt://127.0.0.1:PORT DATABASE_URL=sqlite:///var/cost.sqlite3 NEO4J_LOCAL_NAME=neo4j-test \
        .venv/bin/python -m tests.bench.request_cost --i-understand-this-empties-the-graph

(or `make bench BENCH_ARGS="--cost ..."`). It empties the graph and the database, seeds one client the
twin's integration tests use (tests/integration/twin_seed.py: a full profile, three held securities with
quotes, a remembered price, an analyst view) plus memory grown through the import path, then sends each
request through Django's test client (the whole middleware stack, no network) `--rounds` times after a
warm-up: the client page (advisor), the chat page, a chat message and the JSON ask (client), and the
twin's ask and brief called directly. Per request it prints the Neo4j round trips (driver.read/write
calls, tests/graph_calls.py), the SQL queries, this process's CPU ms and the local Neo4j's CPU ms
(tests/bench/cpu.py; set NEO4J_LOCAL_NAME to the server's name under var/run, none for an external one).
Counts do not depend on the machine; CPU ms do a little, wall-clock times a lot (not reported).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

QUESTIONS = ("How is my Apple position doing?", "Am I taking too much risk?", "When can I buy the house?",
             "What did I say about tobacco?")


@dataclass(frozen=True)
class Cost:
    endpoint: str
    graph_reads: float
    graph_writes: float
    sql_queries: float
    cpu_ms: float
    neo4j_cpu_ms: float | None
    neo4j_jit_ms: float | None  # of neo4j_cpu_ms: the JVM compiling hot code (tests/bench/cpu.py)


def measure(endpoint: str, call: Callable[[int], Any], rounds: int, warm_up: int = 3) -> Cost:
    """Median counts and Python CPU, mean Neo4j CPU, per call of `call(round)`; every call must succeed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.bench.cpu import Meter
    from tests.graph_calls import count_graph_calls

    for number in range(warm_up):
        call(number)
    reads, writes, queries, cpu, neo4j, jit = [], [], [], [], [], []
    for number in range(warm_up, warm_up + rounds):
        # Django keeps the last 9,000 queries: once that log is full, CaptureQueriesContext counts none.
        connection.queries_log.clear()
        with Meter() as meter, count_graph_calls() as graph, CaptureQueriesContext(connection) as sql:
            call(number)
        cpu.append(1000 * meter.python)
        if meter.neo4j is not None:
            neo4j.append(1000 * meter.neo4j)
        if meter.jit is not None:
            jit.append(1000 * meter.jit)
        reads.append(graph.reads)
        writes.append(graph.writes)
        queries.append(len(sql.captured_queries))
    # Neo4j's CPU comes from /proc in 10 ms ticks: its mean over the rounds, not a median of ticks.
    return Cost(endpoint, statistics.median(reads), statistics.median(writes), statistics.median(queries),
                round(statistics.median(cpu), 1), round(statistics.fmean(neo4j), 1) if neo4j else None,
                round(statistics.fmean(jit), 1) if jit else None)


def seed() -> dict[str, Any]:
    """Ann (tests/integration/twin_seed.py) with a client login, and 4 imported sessions of memory."""
    import json

    from advisor.models import User
    from advisor.services.importer import import_sessions
    from tests.bench.corpus import generate
    from tests.integration.twin_seed import seed_ann

    client = seed_ann()
    corpus = generate(seed=23, clients=1, sessions_per_client=4, turns_per_session=16, id_prefix="cost")
    sessions = []
    for session in corpus.sessions:  # grow Ann's own memory, as a year of meetings would
        session = dict(session, client_id=client.external_id)
        sessions.append(json.dumps(session))
    report = import_sessions(sessions, client.firm.slug)
    if report.errors or report.pending:
        raise RuntimeError(f"seeding failed: {report.errors[:3]}, {report.pending} pending")
    user = User.objects.create_user("ann-cost", password="cost-password-2026", role=User.Role.CLIENT, firm=client.firm)
    client.user = user
    client.save(update_fields=["user"])
    return {"client": client, "advisor": client.advisor, "user": user}


def run(*, rounds: int = 20) -> list[Cost]:
    from django.test import Client as HttpClient

    from twin.services import advice

    people = seed()
    client, advisor, user = people["client"], people["advisor"], people["user"]
    as_advisor, as_client = HttpClient(), HttpClient()
    as_advisor.force_login(advisor)
    as_client.force_login(user)
    path = client.external_id

    def ok(response: Any, *statuses: int) -> None:
        if response.status_code not in (statuses or (200,)):
            raise RuntimeError(f"{response.request['PATH_INFO']} answered {response.status_code}")

    def question(number: int) -> str:
        return QUESTIONS[number % len(QUESTIONS)]

    calls: list[tuple[str, Callable[[int], Any]]] = [
        ("GET /clients/<id>/ (client page)", lambda n: ok(as_advisor.get(f"/clients/{path}/"))),
        ("GET /chat/<id>/ (chat page)", lambda n: ok(as_client.get(f"/chat/{path}/"))),
        ("POST /chat/<id>/say", lambda n: ok(as_client.post(f"/chat/{path}/say", {"text": question(n)}), 302)),
        ("POST /api/clients/<id>/ask", lambda n: ok(as_client.post(
            f"/api/clients/{path}/ask", {"question": question(n)}, content_type="application/json"), 201)),
        ("twin ask (twin.services.advice.ask)", lambda n: advice.ask(client=client, question=question(n),
                                                                      actor=advisor)),
        ("twin brief (twin.services.advice.brief)", lambda n: advice.brief(client=client, actor=advisor)),
    ]
    return [measure(name, call, rounds) for name, call in calls]


def report_body(costs: list[Cost], rounds: int) -> str:
    from tests.bench.report import table

    rows = [{"request": c.endpoint, "neo4j_round_trips": f"{c.graph_reads:g} reads + {c.graph_writes:g} writes",
             "sql_queries": f"{c.sql_queries:g}", "python_cpu_ms": c.cpu_ms,
             "neo4j_cpu_ms": "" if c.neo4j_cpu_ms is None else c.neo4j_cpu_ms,
             "of_which_jit_ms": "" if c.neo4j_jit_ms is None else c.neo4j_jit_ms} for c in costs]
    return (f"{rounds} requests each after 3 warm-up ones, in one process (Django's test client, SQLite): Neo4j "
            "round trips are `memory.graph.driver` read/write calls; medians of the counts and of this process's "
            "CPU ms, the mean of the local Neo4j's CPU ms (/proc counts it in 10 ms ticks) and, of it, the ms its JVM "
            "spent compiling hot code (`of_which_jit_ms`: high on a server that has not yet run these requests "
            "for long, near 0 on a warm one).\n\n"
            + table(rows, ["request", "neo4j_round_trips", "sql_queries", "python_cpu_ms", "neo4j_cpu_ms",
                           "of_which_jit_ms"]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--i-understand-this-empties-the-graph", dest="force", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    if not args.force:
        sys.exit("this empties the graph and the database it runs against: pass --i-understand-this-empties-the-graph")
    call_command("migrate", "--noinput", verbosity=0)
    call_command("flush", "--noinput", verbosity=0)
    from memory.graph import schema
    from tests.conftest import empty_graph

    empty_graph()
    schema.migrate()
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    print(report_body(run(rounds=args.rounds), args.rounds))


if __name__ == "__main__":
    main()
