"""The higher levels of memory: summaries (per session, topic, period) and the versioned client profile.

    (:Memory:Summary {level: 'summary', kind: 'session'|'topic'|'period'})-[:SUMMARISES]->(what it sums up)
    (:Memory:Profile {level: 'profile', version})-[:SUMMARISES]->(:Memory:Fact)
    (:Memory:Profile)-[:SUPERSEDES]->(:Memory:Profile)        the version it replaced
    (:Memory:Summary|Profile)-[:DERIVED_FROM]->(:Memory:Turn)  every turn beneath it: its sources

A summary's sources are always turns, whatever it summarises, so retrieval returns turns as sources at
every level. Writes MERGE on stable ids and change a node only when its text changed, so running
consolidation twice changes nothing: each node keeps the `digest` of what it was written from, and
is rewritten only when that changes (an LLM-written summary is not re-asked for the same input).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from memory.graph import driver
from memory.graph.episodes import _datetime, instant
from memory.graph.search import IN_VIEW
from memory.graph.values import native

SUMMARY_TIMES = ("valid_from", "valid_to", "recorded_at", "created_at")


@dataclass(frozen=True)
class TurnRow:
    id: str
    turn_id: str
    session_key: str  # the Session node's id
    speaker: str
    role: str
    text: str
    position: int
    recorded_at: datetime


@dataclass(frozen=True)
class DerivedRow:
    """A fact or observation of a session, with the turns it came from."""

    id: str
    level: str
    kind: str
    attribute: str | None
    slot: str | None
    value: str | None
    text: str
    importance: float
    status: str
    valid_from: datetime
    recorded_at: datetime
    superseded_at: datetime | None
    session_id: str | None
    turns: list[str]  # node ids


@dataclass(frozen=True)
class SessionRow:
    id: str
    session_id: str
    channel: str
    started_at: datetime


@dataclass(frozen=True)
class ClientMaterial:
    """Everything consolidation reads of one client, in one read."""

    scope: str
    firm_id: str
    client_id: str
    name: str
    sessions: list[SessionRow]
    turns: list[TurnRow]
    derived: list[DerivedRow]
    existing: dict[str, str]  # summary/profile id -> digest of what it was written from
    version: int  # the client's memory version when this was read (memory/graph/changes.py)


@dataclass(frozen=True)
class ProfileVersion:
    id: str
    version: int
    text: str
    fields: str  # JSON: field -> list of values
    changes: str  # JSON: [{field, before, after, turns}]
    valid_from: datetime
    valid_to: datetime | None
    recorded_at: datetime
    created_at: datetime
    superseded_at: datetime | None
    status: str
    sources: list[str]  # turn ids

    def field_values(self) -> dict[str, list[str]]:
        """Profile field -> its values (objectives, risk tolerance, horizon, ...)."""
        return json.loads(self.fields or "{}")

    def change_list(self) -> list[dict[str, Any]]:
        """What changed from the version before: [{field, before, after, turns: ["s2/t4", ...]}]."""
        return json.loads(self.changes or "[]")


def client_scopes(firm_id: str | None = None) -> list[str]:
    """Scope tokens of every client in the graph (of one firm when given)."""

    def _read(tx: ManagedTransaction) -> list[str]:
        result = tx.run("MATCH (c:Client) WHERE $firm IS NULL OR c.firm_id = $firm RETURN c.id AS id ORDER BY id",
                        firm=firm_id)
        return [record["id"] for record in result]

    return driver.read(_read)


@dataclass(frozen=True)
class DueClients:
    scopes: list[str]  # clients whose memory changed since they were last consolidated, or never consolidated
    unchanged: int  # clients consolidated since their last change, by the same `consolidated_with`


def clients_due(firm_id: str | None, consolidated_with: str) -> DueClients:
    """Which clients (of one firm when given) consolidation must read again (memory/graph/changes.py)."""

    def _read(tx: ManagedTransaction) -> DueClients:
        result = tx.run(
            """
            MATCH (c:Client) WHERE $firm IS NULL OR c.firm_id = $firm
            RETURN c.id AS id, coalesce(c.consolidated_version = coalesce(c.memory_version, 0)
                                        AND c.consolidated_with = $consolidated_with, false) AS unchanged
            ORDER BY id
            """,
            firm=firm_id, consolidated_with=consolidated_with,
        )
        rows = result.values()
        return DueClients(scopes=[scope for scope, unchanged in rows if not unchanged],
                          unchanged=sum(1 for _, unchanged in rows if unchanged))

    return driver.read(_read)


def client_material(scope: str) -> ClientMaterial | None:
    """Everything consolidation reads of one client, with the memory version it was read at."""

    def _read(tx: ManagedTransaction) -> ClientMaterial | None:
        # The version first: a write committed after this read is missing from what follows or not, and
        # raised the version past this value either way, so the client stays due (memory/graph/changes.py).
        client = tx.run("MATCH (c:Client {id: $scope}) RETURN c.firm_id AS firm_id, c.client_id AS client_id, "
                        "c.name AS name, coalesce(c.memory_version, 0) AS version", scope=scope).single()
        if client is None:
            return None
        sessions = [SessionRow(**native(r.data())) for r in tx.run(
            """
            MATCH (s:Session)-[:WITH_CLIENT]->(:Client {id: $scope})
            RETURN s.id AS id, s.session_id AS session_id, coalesce(s.channel, '') AS channel, s.started_at AS started_at
            ORDER BY started_at, session_id
            """, scope=scope)]
        turns = [TurnRow(**native(r.data())) for r in tx.run(
            """
            MATCH (t:Memory) WHERE t.scope = $scope AND t.level = 'turn' AND t.status = 'active'
            RETURN t.id AS id, t.turn_id AS turn_id, t.session_key AS session_key, t.speaker AS speaker,
                   coalesce(t.role, '') AS role, t.text AS text, t.position AS position, t.recorded_at AS recorded_at
            ORDER BY recorded_at, position
            """, scope=scope)]
        derived = [DerivedRow(**native(r.data())) for r in tx.run(
            """
            MATCH (m:Memory) WHERE m.scope = $scope AND m.level IN ['fact', 'observation'] AND m.status = 'active'
            OPTIONAL MATCH (m)-[:DERIVED_FROM]->(t:Turn)
            WITH m, collect(t.id) AS turns
            RETURN m.id AS id, m.level AS level, m.kind AS kind, m.attribute AS attribute, m.slot AS slot,
                   m.value AS value, m.text AS text, coalesce(m.importance, 0.3) AS importance, m.status AS status,
                   m.valid_from AS valid_from, m.recorded_at AS recorded_at, m.superseded_at AS superseded_at,
                   m.session_id AS session_id, turns
            ORDER BY recorded_at, id
            """, scope=scope)]
        existing = {r["id"]: r["digest"] for r in tx.run(
            "MATCH (m:Memory) WHERE m.scope = $scope AND m.level IN ['summary', 'profile'] RETURN m.id AS id, m.digest AS digest",
            scope=scope)}
        return ClientMaterial(scope=scope, sessions=sessions, turns=turns, derived=derived, existing=existing,
                              **client.data())

    return driver.read(_read)


def summary_row(memory_id: str, props: dict[str, Any], summarises: list[str], sources: list[str]) -> dict[str, Any]:
    props = dict(props)
    times = {key: instant(props.pop(key, None)) for key in SUMMARY_TIMES}
    return {"id": memory_id, "props": props, "times": times, "summarises": summarises, "sources": sources}


def write_levels(scope: str, summaries: list[dict[str, Any]], profiles: list[dict[str, Any]],
                 retire_profiles: list[str], at: datetime, *, version: int, consolidated_with: str) -> None:
    """Write one client's summaries and profile chain in one transaction, and record on the client that it is
    consolidated up to memory `version` by `consolidated_with` (memory/graph/changes.py): a write that landed
    since the material was read raised the client's version past it, so the client stays due.

    `summaries`/`profiles`: rows of `summary_row`; a profile row also carries `supersedes` (the id of
    the version before it) and `closed` ({valid_to, superseded_at} once a newer version exists).
    `retire_profiles`: versions a re-consolidation no longer derives (history changed underneath
    them, e.g. a session imported late): they leave the current view, and the system stops believing
    them at `at` (they stay readable for "what did the twin know" before that).
    """

    def _write(tx: ManagedTransaction) -> None:
        # The client first: writers of its memory lock it before its memories too (memory/graph/changes.py).
        tx.run("MATCH (c:Client {id: $scope}) SET c.consolidated_version = $version, "
               "c.consolidated_with = $consolidated_with",
               scope=scope, version=version, consolidated_with=consolidated_with).consume()
        for label, rows in (("Summary", summaries), ("Profile", profiles)):
            if not rows:
                continue
            tx.run(
                f"""
                UNWIND $rows AS row
                MERGE (m:Memory {{id: row.id}})
                ON CREATE SET m:{label}, m += row.props, m.valid_from = {_datetime('row.times.valid_from')},
                              m.recorded_at = {_datetime('row.times.recorded_at')},
                              m.created_at = {_datetime('row.times.created_at')}
                ON MATCH SET m += CASE WHEN m.digest = row.props.digest THEN {{}} ELSE row.props END,
                             m.recorded_at = CASE WHEN m.digest = row.props.digest THEN m.recorded_at
                                             ELSE {_datetime('row.times.recorded_at')} END
                WITH m, row
                OPTIONAL MATCH (m)-[old:SUMMARISES|DERIVED_FROM]->(x) WHERE NOT x.id IN row.summarises + row.sources
                DELETE old
                WITH DISTINCT m, row
                CALL (m, row) {{
                  UNWIND row.summarises AS child MATCH (c:Memory {{id: child}}) MERGE (m)-[:SUMMARISES]->(c)
                }}
                CALL (m, row) {{
                  UNWIND row.sources AS source MATCH (t:Memory {{id: source}}) MERGE (m)-[:DERIVED_FROM]->(t)
                }}
                """,
                rows=rows,
            ).consume()
        if profiles:
            tx.run(
                f"""
                UNWIND $rows AS row
                MATCH (m:Memory {{id: row.id}})
                SET m.valid_to = {_datetime('row.closed.valid_to')},
                    m.superseded_at = {_datetime('row.closed.superseded_at')}
                WITH m, row WHERE row.supersedes IS NOT NULL
                MATCH (older:Memory {{id: row.supersedes}})
                MERGE (m)-[:SUPERSEDES]->(older)
                """,
                rows=profiles,
            ).consume()
        if retire_profiles:
            tx.run(
                """
                UNWIND $ids AS id MATCH (m:Memory {id: id}) WHERE m.scope = $scope AND m.status = 'active'
                SET m.status = 'revised', m.believed_until = $at
                """,
                ids=retire_profiles, scope=scope, at=at,
            ).consume()

    driver.write(_write)


def profile_versions(scopes: list[str], *, known_at: datetime | None = None) -> list[ProfileVersion]:
    """Every profile version of the client, newest first: with what changed and from which turns.

    With `known_at`, only the versions the twin had taken in by then (its own clock), including
    versions it has since revised away.
    """

    def _read(tx: ManagedTransaction) -> list[ProfileVersion]:
        result = tx.run(
            """
            MATCH (p:Profile) WHERE p.scope IN $scopes
              AND ($known_at IS NULL AND p.status = 'active'
                   OR $known_at IS NOT NULL AND p.created_at <= $known_at
                      AND (p.believed_until IS NULL OR p.believed_until > $known_at))
            OPTIONAL MATCH (p)-[:DERIVED_FROM]->(t:Turn)
            WITH p, collect(DISTINCT t.turn_id) AS sources
            RETURN p.id AS id, p.version AS version, p.text AS text, p.fields AS fields, p.changes AS changes,
                   p.valid_from AS valid_from, p.valid_to AS valid_to, p.recorded_at AS recorded_at,
                   p.created_at AS created_at, p.superseded_at AS superseded_at, p.status AS status, sources
            ORDER BY p.valid_from DESC, p.version DESC
            """,
            scopes=scopes, known_at=known_at,
        )
        return [ProfileVersion(**native(record.data())) for record in result]

    return driver.read(_read)


def profile_at(scopes: list[str], *, as_of: datetime | None = None, known_at: datetime | None = None
               ) -> ProfileVersion | None:
    """The profile version in view: current, believed at `as_of`, or known to the twin at `known_at`."""

    def _read(tx: ManagedTransaction) -> ProfileVersion | None:
        record = tx.run(
            f"""
            MATCH (m:Profile) WHERE m.scope IN $scopes AND {IN_VIEW}
            WITH m ORDER BY m.valid_from DESC, m.version DESC LIMIT 1
            OPTIONAL MATCH (m)-[:DERIVED_FROM]->(t:Turn)
            WITH m, collect(DISTINCT t.turn_id) AS sources
            RETURN m.id AS id, m.version AS version, m.text AS text, m.fields AS fields, m.changes AS changes,
                   m.valid_from AS valid_from, m.valid_to AS valid_to, m.recorded_at AS recorded_at,
                   m.created_at AS created_at, m.superseded_at AS superseded_at, m.status AS status, sources
            """,
            scopes=scopes, as_of=as_of, known_at=known_at, superseded=False,
        ).single()
        return ProfileVersion(**native(record.data())) if record else None

    return driver.read(_read)
