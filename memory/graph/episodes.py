"""Writing episodes into the graph: sessions, turns and everything derived from them.

One `write_batch` call is one managed write transaction: a batch of sessions lands in the graph
whole or not at all. Every statement is an `UNWIND` over parameters and every node is `MERGE`d on
our stable id, so writing the same batch twice changes nothing.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from memory.graph import driver
from memory.graph.changes import RAISE_CLIENT_VERSION
from memory.graph.values import Rows

# Labels are chosen from these fixed names, never from input, so they can be part of the query text.
# A viewpoint is also a Fact, so supersession treats a newer view on the same security like any fact.
MEMORY_LABELS = {"Turn": "Turn", "Observation": "Observation", "Event": "Event", "Fact": "Fact",
                 "PriceMention": "PriceMention", "Viewpoint": "Fact:Viewpoint"}
ENTITY_LABELS = {"goal": "Goal", "topic": "Topic", "person": "Person", "sector": "Sector"}
# Date-times cross the wire as [epoch seconds, nanoseconds] and become DateTimes in Cypher: the driver
# packs two integers far faster than it converts a datetime (~100 µs each, measured at half of an
# import's graph-write time).
MEMORY_TIMES = ("created_at", "valid_from", "recorded_at", "mentioned_at")
SESSION_TIMES = ("started_at",)


def instant(value: datetime | None) -> list[int] | None:
    """An aware datetime as [epoch seconds, nanoseconds] (see `_datetime` for the way back)."""
    if value is None:
        return None
    return [calendar.timegm(value.utctimetuple()), value.microsecond * 1000]


def _datetime(expression: str) -> str:
    return (f"CASE WHEN {expression} IS NULL THEN null "
            f"ELSE datetime({{epochSeconds: {expression}[0], nanosecond: {expression}[1]}}) END")


def _set_times(variable: str, keys: tuple[str, ...]) -> str:
    return ", ".join(f"{variable}.{key} = {_datetime(f'row.times.{key}')}" for key in keys)


def _with_times(memory_id: str, props: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The row for one node; its date-times move out of `props` (in place: the embedding is added to
    the same dict later) into `times`."""
    times = {key: instant(props.pop(key)) for key in keys if key in props}
    stray = [key for key, value in props.items() if isinstance(value, datetime)]
    if stray:
        raise ValueError(f"date-time properties {stray} must be listed in MEMORY_TIMES or SESSION_TIMES")
    return {"id": memory_id, "props": props, "times": times}


@dataclass
class GraphBatch:
    """Everything one drain of the outbox writes, as plain parameter rows."""

    sessions: list[dict[str, Any]] = field(default_factory=list)  # {id, client, props, times}
    clients: list[dict[str, Any]] = field(default_factory=list)
    turns: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # session -> turn id -> row, in order
    memories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # label -> [{id, props, times}]
    entities: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # label -> [{id, props}]
    securities: list[dict[str, Any]] = field(default_factory=list)  # {symbol, name, sector}
    derived_from: list[dict[str, str]] = field(default_factory=list)  # {memory, turn}
    about: list[dict[str, str]] = field(default_factory=list)  # {memory, entity}
    about_security: list[dict[str, str]] = field(default_factory=list)  # {memory, symbol}
    mentions: list[dict[str, str]] = field(default_factory=list)  # {turn, entity}
    mentions_security: list[dict[str, str]] = field(default_factory=list)  # {turn, symbol}
    price_of: list[dict[str, str]] = field(default_factory=list)  # {memory, symbol}
    tracks: list[dict[str, Any]] = field(default_factory=list)  # {client, symbol, price, times: {at}}
    viewpoint_on: list[dict[str, str]] = field(default_factory=list)  # {memory, symbol}

    def is_empty(self) -> bool:
        return not any(getattr(self, column.name) for column in fields(self))

    def add_memory(self, label: str, memory_id: str, props: dict[str, Any]) -> None:
        if label not in MEMORY_LABELS:
            raise ValueError(f"unknown memory label {label!r}")
        self.memories.setdefault(label, []).append(_with_times(memory_id, props, MEMORY_TIMES))

    def add_session(self, session_id: str, client: str, props: dict[str, Any]) -> None:
        self.sessions.append({**_with_times(session_id, props, SESSION_TIMES), "client": client})

    def add_turn(self, session_id: str, turn_id: str, props: dict[str, Any]) -> None:
        """The session's next turn (call in speaking order): `HAS_TURN` from the session, `NEXT` from the turn
        before. A turn already added (the same session twice in one batch) keeps its place."""
        rows = self.turns.setdefault(session_id, {})
        if turn_id not in rows:
            rows[turn_id] = _with_times(turn_id, props, MEMORY_TIMES)

    def add_tracking(self, client: str, symbol: str, price: float, at: datetime) -> None:
        """The price a client discussed, and when: what drift and market-move alerts compare to."""
        self.tracks.append({"client": client, "symbol": symbol, "price": price, "times": {"at": instant(at)}})

    def add_entity(self, kind: str, entity_id: str, props: dict[str, Any]) -> None:
        self.entities.setdefault(ENTITY_LABELS[kind], []).append({"id": entity_id, "props": props})


