"""Facts over time: reading a slot's history and recording supersession.

A fact is never overwritten: when a newer statement fills the same slot, the older fact gets its
`valid_to` (when it stopped being true) and `superseded_at` (when we learned that), and the newer one
`SUPERSEDES` it. Reads pick the current fact, or the one believed at any earlier moment.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from memory.graph import driver
from memory.graph.changes import mark_client_of
from memory.graph.search import IN_VIEW
from memory.graph.values import epoch_micros, from_epoch_micros, native


@dataclass(frozen=True)
class FactVersion:
    """What supersession needs to know of one fact in a slot's history."""

    id: str
    scope: str
    slot: str
    value: str
    valid_from: datetime
    recorded_at: datetime


@dataclass(frozen=True)
class FactRow:
    """One fact as pages, the twin and digests read it."""

    id: str
    attribute: str
    slot: str
    value: str
    text: str
    valid_from: datetime
    valid_to: datetime | None
    recorded_at: datetime
    superseded_at: datetime | None
    importance: float
    source: str
    sources: list[str]  # the turn ids it was derived from
    supersedes: list[str]  # ids of the facts it replaced
    amount: float | None = None
    currency: str | None = None
    target_date: str | None = None


def slot_histories(tx: ManagedTransaction, pairs: list[dict[str, str]]) -> list[FactVersion]:
    """Every fact in the given (scope, slot) pairs, with what ordering needs.

    Facts withdrawn by a conversation rollback (memory/graph/rollback.py) or belonging to a corrected
    session version (memory/graph/session_versions.py) play no part: they no longer speak for the client
    and must not close a fact again after it was reopened.
    """
    if not pairs:
        return []
    result = tx.run(
        """
        UNWIND $pairs AS pair
        MATCH (f:Fact {scope: pair.scope, slot: pair.slot}) WHERE NOT coalesce(f.status, 'active') IN ['rolled_back', 'corrected']
        RETURN f.id AS id, f.scope AS scope, f.slot AS slot, f.value AS value,
               f.valid_from AS valid_from, f.recorded_at AS recorded_at
        """,
        pairs=pairs,
    )
    return [FactVersion(**native(record.data())) for record in result]


def apply_supersessions(
    tx: ManagedTransaction, closes: list[dict[str, Any]], links: list[dict[str, str]]
) -> None:
    """`closes`: {id, valid_to, superseded_at}; `links`: {newer, older}."""
    if closes:
        tx.run(
            """
            UNWIND $rows AS row
            MATCH (f:Memory {id: row.id})
            SET f.valid_to = row.valid_to, f.superseded_at = row.superseded_at
            """ + mark_client_of("f"),
            rows=closes,
        ).consume()
    if links:
        tx.run(
            """
            UNWIND $rows AS row
            MATCH (newer:Memory {id: row.newer}), (older:Memory {id: row.older})
            MERGE (newer)-[:SUPERSEDES]->(older)
            """,
            rows=links,
        ).consume()


_FACT_TIMES = ("valid_from", "valid_to", "recorded_at", "superseded_at")
# Every fact has a slot (what a newer statement supersedes by); `slot IS NOT NULL` lets the (scope, slot)
# index seek a scope's facts. Without it the planner read every fact of every scope and filtered them: 100 ms
# for a client's 15 facts on the firm research bench graph, whose firm holds 49k analyst viewpoints.


def facts_for_client(
    scopes: list[str], *, as_of: datetime | None = None, include_history: bool = False,
    known_at: datetime | None = None,
) -> list[FactRow]:
    """Facts readable in `scopes`: those believed at `as_of` (default now), or all with history; with
    `known_at`, those the twin itself knew then (memory/graph/search.py IN_VIEW: both clocks)."""

    def _read(tx: ManagedTransaction) -> list[FactRow]:
        result = tx.run(
            f"""
            MATCH (m:Fact) USING INDEX m:Fact(scope, slot) WHERE m.scope IN $scopes AND m.slot IS NOT NULL
              AND (($history AND m.status = 'active') OR (NOT $history AND {IN_VIEW}))
            WITH m AS f
            OPTIONAL MATCH (f)-[:DERIVED_FROM]->(t:Turn)
            OPTIONAL MATCH (f)-[:SUPERSEDES]->(older:Fact)
            WITH f, collect(DISTINCT t.turn_id) AS sources, collect(DISTINCT older.id) AS supersedes
            RETURN f.id AS id, f.attribute AS attribute, f.slot AS slot, f.value AS value, f.text AS text,
                   {epoch_micros("f.valid_from")} AS valid_from, {epoch_micros("f.valid_to")} AS valid_to,
                   {epoch_micros("f.recorded_at")} AS recorded_at,
                   {epoch_micros("f.superseded_at")} AS superseded_at, f.importance AS importance,
                   f.source AS source, f.amount AS amount, f.currency AS currency,
                   toString(f.target_date) AS target_date, sources, supersedes
            ORDER BY f.slot, f.valid_from
            """,
            scopes=scopes,
            as_of=as_of,
            known_at=known_at,
            superseded=False,
            history=include_history,
        )
        return [FactRow(**{**record.data(), **{name: from_epoch_micros(record[name]) for name in _FACT_TIMES}})
                for record in result]

    return driver.read(_read)


@dataclass(frozen=True)
class FactHistoryRow:
    """One version of a fact, whatever its status, for a record of everything memory held (exports)."""

    id: str
    slot: str
    value: str
    text: str
    status: str  # active | forgotten | corrected
    status_reason: str | None  # why it was forgotten or corrected
    source: str
    sources: list[str]  # the turn ids it was derived from
    supersedes: list[str]
    valid_from: datetime
    valid_to: datetime | None
    recorded_at: datetime
    superseded_at: datetime | None


def fact_history(scope: str, *, since: datetime | None = None, until: datetime | None = None) -> list[FactHistoryRow]:
    """Every fact of one scope recorded in [since, until], each version with its status and links."""

    def _read(tx: ManagedTransaction) -> list[FactHistoryRow]:
        result = tx.run(
            """
            MATCH (f:Fact) USING INDEX f:Fact(scope, slot) WHERE f.scope = $scope AND f.slot IS NOT NULL
              AND ($since IS NULL OR f.recorded_at >= $since) AND ($until IS NULL OR f.recorded_at <= $until)
            OPTIONAL MATCH (f)-[:DERIVED_FROM]->(t:Turn)
            OPTIONAL MATCH (f)-[:SUPERSEDES]->(older:Fact)
            WITH f, collect(DISTINCT t.turn_id) AS sources, collect(DISTINCT older.id) AS supersedes
            RETURN f.id AS id, f.slot AS slot, f.value AS value, f.text AS text, f.status AS status,
                   coalesce(f.corrected_reason, f.forgotten_reason) AS status_reason, f.source AS source,
                   sources, supersedes, f.valid_from AS valid_from, f.valid_to AS valid_to,
                   f.recorded_at AS recorded_at, f.superseded_at AS superseded_at
            ORDER BY f.slot, f.recorded_at, f.id
            """,
            scope=scope, since=since, until=until,
        )
        return [FactHistoryRow(**native(record.data())) for record in result]

    return driver.read(_read)
