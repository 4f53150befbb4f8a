"""A corrected session: the version it replaces leaves the current view, keeping its text and provenance.

Books and records are append-only, so a correction arrives as a new session version. Its memories are
written like any session's; the replaced version's memories (turns, facts, observations, price
mentions) get `status = 'corrected'` with the reason, when, and the version that replaced them, so
search, facts and the twin (which read only `status = 'active'`) follow the current version while an
audit can still show what was believed before. Facts the replaced version had closed are reopened,
so the slot's history is planned again without it.

A correction can reach the graph before the version it replaces (that one waiting out a backoff): the
correction's Session node keeps `replaces`, so the older version is retired as soon as it is written.
"""
from __future__ import annotations

from datetime import datetime

from neo4j import ManagedTransaction

from memory.graph.changes import mark_clients
from memory.graph.values import native


def retire_session_version(tx: ManagedTransaction, *, scope: str, session_id: str, session_node: str,
                           replaced_by: str, reason: str, at: datetime) -> list[dict[str, str]]:
    """Mark one session version's memories corrected; returns the fact slots touched as {scope, slot}."""
    mark_clients(tx, [scope])
    tx.run(
        """
        MATCH (s:Session {id: $session_node})
        SET s.corrected_by = $replaced_by, s.corrected_at = $at, s.corrected_reason = $reason
        """,
        session_node=session_node, replaced_by=replaced_by, at=at, reason=reason,
    ).consume()
    result = tx.run(
        """
        MATCH (m:Memory {scope: $scope}) WHERE m.session_id = $session_id AND m.status = 'active'
        SET m.status = 'corrected', m.corrected_reason = $reason, m.corrected_at = $at, m.corrected_by = $replaced_by
        WITH m WHERE m:Fact
        OPTIONAL MATCH (m)-[:SUPERSEDES]->(closed:Fact) WHERE closed.status = 'active'
        SET closed.valid_to = null, closed.superseded_at = null
        RETURN DISTINCT m.slot AS slot
        """,
        scope=scope, session_id=session_id, reason=reason, at=at, replaced_by=replaced_by,
    )
    return [{"scope": scope, "slot": record["slot"]} for record in result if record["slot"]]


def corrections_of(tx: ManagedTransaction, sessions: list[dict[str, str]]) -> list[dict[str, object]]:
    """For sessions just written ({scope, session_id, session_node}), the corrections already in the graph
    that replace them: each a row for `retire_session_version`."""
    if not sessions:
        return []
    result = tx.run(
        """
        UNWIND $rows AS row
        MATCH (newer:Session {replaces: row.session_id}) WHERE newer.scope = row.scope
        RETURN row.scope AS scope, row.session_id AS session_id, row.session_node AS session_node,
               newer.session_id AS replaced_by, coalesce(newer.correction_reason, 'corrected') AS reason,
               datetime() AS at
        """,
        rows=sessions,
    )
    return [native(record.data()) for record in result]