# Everyone in the sessions of client `c`, read from the sessions: what `c.people` keeps (write_batch).
SESSION_PEOPLE = """COLLECT { MATCH (s:Session)-[:WITH_CLIENT]->(c) UNWIND s.participants AS name
                              RETURN DISTINCT name }"""


def write_batch(tx: ManagedTransaction, batch: GraphBatch) -> None:
    # The batch's clients are write-locked first, in id order (no deadlock between two batches): a
    # batch that reads a client's fact slots to plan supersession sees what another drain wrote for the
    # same client, whichever worker drains which record. Raising their memory version takes the lock and
    # makes them due for consolidation (memory/graph/changes.py): this transaction changes their memory.
    tx.run(
        """
        UNWIND $rows AS row
        MERGE (c:Entity:Client {id: row.id})
        ON CREATE SET c += row.props
        """ + RAISE_CLIENT_VERSION,
        rows=Rows(sorted(batch.clients, key=lambda row: row["id"])),
    ).consume()
    tx.run(
        """
        UNWIND $rows AS row
        MERGE (s:Session {id: row.id})
        ON CREATE SET s += row.props, """ + _set_times("s", SESSION_TIMES) + """
        WITH s, row
        MATCH (c:Client {id: row.client})
        MERGE (s)-[:WITH_CLIENT]->(c)
        """,
        rows=Rows(batch.sessions),
    ).consume()
    # Everyone in a client's sessions, on the client (`people`): a search sets their names aside without
    # reading every session of a client of many years. Filled from the sessions already there the first time.
    people: dict[str, set[str]] = {}
    for session in batch.sessions:
        people.setdefault(session["client"], set()).update(session["props"].get("participants") or [])
    tx.run(
        """
        UNWIND $rows AS row
        MATCH (c:Client {id: row.client})
        WITH c, row, CASE WHEN c.people IS NULL THEN """ + SESSION_PEOPLE + """ ELSE c.people END AS known
        SET c.people = known + [name IN row.names WHERE NOT name IN known]
        """,
        rows=Rows([{"client": client, "names": sorted(names)} for client, names in sorted(people.items())]),
    ).consume()
    # Sectors and securities are shared by every client, so two drains may create the same new ones at
    # once. Each MERGE takes the lock of its index entry, so they are MERGEd in one order, sectors and
    # then securities, each sorted by key: two drains that both create a sector and a security wait for
    # each other in turn instead of deadlocking (seen on new graphs, about one retry of ~1 s per ten imports).
    tx.run(
        """
        UNWIND $rows AS row
        MERGE (sector:Entity:Sector {id: row.id})
        ON CREATE SET sector.kind = 'sector', sector += row.props
        """,
        rows=Rows(_sectors(batch)),
    ).consume()
    tx.run(
        """
        UNWIND $rows AS row
        MERGE (s:Entity:Security {symbol: row.symbol})
        ON CREATE SET s.id = 'security:' + row.symbol, s.kind = 'security', s.key = row.symbol,
                      s.name = row.name, s.scope = 'global', s.quote_status = 'unknown'
        WITH s, row WHERE row.sector_id IS NOT NULL
        MATCH (sector:Sector {id: row.sector_id})
        MERGE (s)-[:IN_SECTOR]->(sector)
        """,
        rows=Rows([{**row, "sector_id": sector_id(row["sector"]) if row["sector"] else None}
                   for row in sorted(batch.securities, key=lambda row: row["symbol"])]),
    ).consume()
    for label, rows in batch.entities.items():
        if label == ENTITY_LABELS["sector"]:
            continue  # written with the securities' sectors above
        tx.run(
            f"UNWIND $rows AS row MERGE (e:Entity {{id: row.id}}) ON CREATE SET e:{label}, e += row.props",
            rows=Rows(rows),
        ).consume()
    _write_turns(tx, batch.turns)
    for label, rows in batch.memories.items():
        tx.run(
            f"UNWIND $rows AS row MERGE (m:Memory {{id: row.id}}) "
            f"ON CREATE SET m:{MEMORY_LABELS[label]}, m += row.props, {_set_times('m', MEMORY_TIMES)}",
            rows=Rows(rows),
        ).consume()
    _link(tx, "MATCH (a:Memory {id: row.memory}), (b:Memory {id: row.turn}) MERGE (a)-[:DERIVED_FROM]->(b)", batch.derived_from)
    _link(tx, "MATCH (a:Memory {id: row.memory}), (b:Entity {id: row.entity}) MERGE (a)-[:ABOUT]->(b)", batch.about)
    _link(tx, "MATCH (a:Memory {id: row.memory}), (b:Security {symbol: row.symbol}) MERGE (a)-[:ABOUT]->(b)", batch.about_security)
    _link(tx, "MATCH (a:Memory {id: row.turn}), (b:Entity {id: row.entity}) MERGE (a)-[:MENTIONS]->(b)", batch.mentions)
    _link(tx, "MATCH (a:Memory {id: row.turn}), (b:Security {symbol: row.symbol}) MERGE (a)-[:MENTIONS]->(b)", batch.mentions_security)
    _link(tx, "MATCH (a:Memory {id: row.memory}), (b:Security {symbol: row.symbol}) MERGE (a)-[:PRICE_OF]->(b)", batch.price_of)
    _link(tx, "MATCH (a:Memory {id: row.memory}), (b:Security {symbol: row.symbol}) MERGE (a)-[:ON]->(b)", batch.viewpoint_on)
    # The price a client last discussed, per security: what market-move alerts and drift compare to.
    _link(
        tx,
        """
        MATCH (c:Client {id: row.client}), (s:Security {symbol: row.symbol})
        MERGE (c)-[t:TRACKS]->(s)
        WITH t, row, """ + _datetime("row.times.at") + """ AS at
        SET t += CASE WHEN t.last_at IS NULL OR at >= t.last_at THEN {last_price: row.price, last_at: at} ELSE {} END
        """,
        batch.tracks,
    )


