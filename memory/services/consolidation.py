"""Consolidation: each client's episodic memory organised into higher levels.

From the turns, facts and observations ingestion wrote, consolidation derives
- a summary per session (what was established, and the turns that said most),
- a summary per topic (one per kind of fact: how risk tolerance, goals, exclusions... evolved),
- a summary per period (a calendar quarter: its sessions),
- one person per person in the client's life (memory/services/entities.py),
- the client profile (objectives, risk tolerance, horizon, liquidity, constraints, preferences, open
  concerns), versioned: a new version whenever what the client said changes it, linked to the one it
  replaces, with what changed and from which turns.

Deterministic and extractive by default (sentences are picked, never written); with TWIN_LLM set a
chat model writes the session summaries. Every node records the digest of its input and is rewritten
only when that changes, so consolidating twice changes nothing and an LLM is asked once per input.

Incremental: the hourly run reads only the clients whose memory changed since they were last
consolidated (every write that changes a client's material raises a counter on the client in the same
transaction, memory/graph/changes.py), and clients never consolidated; the others are skipped unread,
their summaries being what a full pass would write again. A full pass (`full=True`, `consolidate_memory
--full`) is needed only after a change made outside this code; no periodic one is scheduled.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.utils import timezone

from memory.embeddings import embed_texts
from memory.graph import summaries as graph
from memory.graph.summaries import ClientMaterial, DerivedRow, TurnRow
from memory.ids import stable_id
from memory.nodes import memory_properties
from memory.services import entities

logger = logging.getLogger(__name__)

# Profile fields, from the attributes of extracted facts.
PROFILE_FIELDS = {
    "goal": "objectives", "risk_tolerance": "risk tolerance", "time_horizon": "horizon",
    "liquidity_need": "liquidity", "exclusion": "constraints", "preference": "preferences",
    "concern": "open concerns",
}
TOPIC_NAMES = {**PROFILE_FIELDS, "life_event": "life events", "holding": "holdings"}
# Raise when a change to this module changes what it derives from the same material: every client is then
# due once (their `consolidated_with` differs), as a full pass would have rewritten them.
DERIVATION_REVISION = 1
KEY_TURNS = 3  # turns quoted in a session summary besides its facts
MAX_QUOTE_CHARS = 220
_WORD = re.compile(r"[A-Za-z][A-Za-z']{3,}|\d[\d.,%$]*")


@dataclass(frozen=True)
class ConsolidationReport:
    clients: int  # clients read and consolidated
    skipped: int  # clients skipped unread: nothing they are consolidated from changed since the last time
    sessions: int
    written: int  # summaries and profile versions created or rewritten
    unchanged: int
    profile_versions: int
    seconds: float

    @property
    def sessions_per_second(self) -> float:
        return round(self.sessions / self.seconds, 1) if self.seconds else 0.0


def consolidate(*, firm_id: str | None = None, scope: str | None = None, full: bool = False) -> ConsolidationReport:
    """Consolidate the clients (of one firm when given) whose memory changed since they were last consolidated;
    `full`: every client; `scope`: that one client, changed or not. Safe to run at any time."""
    started = time.perf_counter()
    consolidated_with = _consolidated_with()
    skipped = 0
    if scope:
        scopes = [scope]
    elif full:
        scopes = graph.client_scopes(firm_id)
    else:
        due = graph.clients_due(firm_id, consolidated_with)
        scopes, skipped = due.scopes, due.unchanged
    totals = defaultdict(int)
    for client_scope in scopes:
        material = graph.client_material(client_scope)
        if material is None:
            continue
        written, unchanged, versions = _consolidate_client(material, consolidated_with)
        totals["clients"] += 1
        totals["sessions"] += len(material.sessions)
        totals["written"] += written
        totals["unchanged"] += unchanged
        totals["versions"] += versions
    return ConsolidationReport(clients=totals["clients"], skipped=skipped, sessions=totals["sessions"],
                               written=totals["written"],
                               unchanged=totals["unchanged"], profile_versions=totals["versions"],
                               seconds=round(time.perf_counter() - started, 3))


def _consolidate_client(material: ClientMaterial, consolidated_with: str) -> tuple[int, int, int]:
    now = timezone.now()
    planned: list[_Planned] = []
    session_summaries = _session_summaries(material)
    planned += session_summaries
    planned += _topic_summaries(material)
    planned += _period_summaries(material, session_summaries)
    profiles = _profile_chain(material)
    planned += profiles

    changed = [p for p in planned if material.existing.get(p.id) != p.digest]
    _write_texts(changed, material)
    vectors = embed_texts([p.text for p in changed])
    rows: dict[str, dict[str, Any]] = {}
    for item, vector in zip(changed, vectors, strict=True):
        rows[item.id] = item.row(material, now, embedding=vector)
    summary_rows = [rows[p.id] for p in planned if p.id in rows and p.level == "summary"]
    # The whole chain is always sent: a new version closes the one before it, whose text is unchanged.
    profile_rows = [rows.get(p.id) or p.row(material, now, embedding=None) for p in profiles]
    for previous, row in zip([None, *profiles], profile_rows, strict=False):
        row["supersedes"] = previous.id if previous else None
    for row, following in zip(profile_rows, profiles[1:], strict=False):
        row["closed"] = {"valid_to": graph.instant(following.valid_from), "superseded_at": graph.instant(following.recorded_at)}
    for row in profile_rows[len(profiles) - 1:]:
        row["closed"] = None
    derived_ids = {p.id for p in profiles}
    retire = [memory_id for memory_id in material.existing if memory_id.startswith("profile:") and memory_id not in derived_ids]
    # People first: the levels' transaction records the client as consolidated, so a failure before it
    # leaves the client due.
    entities.resolve_people(scope=material.scope, turns=material.turns,
                            participants={t.speaker for t in material.turns} | {material.name or ""})
    graph.write_levels(material.scope, summary_rows, profile_rows, retire, now, version=material.version,
                       consolidated_with=consolidated_with)
    return len(changed), len(planned) - len(changed), len(profiles)


@dataclass
class _Planned:
    """One summary or profile version to be, before it is written."""

    id: str
    level: str  # summary | profile
    kind: str  # session | topic | period | profile
    text: str
    digest: str
    importance: float
    valid_from: datetime
    valid_to: datetime | None
    recorded_at: datetime
    summarises: list[str]
    sources: list[str]  # turn node ids
    extra: dict[str, Any]
    llm_input: str = ""

    def row(self, material: ClientMaterial, now: datetime, *, embedding: list[float] | None) -> dict[str, Any]:
        props = memory_properties(
            firm_id=material.firm_id, client_id=material.client_id, level=self.level, kind=self.kind, text=self.text,
            importance=self.importance, source="consolidation", valid_from=self.valid_from,
            recorded_at=self.recorded_at, created_at=now, digest=self.digest, **self.extra)
        props["valid_to"] = self.valid_to
        if embedding is not None:
            props["embedding"] = embedding
        return graph.summary_row(self.id, props, self.summarises, self.sources)


def _digest(*parts: Any) -> str:
    return hashlib.blake2b(json.dumps(parts, default=str, sort_keys=True).encode(), digest_size=12).hexdigest()


def _salience(turn: TurnRow) -> float:
    """How much a turn says: distinct content words and numbers, the client's own words first."""
    words = {w.lower() for w in _WORD.findall(turn.text.split(":", 1)[-1])}
    return len(words) + (3 if turn.role == "client" else 0) + 2 * sum(any(c.isdigit() for c in w) for w in words)


