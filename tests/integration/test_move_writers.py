"""A cycle's move links written by several transactions at once (memory.graph.securities.record_move_events),
against the real Neo4j: one link per client and event, whatever runs beside it."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from memory.graph import driver as graph_driver
from memory.graph import securities as graph_securities
from memory.graph.driver import GraphUnavailable
from memory.scope import market_scope

SYMBOLS = [f"W{number}" for number in range(12)]
CLIENTS = [f"writers-client-{number}" for number in range(30)]
DENSE, SPARSE = CLIENTS[:20], CLIENTS[20:]
AS_OF = datetime(2026, 3, 2, 15, tzinfo=timezone.utc)
DAY = AS_OF.date().isoformat()


@pytest.fixture
def tracked(clean_graph):
    """Every client tracks every security, at 100.00 discussed on 1 March 2026; the first 20 clients
    also had 40 sessions, so Neo4j stores their nodes dense (52 relationships, over its threshold of 50)."""
    graph_driver.write(lambda tx: tx.run(
        """
        UNWIND $symbols AS symbol
        CREATE (:Entity:Security {symbol: symbol, id: 'security:' + symbol, kind: 'security', scope: 'global'})
        WITH collect(symbol) AS symbols
        UNWIND $clients AS client
        CREATE (c:Entity:Client {id: client, firm_id: 'acme', client_id: client, kind: 'client'})
        WITH c, symbols
        UNWIND symbols AS symbol
        MATCH (s:Security {symbol: symbol})
        CREATE (c)-[:TRACKS {last_price: 100.0, last_at: datetime('2026-03-01T10:00:00Z')}]->(s)
        """, symbols=SYMBOLS, clients=CLIENTS).consume())
    graph_driver.write(lambda tx: tx.run(
        """
        UNWIND $clients AS client
        MATCH (c:Client {id: client})
        UNWIND range(1, 40) AS number
        CREATE (:Session {id: client + '-session-' + toString(number)})-[:WITH_CLIENT]->(c)
        """, clients=DENSE).consume())
    assert graph_securities._sparse_clients(set(CLIENTS)) == set(SPARSE)


def moved(clients: list[str], price: float = 120.0) -> list[dict]:
    """What a refresh hands the writers: each security moved 20% for `clients`."""
    return [{"symbol": symbol, "price": price, "as_of": AS_OF, "source": "market:test", "day": DAY,
             "event_id": graph_securities.move_event_id(symbol, DAY), "text": f"{symbol} moved.",
             "embedding": [0.1] * 8,
             "links": [{"client_node": client, "text": f"{symbol} moved +20.0% for {client}.", "discussed_price": 100.0,
                        "discussed_on": "2026-03-01", "alerted_price": None, "move_percent": 20.0,
                        "drift_percent": 20.0, "threshold_percent": 5.0} for client in clients]}
            for symbol in SYMBOLS]


def write(securities: list[dict]) -> None:
    graph_securities.record_move_events(securities, AS_OF, importance=0.6, scope=market_scope())


def links() -> dict[tuple[str, str], list[str]]:
    """Each (client, event) pair's links' texts."""
    rows = graph_driver.read(lambda tx: tx.run(
        "MATCH (c:Client)-[r:SAW_MOVE]->(e:Event) RETURN c.id AS client, e.id AS event, collect(r.text) AS texts"
    ).data())
    return {(row["client"], row["event"]): sorted(row["texts"]) for row in rows}


def test_two_cycles_writing_the_same_days_moves_at_once_leave_one_link_per_client_and_event(tracked):
    """The day's events exist (the first clients' moves); two late cycles then add the other clients' at
    the same moment. A writer creates a link only after write-locking the client's TRACKS link and the
    event, and finding none."""
    write(moved(CLIENTS[:2]))
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def late_cycle() -> None:
        start.wait()
        try:
            write(moved(CLIENTS))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    cycles = [threading.Thread(target=late_cycle) for _ in range(2)]
    for cycle in cycles:
        cycle.start()
    for cycle in cycles:
        cycle.join()

    assert failures == []
    written = links()
    assert len(written) == len(CLIENTS) * len(SYMBOLS)
    assert [pair for pair, texts in written.items() if len(texts) != 1] == []
    assert written[("writers-client-7", f"market_move:W3:{DAY}")] == ["W3 moved +20.0% for writers-client-7."]
    alerts = graph_driver.read(lambda tx: tx.run(
        "MATCH (:Client)-[t:TRACKS]->(:Security) RETURN collect(DISTINCT t.alert_price) AS prices").single()["prices"])
    assert alerts == [120.0]


def test_every_security_is_written_by_one_writer_and_the_writers_share_the_links(tracked, monkeypatch):
    """Dense clients' links split among writers whole securities at a time, in transactions of at most
    their share; sparse clients' links are written first, by one writer (this thread)."""
    monkeypatch.setattr(graph_securities, "MOVE_LINKS_PER_TRANSACTION", 40)
    batches: list[tuple[str, list[str]]] = []
    write_batch = graph_driver.write

    def recording(work):  # noqa: ANN001, ANN202
        return write_batch(lambda tx: work(_Relay(tx, batches)))

    monkeypatch.setattr(graph_securities.driver, "write", recording)
    write(moved(DENSE[:10] + SPARSE[:2]))

    sparse_batches = [symbols for name, symbols in batches if name == threading.current_thread().name]
    assert [entry for symbols in sparse_batches for entry in symbols] == [f"{symbol}x2" for symbol in sorted(SYMBOLS)]
    assert batches[:len(sparse_batches)] == [(threading.current_thread().name, symbols) for symbols in sparse_batches]
    batches[:] = batches[len(sparse_batches):]
    writers = {name for name, _ in batches}
    assert len(writers) == 2 and all(name.startswith("move-writer") for name in writers)
    assert all(sum(int(entry.split("x")[1]) for entry in symbols) <= 20 for _, symbols in batches)
    by_writer = {name: {entry.split("x")[0] for writer, symbols in batches if writer == name for entry in symbols}
                 for name in writers}
    first, second = by_writer.values()
    assert first.isdisjoint(second) and first | second == set(SYMBOLS)
    assert len(first) == len(second) == 6
    assert len(links()) == 12 * len(SYMBOLS)


