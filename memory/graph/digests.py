"""Reads for research digests: quotes of held securities and the market-move memories of a period."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from neo4j import ManagedTransaction

from memory.graph import driver
from memory.graph.securities import move_link_id
from memory.graph.values import native


@dataclass(frozen=True)
class SecurityQuote:
    """A security's current quote as the last refresh stored it."""

    symbol: str
    price: float | None
    as_of: datetime | None
    status: str | None  # fresh | stale | unknown
    source: str | None
    error: str | None


@dataclass(frozen=True)
class MoveEvent:
    """A client's market move (written by `memory.graph.securities.record_move_events`): its id and text are the client's."""

    id: str
    symbol: str
    text: str
    move_percent: float
    recorded_at: datetime
    source: str | None


def security_quotes(symbols: list[str]) -> list[SecurityQuote]:
    """The stored quote of each of `symbols` that has a Security node (held names never discussed too)."""
    if not symbols:
        return []

    def _read(tx: ManagedTransaction) -> list[SecurityQuote]:
        result = tx.run(
            """
            UNWIND $symbols AS symbol
            MATCH (s:Security {symbol: symbol})
            RETURN s.symbol AS symbol, s.last_price AS price, s.last_price_as_of AS as_of,
                   s.quote_status AS status, s.quote_source AS source, s.quote_error AS error
            """,
            symbols=symbols,
        )
        return [SecurityQuote(**native(record.data())) for record in result]

    return driver.read(_read)


def market_move_events(scopes: list[str], since: datetime, until: datetime) -> list[MoveEvent]:
    """Active market-move memories readable in `scopes` recorded in (since, until], oldest first: a
    client's moves (their links to shared events, in their words; memory/graph/securities.py), and
    events written per client before moves were shared."""

    def _read(tx: ManagedTransaction) -> list[MoveEvent]:
        result = tx.run(
            """
            MATCH (c:Client)-[r:SAW_MOVE]->(e:Event)
            WHERE c.id IN $scopes AND e.recorded_at > $since AND e.recorded_at <= $until
              AND r.status = 'active' AND e.status = 'active'
            RETURN e.id AS event_id, c.id AS client_node, e.symbol AS symbol, r.text AS text,
                   r.move_percent AS move_percent, e.recorded_at AS recorded_at, e.source AS source
            UNION ALL
            MATCH (e:Memory)
            WHERE e.scope IN $scopes AND e.recorded_at > $since AND e.recorded_at <= $until
              AND e.kind = 'market_move' AND e.status = 'active'
            RETURN e.id AS event_id, null AS client_node, e.symbol AS symbol, e.text AS text,
                   e.move_percent AS move_percent, e.recorded_at AS recorded_at, e.source AS source
            """,
            scopes=scopes, since=since, until=until,
        )
        events = []
        for record in result:
            row = native(record.data())
            event_id, client_node = row.pop("event_id"), row.pop("client_node")
            events.append(MoveEvent(id=move_link_id(event_id, client_node) if client_node else event_id, **row))
        return sorted(events, key=lambda event: (event.recorded_at, event.id))

    return driver.read(_read)
