"""Turning recorded sessions into memory: drain the outbox into Neo4j.

The relational database is the system of record; Neo4j holds derived memory. An outbox row is only
marked processed after its graph write committed, so when Neo4j is down the row stays, the session
shows "pending memory" in the portal, and the next drain (retry or beat sweep) picks it up.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from advisor.models import ConversationSession, Viewpoint
from memory import scope as memory_scope
from memory.embeddings import embed_texts
from memory.extraction import ExtractionUnavailable, get_extractor
from memory.extraction.securities import sector_of
from memory.extraction.types import EntityRef, Extraction, SessionInput, TurnInput
from memory.graph import driver, episodes, facts
from memory.ids import stable_id
from memory.models import OutboxEntry
from memory.services.supersession import FactVersion, plan_supersession

logger = logging.getLogger(__name__)

DRAIN_BATCH_TURNS = 2000  # turns per graph transaction: large enough for throughput, small enough to retry


@dataclass(frozen=True)
class DrainReport:
    sessions: int
    turns: int
    remaining: int


def drain_outbox(max_sessions: int = 500) -> DrainReport:
    """Write pending records to the graph, oldest first. Raises GraphUnavailable with rows kept."""
    entries = list(OutboxEntry.objects.filter(processed_at__isnull=True).order_by("id")[:max_sessions])
    sessions_done = turns_done = 0
    for chunk in _chunks_by_turns([e for e in entries if e.kind == OutboxEntry.Kind.SESSION]):
        turns_done += _ingest_chunk(chunk)
        sessions_done += len(chunk)
    viewpoint_entries = [e for e in entries if e.kind == OutboxEntry.Kind.VIEWPOINT]
    if viewpoint_entries:
        _ingest_viewpoints(viewpoint_entries)
    remaining = OutboxEntry.objects.filter(processed_at__isnull=True).count()
    return DrainReport(sessions=sessions_done, turns=turns_done, remaining=remaining)


def _chunks_by_turns(entries: list[OutboxEntry]) -> list[list[tuple[OutboxEntry, ConversationSession]]]:
    sessions = {
        s.pk: s
        for s in ConversationSession.objects.filter(pk__in=[e.object_id for e in entries])
        .select_related("client__firm")
        .prefetch_related("turns")
    }
    chunks: list[list[tuple[OutboxEntry, ConversationSession]]] = [[]]
    size = 0
    for entry in entries:
        session = sessions.get(entry.object_id)
        if session is None:  # the session was erased after it was queued: nothing left to remember
            OutboxEntry.objects.filter(pk=entry.pk).update(processed_at=timezone.now())
            continue
        turn_count = len(session.turns.all())
        if chunks[-1] and size + turn_count > DRAIN_BATCH_TURNS:
            chunks.append([])
            size = 0
        chunks[-1].append((entry, session))
        size += turn_count
    return [chunk for chunk in chunks if chunk]


def _ingest_chunk(chunk: list[tuple[OutboxEntry, ConversationSession]]) -> int:
    extractor = get_extractor()
    builder = _BatchBuilder()
    try:
        for _, session in chunk:
            session_input = session_input_for(session)
            builder.add_session(session, session_input, extractor.extract(session_input))
    except ExtractionUnavailable as error:
        _record_failure([entry for entry, _ in chunk], error)
        raise
    _write(builder, [entry for entry, _ in chunk])
    ConversationSession.objects.filter(pk__in=[s.pk for _, s in chunk]).update(
        memory_status=ConversationSession.MemoryStatus.STORED, memory_error=""
    )
    return builder.turn_count


def _ingest_viewpoints(entries: list[OutboxEntry]) -> None:
    viewpoints = Viewpoint.objects.filter(pk__in=[e.object_id for e in entries]).select_related("firm", "analyst")
    builder = _BatchBuilder()
    for viewpoint in viewpoints:
        builder.add_viewpoint(viewpoint)
    _write(builder, entries)
    Viewpoint.objects.filter(pk__in=[v.pk for v in viewpoints]).update(
        memory_status=ConversationSession.MemoryStatus.STORED
    )


def _write(builder: "_BatchBuilder", entries: list[OutboxEntry]) -> None:
    """One graph transaction for the batch; the outbox rows are closed only after it commits."""
    builder.embed()
    try:
        driver.write(_write_with_supersession, builder=builder)
    except driver.GraphUnavailable as error:
        _record_failure(entries, error)
        raise
    now = timezone.now()
    OutboxEntry.objects.filter(pk__in=[entry.pk for entry in entries]).update(
        processed_at=now, last_attempt_at=now, last_error=""
    )


def _record_failure(entries: list[OutboxEntry], error: Exception) -> None:
    """The rows stay pending; the attempt and its reason are kept for the portal and the audit."""
    now = timezone.now()
    for entry in entries:
        OutboxEntry.objects.filter(pk=entry.pk).update(
            attempts=entry.attempts + 1, last_error=str(error)[:2000], last_attempt_at=now
        )


def _write_with_supersession(tx, builder: "_BatchBuilder") -> None:
    episodes.write_batch(tx, builder.batch)
    history = facts.slot_histories(tx, builder.fact_slots())
    versions = [
        FactVersion(
            id=row["id"], scope=row["scope"], slot=row["slot"], value=row["value"],
            valid_from=row["valid_from"].to_native(), recorded_at=row["recorded_at"].to_native(),
        )
        for row in history
    ]
    plan = plan_supersession(versions)
    facts.apply_supersessions(tx, plan.closes, plan.links)


def session_input_for(session: ConversationSession) -> SessionInput:
    return SessionInput(
        session_id=session.external_id,
        client_id=session.client.external_id,
        started_at=session.started_at,
        channel=session.channel,
        turns=tuple(
            TurnInput(
                turn_id=turn.external_id,
                speaker=turn.speaker,
                role=turn.role,
                text=turn.text,
                at=turn.spoken_at or session.started_at,
            )
            for turn in session.turns.all()
        ),
    )


class _BatchBuilder:
    """Builds the graph rows for sessions and their extraction, embedding all texts in one call."""

    def __init__(self) -> None:
        self.batch = episodes.GraphBatch()
        self.turn_count = 0
        self._texts: list[tuple[dict[str, Any], str]] = []
        self._securities: dict[str, dict[str, Any]] = {}
        self._slots: set[tuple[str, str]] = set()
        self._clients: set[str] = set()

    def fact_slots(self) -> list[dict[str, str]]:
        return [{"scope": scope, "slot": slot} for scope, slot in sorted(self._slots)]

    def embed(self) -> None:
        vectors = embed_texts([text for _, text in self._texts])
        for (props, _), vector in zip(self._texts, vectors, strict=True):
            props["embedding"] = vector
        self.batch.securities = list(self._securities.values())

    def add_session(self, session: ConversationSession, data: SessionInput, extraction: Extraction) -> None:
        firm_id = session.client.firm.slug
        client_id = session.client.external_id
        scope = memory_scope.client_scope(firm_id, client_id)
        ingested_at = timezone.now()
        common = {"firm_id": firm_id, "client_id": client_id, "scope": scope, "visibility": "client",
                  "status": "active", "created_at": ingested_at, "source": f"session:{data.session_id}"}
        if scope not in self._clients:
            self._clients.add(scope)
            self.batch.clients.append({"id": scope, "props": {
                "kind": "client", "key": client_id, "firm_id": firm_id, "client_id": client_id,
                "scope": scope, "name": session.client.name}})
        session_node = stable_id("session", scope, data.session_id)
        self.batch.add_session(session_node, scope, {
            "session_id": data.session_id, "firm_id": firm_id, "client_id": client_id, "scope": scope,
            "channel": data.channel, "started_at": data.started_at, "participants": list(session.participants)})

        turn_nodes: dict[str, str] = {}
        turn_times: dict[str, datetime] = {}
        previous: str | None = None
        for position, turn in enumerate(data.turns):
            node = stable_id("turn", scope, data.session_id, turn.turn_id)
            turn_nodes[turn.turn_id] = node
            turn_times[turn.turn_id] = turn.at
            text = f"{turn.speaker}: {turn.text}"
            props = {**common, "level": "turn", "kind": "turn", "text": text, "turn_id": turn.turn_id,
                     "session_id": data.session_id, "session_key": session_node, "position": position,
                     "speaker": turn.speaker, "role": turn.role, "importance": 0.3,
                     "valid_from": turn.at, "recorded_at": turn.at}
            self._queue("Turn", node, props, text)
            self.batch.has_turn.append({"session": session_node, "turn": node})
            if previous:
                self.batch.next_turn.append({"source": previous, "target": node})
            previous = node
            for ref in extraction.turn_entities.get(turn.turn_id, ()):
                self._link_entity(scope, node, ref, mention=True)
        self.turn_count += len(data.turns)

        def learned_at(turn_ids: tuple[str, ...]) -> datetime:
            return max((turn_times[t] for t in turn_ids if t in turn_times), default=data.started_at)

        for fact in extraction.facts:
            turn_ids = tuple(t for t in fact.turn_ids if t in turn_nodes)
            if not turn_ids:
                continue
            node = stable_id("fact", scope, fact.slot, fact.value, data.session_id, turn_ids[0])
            props = {**common, "level": "fact", "kind": fact.attribute, "attribute": fact.attribute,
                     "slot": fact.slot, "value": fact.value, "text": fact.text, "importance": fact.importance,
                     "valid_from": fact.valid_from, "recorded_at": learned_at(turn_ids),
                     "amount": fact.amount, "currency": fact.currency, "target_date": fact.target_date,
                     "session_id": data.session_id}
            self._queue("Fact", node, props, fact.text)
            self._slots.add((scope, fact.slot))
            self._derive(node, turn_ids, turn_nodes)
            self.batch.about.append({"memory": node, "entity": scope})
            for ref in fact.entities:
                self._link_entity(scope, node, ref, mention=False)

        for observation in extraction.observations:
            turn_ids = tuple(t for t in observation.turn_ids if t in turn_nodes)
            if not turn_ids:
                continue
            node = stable_id("observation", scope, data.session_id, observation.kind, observation.text, *turn_ids)
            props = {**common, "level": "observation", "kind": observation.kind, "text": observation.text,
                     "importance": observation.importance, "sentiment": observation.sentiment,
                     "valid_from": observation.at, "recorded_at": learned_at(turn_ids),
                     "session_id": data.session_id}
            self._queue("Event" if observation.kind == "event" else "Observation", node, props, observation.text)
            self._derive(node, turn_ids, turn_nodes)
            self.batch.about.append({"memory": node, "entity": scope})
            for ref in observation.entities:
                self._link_entity(scope, node, ref, mention=False)

        for mention in extraction.price_mentions:
            if mention.turn_id not in turn_nodes:
                continue
            node = stable_id("price", scope, data.session_id, mention.turn_id, mention.symbol, str(mention.price))
            text = f"{mention.symbol} at {mention.price:.2f} {mention.currency} (said {mention.at:%d %b %Y}): {mention.text}"
            props = {**common, "level": "observation", "kind": "price_mention", "symbol": mention.symbol,
                     "price": float(mention.price), "currency": mention.currency, "mentioned_at": mention.at,
                     "text": text, "importance": 0.5, "valid_from": mention.at, "recorded_at": mention.at,
                     "session_id": data.session_id}
            self._queue("PriceMention", node, props, text)
            self._add_security(mention.symbol, mention.symbol)
            self._derive(node, (mention.turn_id,), turn_nodes)
            self.batch.price_of.append({"memory": node, "symbol": mention.symbol})
            self.batch.add_tracking(scope, mention.symbol, float(mention.price), mention.at)

    def add_viewpoint(self, viewpoint: Viewpoint) -> None:
        """A viewpoint is a firm-shared fact in the slot `viewpoint:SYMBOL`: a newer view supersedes it."""
        firm_id = viewpoint.firm.slug
        scope = memory_scope.firm_scope(firm_id)
        analyst = viewpoint.analyst.get_full_name() or viewpoint.analyst.username
        target = f", target {viewpoint.target_price:.2f}" if viewpoint.target_price is not None else ""
        horizon = f" within {viewpoint.horizon_months} months" if viewpoint.horizon_months else ""
        text = (f"Analyst view on {viewpoint.symbol} by {analyst} ({viewpoint.published_at:%d %b %Y}): "
                f"{viewpoint.get_stance_display().upper()}{target}{horizon}. {viewpoint.rationale}")
        node = stable_id("viewpoint", firm_id, str(viewpoint.pk))
        props = {"firm_id": firm_id, "client_id": None, "scope": scope, "visibility": "firm", "status": "active",
                 "created_at": timezone.now(), "source": f"viewpoint:{viewpoint.pk}", "level": "fact",
                 "kind": "viewpoint", "attribute": "viewpoint", "slot": f"viewpoint:{viewpoint.symbol}",
                 "value": f"{viewpoint.stance}:{viewpoint.target_price}", "symbol": viewpoint.symbol,
                 "stance": viewpoint.stance, "analyst": analyst, "text": text, "importance": 0.7,
                 "target_price": float(viewpoint.target_price) if viewpoint.target_price is not None else None,
                 "horizon_months": viewpoint.horizon_months, "valid_from": viewpoint.published_at,
                 "recorded_at": viewpoint.published_at}
        self._queue("Viewpoint", node, props, text)
        self._slots.add((scope, props["slot"]))
        self._add_security(viewpoint.symbol, viewpoint.symbol)
        self.batch.viewpoint_on.append({"memory": node, "symbol": viewpoint.symbol})

    def _queue(self, label: str, node: str, props: dict[str, Any], text: str) -> None:
        self.batch.add_memory(label, node, props)
        self._texts.append((props, text))

    def _derive(self, node: str, turn_ids: tuple[str, ...], turn_nodes: dict[str, str]) -> None:
        for turn_id in dict.fromkeys(turn_ids):
            self.batch.derived_from.append({"memory": node, "turn": turn_nodes[turn_id]})

    def _add_security(self, symbol: str, name: str) -> None:
        if symbol not in self._securities:
            self._securities[symbol] = {"symbol": symbol, "name": name, "sector": sector_of(symbol)}
        elif name != symbol:
            self._securities[symbol]["name"] = name

    def _link_entity(self, scope: str, memory_node: str, ref: EntityRef, *, mention: bool) -> None:
        if ref.kind == "security":
            self._add_security(ref.key, ref.name)
            rows = self.batch.mentions_security if mention else self.batch.about_security
            rows.append({"turn" if mention else "memory": memory_node, "symbol": ref.key})
            return
        if ref.kind not in episodes.ENTITY_LABELS:
            return
        if ref.kind == "sector":
            entity_id, entity_scope = f"sector:{ref.key.lower()}", "global"
        else:
            entity_id, entity_scope = stable_id(ref.kind, scope, ref.key), scope
        self.batch.add_entity(ref.kind, entity_id, {"kind": ref.kind, "key": ref.key, "name": ref.name,
                                                    "scope": entity_scope})
        rows = self.batch.mentions if mention else self.batch.about
        rows.append({"turn" if mention else "memory": memory_node, "entity": entity_id})