def _quote(turn: TurnRow) -> str:
    text = " ".join(turn.text.split())
    return text if len(text) <= MAX_QUOTE_CHARS else text[:MAX_QUOTE_CHARS - 1].rsplit(" ", 1)[0] + "…"


def _session_summaries(material: ClientMaterial) -> list[_Planned]:
    turns_by_session: dict[str, list[TurnRow]] = defaultdict(list)
    for turn in material.turns:
        turns_by_session[turn.session_key].append(turn)
    derived_by_session: dict[str, list[DerivedRow]] = defaultdict(list)
    for row in material.derived:
        if row.session_id:
            derived_by_session[row.session_id].append(row)
    planned = []
    for session in material.sessions:
        turns = sorted(turns_by_session.get(session.id, []), key=lambda t: t.position)
        if not turns:
            continue
        derived = sorted(derived_by_session.get(session.session_id, []), key=lambda d: (-d.importance, d.id))
        statements = list(dict.fromkeys(d.text for d in derived if d.kind != "price_mention"))[:6]
        key_turns = sorted(sorted(turns, key=lambda t: (-_salience(t), t.position))[:KEY_TURNS], key=lambda t: t.position)
        header = f"Session of {session.started_at:%d %b %Y}" + (f" ({session.channel})" if session.channel else "")
        text = " ".join([header + ":", *statements, *("“" + _quote(t) + "”" for t in key_turns)])
        planned.append(_Planned(
            id=stable_id("summary", material.scope, "session", session.id), level="summary", kind="session",
            text=text, digest=_digest("session", [t.id for t in turns], [(d.id, d.text) for d in derived], _writer()),
            importance=0.5, valid_from=session.started_at, valid_to=None, recorded_at=turns[-1].recorded_at,
            summarises=[t.id for t in turns] + [d.id for d in derived], sources=[t.id for t in turns],
            extra={"session_id": session.session_id, "session_key": session.id},
            llm_input="\n".join(t.text for t in turns)))
    return planned


