"""Quote refresh cycle time as remembered price mentions grow (provider latency excluded)."""
from __future__ import annotations

import statistics
from datetime import datetime, timedelta, timezone
from unittest import mock

from marketdata.providers.base import Quote, QuoteBatch
from marketdata.services.refresh import refresh_remembered_quotes
from memory.graph import driver as graph_driver
from memory.graph import schema
from tests.bench.cpu import Meter

SECURITIES = 500
CLIENTS = 2000
SECURITIES_PER_CLIENT = 20  # so 40,000 client-security pairs to check for significant moves


class InstantProvider:
    name = "bench"

    def __init__(self, as_of: datetime, level: float = 1.0) -> None:
        self.as_of = as_of
        self.level = level  # 1.25: every security 25% above its usual price

    def latest_quotes(self, symbols: list[str]) -> QuoteBatch:
        return QuoteBatch(quotes={
            s: Quote(s, round((100.0 + sum(map(ord, s)) % 50) * self.level, 2), "USD", self.as_of, self.name,
                     self.as_of.date())
            for s in symbols})


def _load(mentions: int, already: int) -> None:
    """Mentions in the shape ingestion writes them (PriceMention -PRICE_OF-> Security, Client -TRACKS->)."""
    graph_driver.write(lambda tx: tx.run(
        """
        UNWIND range(0, $securities - 1) AS i
        MERGE (s:Entity:Security {symbol: 'B' + toString(i)})
        ON CREATE SET s.id = 'security:B' + toString(i), s.kind = 'security', s.key = 'B' + toString(i), s.scope = 'global'
        """, securities=SECURITIES).consume())
    graph_driver.write(lambda tx: tx.run(
        """
        UNWIND range(0, $clients - 1) AS c
        MERGE (client:Entity:Client {id: 'bench-client-' + toString(c)})
        ON CREATE SET client.firm_id = 'bench', client.client_id = 'b' + toString(c), client.kind = 'client'
        """, clients=CLIENTS).consume())
    step = 20_000
    for start in range(already, mentions, step):
        graph_driver.write(lambda tx, start=start: tx.run(
            """
            UNWIND range($start, $end - 1) AS i
            WITH i, i % $clients AS c
            WITH i, 'bench-client-' + toString(c) AS client,
                 'B' + toString((c * 7 + (i / $clients) % $per_client) % $securities) AS symbol
            MATCH (s:Security {symbol: symbol}), (c:Client {id: client})
            CREATE (m:Memory:PriceMention {id: 'bench-price-' + toString(i), level: 'observation', kind: 'price_mention',
                    symbol: symbol, price: 80.0 + (i % 40), currency: 'USD', mentioned_at: datetime('2024-01-01T00:00:00Z'),
                    scope: client, status: 'active', text: 'bench'})
            CREATE (m)-[:PRICE_OF]->(s)
            MERGE (c)-[t:TRACKS]->(s)
            ON CREATE SET t.last_price = 80.0 + (i % 40), t.last_at = datetime('2024-01-01T00:00:00Z')
            """, start=start, end=min(start + step, mentions), securities=SECURITIES, clients=CLIENTS,
                per_client=SECURITIES_PER_CLIENT).consume())


def _moves_written() -> tuple[int, int]:
    """(market-move event nodes, clients' links to them): what a cycle creates."""
    return graph_driver.read(lambda tx: tuple(tx.run(
        "RETURN COUNT { (e:Event {kind: 'market_move'}) } AS events, COUNT { ()-[:SAW_MOVE]->() } AS links").single()))


def refresh_cycle_run(mention_counts: tuple[int, ...]) -> tuple[list[dict], list[dict]]:
    """The cycle times per mention count, and the all-moved cycle with and without the vector index."""
    rows = []
    loaded = 0
    as_of = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for count in mention_counts:
        _load(count, loaded)
        loaded = count
        as_of += timedelta(days=1)
        refresh_remembered_quotes(provider=InstantProvider(as_of))  # warm-up cycle (and first alerts)
        timings = []
        # A quiet cycle; one where every remembered security jumped 25% on the next trading day (an event
        # is one per security and day, a link one per client and event, so only a new day makes every
        # pair a new link); and one later that day where all fell back (every pair moves again, its link
        # for the day exists).
        for level, step in ((1.0, timedelta(minutes=1)), (1.25, timedelta(days=1)), (1.0, timedelta(minutes=1))):
            as_of += step
            before = _moves_written()
            with Meter() as meter:
                report = refresh_remembered_quotes(provider=InstantProvider(as_of, level))
            after = _moves_written()
            timings.append((meter, report, (after[0] - before[0], after[1] - before[1])))
        pairs = graph_driver.read(lambda tx: tx.run("MATCH ()-[t:TRACKS]->() RETURN count(t) AS n").single()["n"])
        (quiet, quiet_report, _), (moved, moved_report, created), (again, again_report, _) = timings
        rows.append({"price_mentions": count, "securities": quiet_report.requested, "tracked_pairs": pairs,
                     "quiet_cycle_seconds": round(quiet.wall, 2), "all_moved_cycle_seconds": round(moved.wall, 2),
                     "all_moved_neo4j_cpu_seconds": round(moved.neo4j or 0.0, 2),
                     "all_moved_python_cpu_seconds": round(moved.python, 2),
                     "client_moves_when_all_moved": moved_report.events, "events_created": created[0],
                     "links_created": created[1], "moved_again_same_day_seconds": round(again.wall, 2),
                     "moves_again": again_report.events})
    return rows, vector_index_write_cost(as_of)


def vector_index_write_cost(as_of: datetime, rounds: int = 3) -> list[dict]:
    """The all-moved cycle (500 new shared events, each embedded, and 40,000 clients' links to them)
    without and with the vector index.

    Paths alternate round by round on the same graph, so both see the same data and machine load:
    `scan` drops the index as `graph_migrate` does on Neo4j 5.x, `index` rebuilds it (not timed).
    """
    seconds: dict[str, list[float]] = {"scan": [], "index": []}
    neo4j_cpu: dict[str, list[float]] = {"scan": [], "index": []}
    created: dict[str, list[tuple[int, int]]] = {"scan": [], "index": []}
    for number in range(rounds * 2):
        path = ("scan", "index")[number % 2]
        with mock.patch.object(schema, "filtered_vector_search", return_value=path == "index"):
            schema.migrate()
        as_of += timedelta(days=1)
        before = _moves_written()
        with Meter() as meter:
            refresh_remembered_quotes(provider=InstantProvider(as_of, 1.25))
        seconds[path].append(meter.wall)
        neo4j_cpu[path].append(meter.neo4j or 0.0)
        after = _moves_written()
        created[path].append((after[0] - before[0], after[1] - before[1]))
        as_of += timedelta(minutes=1)
        refresh_remembered_quotes(provider=InstantProvider(as_of, 1.0))  # back down, so the next day moves again
    schema.migrate()
    return [{"vector_path": path, "rounds": rounds, "events_created_per_round": min(e for e, _ in created[path]),
             "links_created_per_round": min(link for _, link in created[path]),
             "all_moved_cycle_seconds": " / ".join(f"{s:.2f}" for s in seconds[path]),
             "median_seconds": round(statistics.median(seconds[path]), 2),
             "neo4j_cpu_seconds": " / ".join(f"{s:.2f}" for s in neo4j_cpu[path]),
             "median_neo4j_cpu_seconds": round(statistics.median(neo4j_cpu[path]), 2)} for path in ("scan", "index")]
