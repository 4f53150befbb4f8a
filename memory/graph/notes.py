"""Memories written, revised and forgotten on purpose (by an advisor, or by the twin through its tools)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from memory.graph import driver
from memory.graph.changes import mark_client_of
from memory.graph.securities import forget_moves, split_move_link_id


def note_row(memory_id: str, props: dict[str, Any], client_node: str | None, *, cites: Sequence[str] = (),
             readable_scopes: Sequence[str] = ()) -> dict[str, Any]:
    """One note for `write_notes` (`props` is kept, not copied: an embedding added to it later is written)."""
    links = [{"event": parts[0], "client": parts[1]} for cited in cites
             if (parts := split_move_link_id(cited)) is not None and parts[1] in readable_scopes]
    memories = [cited for cited in dict.fromkeys(cites) if split_move_link_id(cited) is None]
    return {"id": memory_id, "props": props, "client": client_node, "cited": memories, "links": links,
            "scopes": list(readable_scopes)}


def create_note(memory_id: str, props: dict[str, Any], client_node: str | None, *, cites: Sequence[str] = (),
                readable_scopes: Sequence[str] = ()) -> None:
    """One note, in its own transaction (a note remembered on purpose: `write_notes`)."""
    driver.write(write_notes, rows=[note_row(memory_id, props, client_node, cites=cites,
                                             readable_scopes=readable_scopes)])


def write_notes(tx: ManagedTransaction, rows: Sequence[dict[str, Any]]) -> None:
    """Write notes (`note_row`s), and `(note)-[:CITES]->(m)` for each cited memory in the note's readable
    scopes (others are never linked). A client's move id links the shared event with the client on the
    relationship (`[:CITES {client}]`), and only when that client's move exists: lifecycle keeps what is
    cited. Every node and link is MERGEd: writing a note again changes nothing."""
    if not rows:
        return
    tx.run(
        """
        UNWIND $rows AS row
        MERGE (m:Memory {id: row.id}) ON CREATE SET m:Note, m += row.props
        WITH m, row
        """ + mark_client_of("m") + """
        OPTIONAL MATCH (c:Client {id: row.client})
        FOREACH (_ IN CASE WHEN c IS NULL THEN [] ELSE [1] END | MERGE (m)-[:ABOUT]->(c))
        """,
        rows=list(rows),
    ).consume()
    cited = [{"id": row["id"], "cited": row["cited"], "scopes": row["scopes"]} for row in rows if row["cited"]]
    if cited:
        tx.run(
            """
            UNWIND $rows AS row
            MATCH (note:Memory {id: row.id})
            UNWIND row.cited AS cited_id
            MATCH (m:Memory {id: cited_id}) WHERE m.scope IN row.scopes AND m <> note
            MERGE (note)-[:CITES]->(m)
            """,
            rows=cited,
        ).consume()
    links = [{"id": row["id"], **link} for row in rows for link in row["links"]]
    if links:
        tx.run(
            """
            UNWIND $links AS link
            MATCH (note:Memory {id: link.id})
            MATCH (:Client {id: link.client})-[:SAW_MOVE]->(e:Memory {id: link.event})
            MERGE (note)-[:CITES {client: link.client}]->(e)
            """,
            links=links,
        ).consume()


def supersede_memory(old_id: str, new_id: str, props: dict[str, Any], scopes: list[str], at: datetime) -> bool:
    """Record `new` as the revision of `old` (which keeps its text). False if `old` is not readable."""

    def _write(tx: ManagedTransaction) -> bool:
        record = tx.run(
            """
            MATCH (old:Memory {id: $old}) WHERE old.scope IN $scopes AND old.status = 'active'
              AND old.superseded_at IS NULL AND old.level <> 'turn'
            SET old.superseded_at = $at, old.valid_to = coalesce(old.valid_to, $at)
            """ + mark_client_of("old") + """
            MERGE (new:Memory {id: $new}) ON CREATE SET new:Note, new += $props,
                  new.level = old.level, new.kind = old.kind, new.slot = old.slot, new.attribute = old.attribute
            MERGE (new)-[:SUPERSEDES]->(old)
            WITH old, new
            OPTIONAL MATCH (old)-[:ABOUT]->(e)
            FOREACH (entity IN CASE WHEN e IS NULL THEN [] ELSE [e] END | MERGE (new)-[:ABOUT]->(entity))
            RETURN count(DISTINCT new) AS written
            """,
            old=old_id, new=new_id, props=props, scopes=scopes, at=at,
        ).single()
        return bool(record and record["written"])

    return driver.write(_write)


def forget(memory_id: str, scopes: list[str], reason: str, at: datetime) -> bool:
    """Forget one memory of `scopes`. A client's market move is forgotten on the client's own link: the
    shared event (market scope, in no reader's `writable_scopes`) stays for the others."""
    if split_move_link_id(memory_id) is not None:
        return forget_moves([{"id": memory_id, "reason": reason}], scopes, at) == 1

    def _write(tx: ManagedTransaction) -> bool:
        record = tx.run(
            """
            MATCH (m:Memory {id: $id}) WHERE m.scope IN $scopes AND m.status = 'active'
            SET m.status = 'forgotten', m.forgotten_reason = $reason, m.forgotten_at = $at
            """ + mark_client_of("m") + """
            RETURN count(m) AS changed
            """,
            id=memory_id, scopes=scopes, reason=reason, at=at,
        ).single()
        return bool(record["changed"])

    return driver.write(_write)