def _topic_summaries(material: ClientMaterial) -> list[_Planned]:
    by_attribute: dict[str, list[DerivedRow]] = defaultdict(list)
    for row in material.derived:
        if row.level == "fact" and row.attribute in TOPIC_NAMES:
            by_attribute[row.attribute].append(row)
    planned = []
    for attribute, rows in sorted(by_attribute.items()):
        rows.sort(key=lambda r: (r.valid_from, r.recorded_at, r.id))
        lines = [f"{r.text.rstrip('.')} ({r.recorded_at:%b %Y}{', since replaced' if r.superseded_at else ''})"
                 for r in rows]
        text = f"{TOPIC_NAMES[attribute].capitalize()} over time: " + "; ".join(dict.fromkeys(lines)) + "."
        sources = list(dict.fromkeys(t for r in rows for t in r.turns))
        planned.append(_Planned(
            id=stable_id("summary", material.scope, "topic", attribute), level="summary", kind="topic", text=text,
            digest=_digest("topic", text), importance=0.7, valid_from=rows[0].valid_from, valid_to=None,
            recorded_at=max(r.recorded_at for r in rows), summarises=[r.id for r in rows], sources=sources,
            extra={"topic": attribute}))
    return planned


def _quarter(moment: datetime) -> tuple[int, int]:
    return moment.year, (moment.month - 1) // 3 + 1


