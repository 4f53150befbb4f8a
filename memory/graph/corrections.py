"""A fact corrected on purpose (a client asked, their advisor confirmed): the new statement is a fact in
the same slot that supersedes the old one, so every read, the twin and later supersession treat it like
any other fact, and the old one stays as history."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from memory.graph import driver
from memory.graph.changes import mark_client_of


@dataclass(frozen=True)
class CorrectedFact:
    old_id: str
    new_id: str
    slot: str


def supersede_fact(*, old_id: str, new_id: str, props: dict[str, Any], scopes: list[str],
                   at: datetime) -> CorrectedFact | None:
    """Write `new` as the correction of the current fact `old`; None if `old` is not a current fact in `scopes`."""

    def _write(tx: ManagedTransaction) -> CorrectedFact | None:
        record = tx.run(
            """
            MATCH (old:Fact {id: $old}) WHERE old.scope IN $scopes AND old.status = 'active'
              AND old.superseded_at IS NULL
            MERGE (new:Memory {id: $new})
            ON CREATE SET new:Fact, new += $props, new.level = 'fact', new.slot = old.slot,
                          new.attribute = old.attribute, new.kind = old.kind, new.scope = old.scope,
                          new.firm_id = old.firm_id, new.client_id = old.client_id, new.visibility = old.visibility
            MERGE (new)-[:SUPERSEDES]->(old)
            WITH old, new
            """ + mark_client_of("old") + """
            // The whole current statement closes, including reaffirmations of it in other sessions.
            MATCH (same:Fact {scope: old.scope, slot: old.slot})
            WHERE same.status = 'active' AND same.superseded_at IS NULL AND same <> new
            SET same.superseded_at = $at, same.valid_to = $at
            WITH DISTINCT old, new
            OPTIONAL MATCH (old)-[:ABOUT]->(e)
            FOREACH (entity IN CASE WHEN e IS NULL THEN [] ELSE [e] END | MERGE (new)-[:ABOUT]->(entity))
            RETURN DISTINCT old.id AS old_id, new.id AS new_id, old.slot AS slot
            """,
            old=old_id, new=new_id, props=props, scopes=scopes, at=at,
        ).single()
        return CorrectedFact(**record.data()) if record else None

    return driver.write(_write)
