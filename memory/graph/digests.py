"""Reads for research digests: quotes of held securities and the market-move memories of a period."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from neo4j import ManagedTransaction

from memory.graph import driver
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
    """A market-move memory (written by `memory.graph.securities.record_move_events`) in a reader's scope."""

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
    """Active market-move memories readable in `scopes` recorded in (since, until], oldest first."""

    def _read(tx: ManagedTransaction) -> list[MoveEvent]:
        result = tx.run(
            """
            MATCH (e:Memory)
            WHERE e.scope IN $scopes AND e.recorded_at > $since AND e.recorded_at <= $until
              AND e.kind = 'market_move' AND e.status = 'active'
            RETURN e.id AS id, e.symbol AS symbol, e.text AS text, e.move_percent AS move_percent,
                   e.recorded_at AS recorded_at, e.source AS source
            ORDER BY e.recorded_at
            """,
            scopes=scopes, since=since, until=until,
        )
        return [MoveEvent(**native(record.data())) for record in result]

    return driver.read(_read)