def _period_summaries(material: ClientMaterial, sessions: list[_Planned]) -> list[_Planned]:
    by_quarter: dict[tuple[int, int], list[_Planned]] = defaultdict(list)
    for summary in sessions:
        by_quarter[_quarter(summary.valid_from)].append(summary)
    planned = []
    for (year, quarter), items in sorted(by_quarter.items()):
        start = datetime(year, 3 * quarter - 2, 1, tzinfo=dt_timezone.utc)
        end = datetime(year + quarter // 4, (3 * quarter) % 12 + 1, 1, tzinfo=dt_timezone.utc)
        text = f"Q{quarter} {year}, {len(items)} session{'s' if len(items) > 1 else ''}: " + " ".join(
            item.text for item in items)
        planned.append(_Planned(
            id=stable_id("summary", material.scope, "period", f"{year}Q{quarter}"), level="summary", kind="period",
            text=text, digest=_digest("period", [i.digest for i in items]), importance=0.6, valid_from=start,
            valid_to=end, recorded_at=max(i.recorded_at for i in items), summarises=[i.id for i in items],
            sources=list(dict.fromkeys(t for i in items for t in i.sources)), extra={"period": f"{year}-Q{quarter}"}))
    return planned


def _profile_chain(material: ClientMaterial) -> list[_Planned]:
    """The profile after each moment the client's facts changed; a version only when it differs."""
    facts = [r for r in material.derived if r.level == "fact" and r.attribute in PROFILE_FIELDS]
    moments = sorted({r.recorded_at for r in facts})
    session_ids = {s.id: s.session_id for s in material.sessions}
    labels = {t.id: f"{session_ids.get(t.session_key, '?')}/{t.turn_id}" for t in material.turns}  # "s2/t4"
    chain: list[_Planned] = []
    previous: dict[str, list[str]] = {}
    for moment in moments:
        believed = [r for r in facts if r.recorded_at <= moment and (r.superseded_at is None or r.superseded_at > moment)]
        fields: dict[str, list[str]] = {}
        cited: dict[str, list[DerivedRow]] = defaultdict(list)
        for row in sorted(believed, key=lambda r: (r.valid_from, r.id)):
            name = PROFILE_FIELDS[row.attribute]
            value = _headline(row.text)
            if value not in fields.setdefault(name, []):
                fields[name].append(value)
            cited[name].append(row)
        if fields == previous:
            continue
        changes = [
            {"field": name, "before": previous.get(name, []), "after": fields.get(name, []),
             "turns": sorted({labels.get(t, t) for r in cited.get(name, []) if r.recorded_at == moment for t in r.turns})}
            for name in PROFILE_FIELDS.values() if previous.get(name, []) != fields.get(name, [])
        ]
        version = len(chain) + 1
        text = f"Client profile of {material.name or material.client_id} (version {version}, {moment:%d %b %Y}): " + " ".join(
            f"{name.capitalize()}: {'; '.join(values)}." for name, values in
            ((n, fields[n]) for n in PROFILE_FIELDS.values() if n in fields))
        fields_json = json.dumps(fields, sort_keys=True)
        chain.append(_Planned(
            id=stable_id("profile", material.scope, str(version), fields_json), level="profile", kind="profile",
            text=text, digest=_digest("profile", text, changes), importance=0.9, valid_from=moment, valid_to=None,
            recorded_at=moment, summarises=[r.id for r in believed],
            sources=list(dict.fromkeys(t for r in believed for t in r.turns)),
            extra={"version": version, "fields": fields_json, "changes": json.dumps(changes)}))
        previous = fields
    return chain


def _headline(text: str) -> str:
    """A fact's statement without the quote and date it carries ("Risk tolerance is moderate: “…” (said …)")."""
    return re.split(r":\s*“|\s\(said\s", text, maxsplit=1)[0].strip().rstrip(".")


def _consolidated_with() -> str:
    """What consolidates: a client consolidated by something else is due again (memory/graph/changes.py)."""
    return f"{DERIVATION_REVISION}:{_writer()}"


def _writer() -> str:
    """Who writes session summaries: part of their digest, so switching to an LLM rewrites them once."""
    return settings.TWIN_LLM or "extractive"


def _write_texts(changed: list[_Planned], material: ClientMaterial) -> None:
    """With TWIN_LLM, a chat model writes the session summaries about to be (re)written."""
    sessions = [item for item in changed if item.kind == "session" and item.llm_input]
    if not settings.TWIN_LLM or not sessions:
        return
    from langchain.chat_models import init_chat_model

    model = init_chat_model(settings.TWIN_LLM)
    for item in sessions:
        answer = model.invoke(
            "Summarise this conversation between a financial advisor and their client in at most five "
            "sentences: the client's goals, risk attitude, constraints, concerns, decisions and prices "
            f"mentioned. Use only what is said.\n\n{item.llm_input}")
        written = str(getattr(answer, "content", answer)).strip()
        if written:
            item.text = item.text.split(":", 1)[0] + ": " + written