def test_a_writer_that_fails_leaves_the_others_links_written_its_own_to_the_next_cycle_and_raises(tracked, monkeypatch):
    """Neo4j refusing one writer's transaction: the other writer's securities are written, the failed
    ones keep their old alert reference (so the next refresh finds their moves again), and the cycle fails."""
    write_batch = graph_driver.write
    refused = "W0"

    def refusing(work):  # noqa: ANN001, ANN202
        def run(tx):  # noqa: ANN001, ANN202
            relay = _Relay(tx, [])
            work(relay)
            if any(entry.startswith(f"{refused}x") for _, entries in relay.batches for entry in entries):
                raise GraphUnavailable("Neo4j refused the write")
        return write_batch(run)

    monkeypatch.setattr(graph_securities.driver, "write", refusing)
    with pytest.raises(GraphUnavailable, match="refused"):
        write(moved(DENSE[:10]))

    monkeypatch.undo()
    alerted = graph_driver.read(lambda tx: {row["symbol"]: row["alerts"] for row in tx.run(
        "MATCH (:Client)-[t:TRACKS]->(s:Security) RETURN s.symbol AS symbol, collect(DISTINCT t.alert_price) AS alerts")})
    linked = {event.split(":")[1] for _, event in links()}
    refused_writer = {symbol for symbol in SYMBOLS if alerted[symbol] == []}
    assert refused in refused_writer and len(refused_writer) == 6  # the refused writer's share, whole
    assert linked == set(SYMBOLS) - refused_writer
    assert all(alerted[symbol] == [120.0] for symbol in linked)


class _Relay:
    """A transaction that notes which securities each statement writes, on which thread, then runs it."""

    def __init__(self, tx, batches: list) -> None:  # noqa: ANN001
        self.tx, self.batches = tx, batches

    def run(self, statement: str, **parameters):  # noqa: ANN003, ANN201
        self.batches.append((threading.current_thread().name,
                             [f"{s['symbol']}x{len(s['links'])}" for s in parameters["securities"]]))
        return self.tx.run(statement, **parameters)
