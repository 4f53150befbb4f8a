"""A memory's life after ingestion: access, forgetting, and people resolved into one.

Forgetting is a status with a reason, never a deletion: a forgotten memory keeps its text, links and
provenance, leaves retrieval, and stays readable for "what did the twin know" before `forgotten_at`.
What is cited is never forgotten: a current fact, anything a current fact is derived from, anything a
profile version summarises or cites, and anything stored advice cites (`(advice)-[:CITES]->(m)`, or
the `DERIVED_FROM` of a memory of kind 'advice'). The rule is checked again inside the write, so a
plan made a moment ago cannot forget what became cited since.

People merges move every link of the absorbed person to the kept one and record the merge
(`(absorbed)-[:MERGED_INTO]->(kept)`, status 'merged'): nothing is deleted, so provenance survives.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from neo4j import ManagedTransaction

from memory.graph import driver
from memory.graph.values import native

FORGETTABLE_LEVELS = ["turn", "observation", "fact"]
# Why a memory may not be forgotten, or null. `m` is the memory.
_PROTECTION = """
  CASE
    WHEN m.level = 'fact' AND m.superseded_at IS NULL THEN 'a current fact'
    WHEN EXISTS { (f:Fact)-[:DERIVED_FROM]->(m) WHERE f.status = 'active' AND f.superseded_at IS NULL }
      THEN 'cited by a current fact'
    WHEN EXISTS { (:Profile)-[:SUMMARISES|DERIVED_FROM]->(m) } THEN 'cited by a profile version'
    WHEN EXISTS { ()-[:CITES]->(m) } OR EXISTS { (a:Memory {kind: 'advice'})-[:DERIVED_FROM]->(m) }
      THEN 'cited by stored advice'
  END
"""


@dataclass(frozen=True)
class RetentionRow:
    """What deciding to forget one memory needs."""

    id: str
    level: str
    kind: str
    text: str
    importance: float  # its own, or (a turn) the highest of the memories derived from it
    recorded_at: datetime
    last_accessed_at: datetime | None
    access_count: int
    protected: str | None  # why it may not be forgotten
    covered_by: str | None  # a summary that quotes this turn whole


def retention_rows(scope: str) -> list[RetentionRow]:
    """Every active memory of a client that forgetting may consider."""

    def _read(tx: ManagedTransaction) -> list[RetentionRow]:
        result = tx.run(
            f"""
            MATCH (m:Memory) WHERE m.scope = $scope AND m.status = 'active' AND m.level IN $levels
            OPTIONAL MATCH (d:Memory)-[:DERIVED_FROM]->(m) WHERE d.status = 'active' AND d.level IN ['fact', 'observation']
            WITH m, max(d.importance) AS derived_importance
            OPTIONAL MATCH (s:Summary {{kind: 'session'}})-[:DERIVED_FROM]->(m)
              WHERE m.level = 'turn' AND s.status = 'active' AND s.text CONTAINS m.text
            WITH m, derived_importance, head(collect(s.id)) AS covered_by
            RETURN m.id AS id, m.level AS level, coalesce(m.kind, m.level) AS kind, m.text AS text,
                   CASE WHEN derived_importance > coalesce(m.importance, 0.3) THEN derived_importance
                        ELSE coalesce(m.importance, 0.3) END AS importance,
                   m.recorded_at AS recorded_at, m.last_accessed_at AS last_accessed_at,
                   coalesce(m.access_count, 0) AS access_count, {_PROTECTION} AS protected, covered_by
            ORDER BY m.recorded_at, m.id
            """,
            scope=scope, levels=FORGETTABLE_LEVELS,
        )
        return [RetentionRow(**native(record.data())) for record in result]

    return driver.read(_read)


def mark_forgotten(rows: list[dict[str, str]], at: datetime) -> int:
    """`rows`: {id, reason}. Returns how many were forgotten (cited ones are skipped)."""

    def _write(tx: ManagedTransaction) -> int:
        record = tx.run(
            f"""
            UNWIND $rows AS row
            MATCH (m:Memory {{id: row.id}}) WHERE m.status = 'active'
            WITH m, row, {_PROTECTION} AS protected
            WHERE protected IS NULL
            SET m.status = 'forgotten', m.forgotten_reason = row.reason, m.forgotten_at = $at, m.believed_until = $at
            RETURN count(m) AS forgotten
            """,
            rows=rows, at=at,
        ).single()
        return int(record["forgotten"])

    return driver.write(_write)


def record_access(ids: list[str], at: datetime) -> None:
    """Retrieval returned these memories: access slows their decay."""

    def _write(tx: ManagedTransaction) -> None:
        tx.run(
            """
            UNWIND $ids AS id MATCH (m:Memory {id: id})
            SET m.access_count = coalesce(m.access_count, 0) + 1,
                m.last_accessed_at = CASE WHEN m.last_accessed_at IS NULL OR m.last_accessed_at < $at THEN $at
                                     ELSE m.last_accessed_at END
            """,
            ids=ids, at=at,
        ).consume()

    driver.write(_write)


def memory_counts(scopes: list[str] | None = None) -> dict[str, int]:
    """Memories by status (all scopes when None): what forgetting changed."""

    def _read(tx: ManagedTransaction) -> dict[str, int]:
        result = tx.run("MATCH (m:Memory) WHERE $scopes IS NULL OR m.scope IN $scopes "
                        "RETURN m.status AS status, count(*) AS n", scopes=scopes)
        return {record["status"]: record["n"] for record in result}

    return driver.read(_read)