def sector_id(name: str) -> str:
    """The id of a sector's node: one per sector, shared by every firm ("Technology" -> "sector:technology")."""
    return f"sector:{name.lower()}"


def _sectors(batch: GraphBatch) -> list[dict[str, Any]]:
    """The batch's sectors, by id: those its securities are in and those its sessions name."""
    sectors = {sector_id(row["sector"]): {"key": row["sector"].lower(), "name": row["sector"], "scope": "global"}
               for row in batch.securities if row["sector"]}
    for row in batch.entities.get(ENTITY_LABELS["sector"], ()):
        sectors.setdefault(row["id"], {key: value for key, value in row["props"].items() if key != "kind"})
    return [{"id": sector_id, "props": props} for sector_id, props in sorted(sectors.items())]


def _write_turns(tx: ManagedTransaction, turns: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Each session's turns with their `HAS_TURN` and `NEXT` links in one statement: a turn is linked
    through the node its MERGE holds, not found again by id (two index seeks per link, about a tenth
    of an import's Neo4j CPU). `collect` keeps the order the rows are sorted in (by position)."""
    if not turns:
        return
    tx.run(
        """
        UNWIND $sessions AS session
        MATCH (s:Session {id: session.id})
        UNWIND range(0, size(session.turns) - 1) AS position
        WITH s, position, session.turns[position] AS row
        MERGE (m:Memory {id: row.id})
        ON CREATE SET m:Turn, m += row.props, """ + _set_times("m", MEMORY_TIMES) + """
        MERGE (s)-[:HAS_TURN]->(m)
        WITH s, position, m ORDER BY position
        WITH s, collect(m) AS turns
        UNWIND range(1, size(turns) - 1) AS next
        WITH turns[next - 1] AS previous, turns[next] AS turn
        MERGE (previous)-[:NEXT]->(turn)
        """,
        sessions=Rows([{"id": session, "turns": list(rows.values())} for session, rows in turns.items()]),
    ).consume()


def _link(tx: ManagedTransaction, statement: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        tx.run("UNWIND $rows AS row " + statement, rows=Rows(rows)).consume()


def fill_client_people(batch: int = 1000) -> int:
    """Give `people` to clients written before it was kept (graph migration). Returns how many were filled."""

    def _fill(tx: ManagedTransaction) -> int:
        return tx.run(
            """
            MATCH (c:Client) WHERE c.people IS NULL
            WITH c LIMIT $batch
            SET c.people = """ + SESSION_PEOPLE + """
            RETURN count(c) AS filled
            """,
            batch=batch,
        ).single()["filled"]

    filled = 0
    while found := driver.write(_fill):
        filled += found
    return filled
