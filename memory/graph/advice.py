"""Reads the twin needs when it advises: live quotes of held securities and the turns behind memories.

Both are plain reads in managed transactions; the twin never writes Cypher of its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from neo4j import ManagedTransaction

from memory.graph import driver
from memory.graph.values import epoch_micros, from_epoch_micros


@dataclass(frozen=True)
class SecurityQuote:
    symbol: str
    price: float | None
    as_of: datetime | None
    source: str | None
    status: str  # "fresh" | "stale" | "unknown"
    error: str | None


def security_quotes(symbols: list[str]) -> dict[str, SecurityQuote]:
    """The last quote stored on each security node (the quote refresh keeps them current)."""
    if not symbols:
        return {}

    def _read(tx: ManagedTransaction) -> dict[str, SecurityQuote]:
        result = tx.run(
            f"""
            UNWIND $symbols AS symbol
            MATCH (s:Security {{symbol: symbol}})
            RETURN s.symbol AS symbol, s.last_price AS price, {epoch_micros("s.last_price_as_of")} AS as_of,
                   s.quote_source AS source, coalesce(s.quote_status, 'unknown') AS status, s.quote_error AS error
            """,
            symbols=symbols,
        )
        return {
            r["symbol"]: SecurityQuote(r["symbol"], r["price"], from_epoch_micros(r["as_of"]), r["source"], r["status"], r["error"])
            for r in result
        }

    return driver.read(_read)


def memory_sources(memory_ids: list[str], scopes: list[str]) -> dict[str, list[str]]:
    """Turn ids each readable memory was derived from, in turn order."""
    if not memory_ids:
        return {}

    def _read(tx: ManagedTransaction) -> dict[str, list[str]]:
        result = tx.run(
            """
            UNWIND $ids AS memory_id
            MATCH (m:Memory {id: memory_id}) WHERE m.scope IN $scopes
            OPTIONAL MATCH (m)-[:DERIVED_FROM]->(t:Turn)
            WITH m, t ORDER BY t.turn_id
            RETURN m.id AS id, [turn IN collect(t.turn_id) WHERE turn IS NOT NULL] AS sources
            """,
            ids=memory_ids, scopes=scopes,
        )
        return {r["id"]: list(r["sources"]) for r in result}

    return driver.read(_read)
