"""Rolling memory back to an earlier point of a conversation, auditably.

The memories derived from withdrawn sessions are not deleted: they get `status = 'rolled_back'`
(which every read already excludes, since reads keep `status = 'active'`) and a `(:Rollback)` node
records who withdrew them, when and why, linked by `WITHDREW`. Facts that a withdrawn fact had
closed are opened again; the closing they lose is kept on the `REOPENED` relationship, so the audit
can say what the twin believed before and after. Every function here runs inside the caller's managed
write transaction, so a rollback lands whole or not at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from neo4j import ManagedTransaction

from memory.graph import driver
from memory.graph.changes import mark_clients
from memory.graph.values import native


@dataclass(frozen=True)
class WithdrawnMemory:
    id: str
    level: str
    slot: str | None  # set for facts: the slots whose supersession must be planned again
    symbol: str | None  # set for price mentions: the client's tracked price may change


@dataclass(frozen=True)
class StandingFact:
    id: str
    slot: str
    value: str
    valid_from: datetime
    recorded_at: datetime
    valid_to: datetime | None
    superseded_at: datetime | None


@dataclass(frozen=True)
class RollbackRecord:
    id: str
    actor: str
    reason: str
    at: datetime
    withdrawn: int
    reopened: int


def withdraw_sessions(
    tx: ManagedTransaction, *, rollback_id: str, scope: str, session_ids: list[str], actor: str, reason: str,
    at: datetime,
) -> list[WithdrawnMemory]:
    """Mark every active memory derived from `session_ids` (in `scope` only) as rolled back.

    Idempotent: running it again with the same `rollback_id` withdraws only what was ingested since.
    """
    mark_clients(tx, [scope])  # first: the client's lock before its memories', as ingestion takes them
    tx.run(
        """
        MERGE (r:Rollback {id: $id})
        ON CREATE SET r.scope = $scope, r.actor = $actor, r.reason = $reason, r.at = $at, r.session_ids = $sessions
        """,
        id=rollback_id, scope=scope, actor=actor, reason=reason, at=at, sessions=session_ids,
    ).consume()
    result = tx.run(
        """
        MATCH (r:Rollback {id: $id})
        UNWIND $sessions AS session_id
        MATCH (m:Memory {scope: $scope, session_id: session_id}) WHERE m.status = 'active'
        SET m.status = 'rolled_back', m.rolled_back_at = $at, m.rollback_id = $id
        MERGE (r)-[:WITHDREW]->(m)
        RETURN m.id AS id, m.level AS level, CASE WHEN m:Fact THEN m.slot END AS slot,
               CASE WHEN m:PriceMention THEN m.symbol END AS symbol
        """,
        id=rollback_id, scope=scope, sessions=session_ids, at=at,
    )
    return [WithdrawnMemory(**record.data()) for record in result]


def standing_facts_in_slots(tx: ManagedTransaction, *, scope: str, slots: list[str]) -> list[StandingFact]:
    """Every fact in these slots except withdrawn ones: the same set ingestion plans supersession over.

    Date-times come back as [epoch seconds, nanoseconds]: a client's slot can hold hundreds of facts,
    and building Python datetimes from integers is far cheaper than the driver's DateTime values.
    """
    result = tx.run(
        """
        UNWIND $slots AS slot
        MATCH (f:Fact {scope: $scope, slot: slot}) WHERE coalesce(f.status, 'active') <> 'rolled_back'
        RETURN f.id AS id, f.slot AS slot, f.value AS value,
               [t IN [f.valid_from, f.recorded_at, f.valid_to, f.superseded_at] |
                CASE WHEN t IS NULL THEN null ELSE [t.epochSeconds, t.nanosecond] END] AS times
        """,
        scope=scope, slots=slots,
    )
    facts = []
    for fact_id, slot, value, times in result.values():
        valid_from, recorded_at, valid_to, superseded_at = (_from_instant(t) for t in times)
        facts.append(StandingFact(id=fact_id, slot=slot, value=value, valid_from=valid_from, recorded_at=recorded_at,
                                  valid_to=valid_to, superseded_at=superseded_at))
    return facts


def reopen_facts(tx: ManagedTransaction, *, rollback_id: str, fact_ids: list[str]) -> int:
    """Make closed facts current again; the closing they had is kept on `REOPENED` for the audit."""
    if not fact_ids:
        return 0
    record = tx.run(
        """
        MATCH (r:Rollback {id: $id})
        UNWIND $facts AS fact_id
        MATCH (f:Memory {id: fact_id}) WHERE f:Fact AND f.superseded_at IS NOT NULL
        MERGE (r)-[link:REOPENED]->(f)
        ON CREATE SET link.valid_to = f.valid_to, link.superseded_at = f.superseded_at
        SET f.valid_to = null, f.superseded_at = null, f.reopened_at = r.at, f.reopened_by = r.id
        RETURN count(f) AS reopened
        """,
        id=rollback_id, facts=fact_ids,
    ).single()
    return record["reopened"]


def close_facts(tx: ManagedTransaction, closes: list[dict[str, Any]], links: list[dict[str, str]]) -> None:
    """`closes`: {id, valid_to, superseded_at}; `links`: {newer, older}. Same shape as ingestion's plan.
    Facts are found as `:Memory` by id, the label the id constraint (and its index) is on."""
    if closes:
        tx.run(
            """
            UNWIND $rows AS row
            MATCH (f:Memory {id: row.id}) WHERE f:Fact
            SET f.valid_to = row.valid_to, f.superseded_at = row.superseded_at
            """,
            rows=closes,
        ).consume()
    if links:
        tx.run(
            """
            UNWIND $rows AS row
            MATCH (newer:Memory {id: row.newer}), (older:Memory {id: row.older}) WHERE newer:Fact AND older:Fact
            MERGE (newer)-[:SUPERSEDES]->(older)
            """,
            rows=links,
        ).consume()


def retrack_prices(tx: ManagedTransaction, *, scope: str, symbols: list[str]) -> None:
    """The price a client last discussed, per security, from the price mentions still active.

    A withdrawn mention must not stay the reference for drift and market-move alerts; with no active
    mention left, the client no longer tracks the security.
    """
    if not symbols:
        return
    tx.run(
        """
        UNWIND $symbols AS symbol
        MATCH (c:Client {id: $scope})-[t:TRACKS]->(s:Security {symbol: symbol})
        OPTIONAL MATCH (m:PriceMention {scope: $scope, symbol: symbol}) WHERE m.status = 'active'
        WITH t, m ORDER BY m.mentioned_at DESC
        WITH t, collect(m)[0] AS latest
        FOREACH (_ IN CASE WHEN latest IS NULL THEN [1] ELSE [] END | DELETE t)
        FOREACH (_ IN CASE WHEN latest IS NULL THEN [] ELSE [1] END |
                 SET t.last_price = latest.price, t.last_at = latest.mentioned_at)
        """,
        scope=scope, symbols=symbols,
    ).consume()


def rollbacks_for(scope: str) -> list[RollbackRecord]:
    """Every rollback in a client's memory, newest first: the audit view."""

    def _read(tx: ManagedTransaction) -> list[RollbackRecord]:
        result = tx.run(
            """
            MATCH (r:Rollback {scope: $scope})
            RETURN r.id AS id, r.actor AS actor, r.reason AS reason, r.at AS at,
                   COUNT { (r)-[:WITHDREW]->() } AS withdrawn, COUNT { (r)-[:REOPENED]->() } AS reopened
            ORDER BY r.at DESC
            """,
            scope=scope,
        )
        return [RollbackRecord(**{key: native(value) for key, value in record.data().items()}) for record in result]

    return driver.read(_read)


def _from_instant(instant: list[int] | None) -> datetime | None:
    if instant is None:
        return None
    return datetime.fromtimestamp(instant[0], tz=timezone.utc) + timedelta(microseconds=instant[1] // 1000)
