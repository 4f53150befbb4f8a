"""A memory's life after ingestion: access, forgetting, and people resolved into one.

Forgetting is a status with a reason, never a deletion: a forgotten memory keeps its text, links and
provenance, leaves retrieval, and stays readable for "what did the twin know" before `forgotten_at`.
What is cited is never forgotten: a current fact, anything a current fact is derived from, anything a
profile version summarises or cites, and anything stored advice cites: the twin remembers each advice
as a note that `CITES` the memories it rested on (memory/graph/notes.py `create_note`); a client's
market move is cited through the shared event, `[:CITES {client}]` naming whose move it is. The rule is
checked again inside the write, so a plan made a moment ago cannot forget what became cited since.

People merges move every link of the absorbed person to the kept one and record the merge
(`(absorbed)-[:MERGED_INTO]->(kept)`, status 'merged'): nothing is deleted, so provenance survives.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from neo4j import ManagedTransaction

from memory.graph import driver
from memory.graph.changes import mark_client_of, mark_clients
from memory.graph.securities import MOVE_CITED, forget_moves, move_link_id, split_move_link_id
from memory.graph.values import native

FORGETTABLE_LEVELS = ["turn", "observation", "fact"]
# Why a memory may not be forgotten, or null. `m` is the memory.
_PROTECTION = """
  CASE
    WHEN m.level = 'fact' AND m.superseded_at IS NULL THEN 'a current fact'
    WHEN EXISTS { (f:Fact)-[:DERIVED_FROM]->(m) WHERE f.status = 'active' AND f.superseded_at IS NULL }
      THEN 'cited by a current fact'
    WHEN EXISTS { (:Profile)-[:SUMMARISES|DERIVED_FROM]->(m) } THEN 'cited by a profile version'
    WHEN EXISTS { (:Memory)-[:CITES]->(m) } THEN 'cited by stored advice'
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
    created_at: datetime  # when the twin took it in: decay runs on the twin's clock
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
                   coalesce(m.created_at, m.recorded_at) AS created_at, m.last_accessed_at AS last_accessed_at,
                   coalesce(m.access_count, 0) AS access_count, {_PROTECTION} AS protected, covered_by
            ORDER BY m.recorded_at, m.id
            """,
            scope=scope, levels=FORGETTABLE_LEVELS,
        )
        rows = [RetentionRow(**native(record.data())) for record in result]
        # The client's market moves: their own links to shared events (memory/graph/securities.py).
        moves = tx.run(
            f"""
            MATCH (c:Client {{id: $scope}})-[r:SAW_MOVE]->(e:Event) WHERE r.status = 'active' AND e.status = 'active'
            RETURN e.id AS id, e.level AS level, e.kind AS kind, r.text AS text,
                   coalesce(e.importance, 0.3) AS importance, r.created_at AS created_at,
                   r.last_accessed_at AS last_accessed_at, coalesce(r.access_count, 0) AS access_count,
                   CASE WHEN {MOVE_CITED} THEN 'cited by stored advice' END AS protected, null AS covered_by
            ORDER BY e.recorded_at, e.id
            """,
            scope=scope,
        )
        return rows + [RetentionRow(**{**native(record.data()), "id": move_link_id(record["id"], scope)})
                       for record in moves]

    return driver.read(_read)


def mark_forgotten(rows: list[dict[str, str]], at: datetime) -> int:
    """`rows`: {id, reason}. Returns how many were forgotten (cited ones are skipped; a client's market
    move is forgotten on the client's link, never the shared event)."""
    moves = [row for row in rows if split_move_link_id(row["id"]) is not None]
    rows = [row for row in rows if split_move_link_id(row["id"]) is None]
    forgotten = forget_moves(moves, [split_move_link_id(row["id"])[1] for row in moves], at,
                             spare_cited=True) if moves else 0
    if not rows:
        return forgotten

    def _write(tx: ManagedTransaction) -> int:
        # Their clients first, locked before their memories as ingestion locks them (memory/graph/changes.py);
        # a client whose rows all turned out cited since the plan is consolidated once for nothing.
        mark_clients(tx, tx.run("UNWIND $ids AS id MATCH (m:Memory {id: id}) RETURN DISTINCT m.scope AS scope",
                                ids=[row["id"] for row in rows]).value())
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

    return forgotten + driver.write(_write)


def record_access(counts: dict[str, int], at: datetime) -> None:
    """Retrieval returned these memories `counts[id]` times, last `at`: access slows their decay (a
    client's move: on their link)."""
    rows = [{"id": memory_id, "times": times} for memory_id, times in counts.items()]
    links = [{"event": parts[0], "client": parts[1], "times": times} for memory_id, times in counts.items()
             if (parts := split_move_link_id(memory_id)) is not None]

    def _write(tx: ManagedTransaction) -> None:
        tx.run(
            """
            UNWIND $rows AS row MATCH (m:Memory {id: row.id})
            SET m.access_count = coalesce(m.access_count, 0) + row.times,
                m.last_accessed_at = CASE WHEN m.last_accessed_at IS NULL OR m.last_accessed_at < $at THEN $at
                                     ELSE m.last_accessed_at END
            """,
            rows=rows, at=at,
        ).consume()
        if links:
            tx.run(
                """
                UNWIND $links AS link MATCH (:Client {id: link.client})-[r:SAW_MOVE]->(:Memory {id: link.event})
                SET r.access_count = coalesce(r.access_count, 0) + link.times,
                    r.last_accessed_at = CASE WHEN r.last_accessed_at IS NULL OR r.last_accessed_at < $at THEN $at
                                         ELSE r.last_accessed_at END
                """,
                links=links, at=at,
            ).consume()

    driver.write(_write)


def memory_counts(scopes: list[str] | None = None) -> dict[str, int]:
    """Memories by status (all scopes when None): what forgetting changed."""

    def _read(tx: ManagedTransaction) -> dict[str, int]:
        result = tx.run("MATCH (m:Memory) WHERE $scopes IS NULL OR m.scope IN $scopes "
                        "RETURN m.status AS status, count(*) AS n", scopes=scopes)
        return {record["status"]: record["n"] for record in result}

    return driver.read(_read)


@dataclass(frozen=True)
class PersonRow:
    id: str
    key: str
    name: str
    relations: list[str]
    status: str
    mentions: int


@dataclass(frozen=True)
class MergeProposal:
    """A possible 'same person', waiting for (or decided by) an advisor."""

    id: str
    keep_id: str
    keep_name: str
    absorb_id: str
    absorb_name: str
    confidence: float
    reason: str
    status: str  # pending | confirmed | rejected | automatic


def write_people(scope: str, people: list[dict], mentions: list[dict[str, str]]) -> None:
    """`people`: {id, key, name, relation}; `mentions`: {turn, person}. MERGEs: writing twice changes nothing."""

    def _write(tx: ManagedTransaction) -> None:
        tx.run(
            """
            UNWIND $people AS row
            MERGE (p:Entity {id: row.id})
            ON CREATE SET p:Person, p.kind = 'person', p.key = row.key, p.name = row.name, p.scope = $scope,
                          p.status = 'active', p.relations = []
            SET p.relations = CASE WHEN row.relation IS NULL OR row.relation IN p.relations THEN p.relations
                                   ELSE p.relations + row.relation END
            """,
            people=people, scope=scope,
        ).consume()
        tx.run(
            "UNWIND $rows AS row MATCH (t:Memory {id: row.turn}), (p:Entity {id: row.person}) MERGE (t)-[:MENTIONS]->(p)",
            rows=mentions,
        ).consume()

    driver.write(_write)


def people(scope: str) -> list[PersonRow]:
    def _read(tx: ManagedTransaction) -> list[PersonRow]:
        result = tx.run(
            """
            MATCH (p:Person) WHERE p.scope = $scope
            RETURN p.id AS id, p.key AS key, p.name AS name, coalesce(p.relations, []) AS relations,
                   coalesce(p.status, 'active') AS status, COUNT { (:Memory)-[:MENTIONS|ABOUT]->(p) } AS mentions
            ORDER BY p.key
            """,
            scope=scope,
        )
        return [PersonRow(**record.data()) for record in result]

    return driver.read(_read)


def merge_proposals(scopes: list[str], *, status: str | None = None) -> list[MergeProposal]:
    def _read(tx: ManagedTransaction) -> list[MergeProposal]:
        result = tx.run(
            """
            MATCH (a:Person)-[r:SAME_PERSON]->(k:Person) WHERE k.scope IN $scopes AND ($status IS NULL OR r.status = $status)
            RETURN r.id AS id, k.id AS keep_id, k.name AS keep_name, a.id AS absorb_id, a.name AS absorb_name,
                   r.confidence AS confidence, r.reason AS reason, r.status AS status
            ORDER BY r.confidence DESC, r.id
            """,
            scopes=scopes, status=status,
        )
        return [MergeProposal(**record.data()) for record in result]

    return driver.read(_read)


def propose_merges(rows: list[dict]) -> None:
    """`rows`: {id, keep, absorb, confidence, reason, status}; an existing proposal is never reopened."""

    def _write(tx: ManagedTransaction) -> None:
        tx.run(
            """
            UNWIND $rows AS row
            MATCH (a:Entity {id: row.absorb}), (k:Entity {id: row.keep})
            MERGE (a)-[r:SAME_PERSON {id: row.id}]->(k)
            ON CREATE SET r.confidence = row.confidence, r.reason = row.reason, r.status = row.status,
                          r.proposed_at = datetime()
            """,
            rows=rows,
        ).consume()

    driver.write(_write)


def decide_merge(proposal_id: str, scopes: list[str], *, confirm: bool, decided_by: str, at: datetime
                 ) -> MergeProposal | None:
    """Confirm (merge) or reject a pending proposal; None if there is no such pending proposal in `scopes`.

    A merge copies every MENTIONS and ABOUT link of the absorbed person to the kept one (marked `via`),
    keeps the absorbed node and its own links, and marks it merged: provenance is never lost. A
    rejection changes nothing but the proposal.
    """

    def _write(tx: ManagedTransaction) -> MergeProposal | None:
        record = tx.run(
            """
            MATCH (a:Person)-[r:SAME_PERSON {id: $id}]->(k:Person)
            WHERE k.scope IN $scopes AND r.status = 'pending'
            SET r.status = CASE WHEN $confirm THEN 'confirmed' ELSE 'rejected' END, r.decided_by = $by, r.decided_at = $at
            """ + mark_client_of("k") + """
            RETURN r.id AS id, k.id AS keep_id, k.name AS keep_name, a.id AS absorb_id, a.name AS absorb_name,
                   r.confidence AS confidence, r.reason AS reason, r.status AS status
            """,
            id=proposal_id, scopes=scopes, confirm=confirm, by=decided_by, at=at,
        ).single()
        if record is None:
            return None
        if confirm:
            _merge(tx, record["keep_id"], record["absorb_id"], at)
        return MergeProposal(**record.data())

    return driver.write(_write)


def merge_automatically(rows: list[dict], at: datetime) -> None:
    """`rows`: {keep, absorb}: confident merges, recorded as proposals with status 'automatic'."""

    def _write(tx: ManagedTransaction) -> None:
        for row in rows:
            _merge(tx, row["keep"], row["absorb"], at)

    driver.write(_write)


def _merge(tx: ManagedTransaction, keep: str, absorb: str, at: datetime) -> None:
    tx.run(
        """
        MATCH (a:Person {id: $absorb}), (k:Person {id: $keep}) WHERE a.status = 'active'
        CALL (a, k) {
          MATCH (m:Memory)-[:MENTIONS]->(a) MERGE (m)-[r:MENTIONS]->(k) ON CREATE SET r.via = a.id
        }
        CALL (a, k) {
          MATCH (m:Memory)-[:ABOUT]->(a) MERGE (m)-[r:ABOUT]->(k) ON CREATE SET r.via = a.id
        }
        SET a.status = 'merged', a.merged_at = $at,
            k.aliases = [x IN coalesce(k.aliases, []) WHERE x <> a.name] + a.name,
            k.relations = coalesce(k.relations, []) + [x IN coalesce(a.relations, []) WHERE NOT x IN coalesce(k.relations, [])]
        MERGE (a)-[m:MERGED_INTO]->(k) ON CREATE SET m.at = $at
        """,
        keep=keep, absorb=absorb, at=at,
    ).consume()
