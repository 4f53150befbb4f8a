"""Turning recorded sessions, viewpoints and the twin's notes of its advice into memory: drain the
outbox into Neo4j.

The relational database is the system of record; Neo4j holds derived memory. An outbox row is only
marked stored after its graph write committed. When Neo4j (or the LLM extractor) is unavailable the
rows stay pending and the task retries. When one record fails on its own (the extractor raises, or
Neo4j rejects its data), it is isolated from its batch, retried with backoff and finally marked
failed with its error, while every record behind it flows on (docs/architecture.md, "outbox").
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, connections
from django.utils import timezone

from memory.embeddings import embed_texts, get_embeddings
from memory.extraction import ExtractionUnavailable, get_extractor
from memory.extraction.securities import sector_of
from memory.extraction.types import EntityRef, Extraction
from memory.graph import driver, episodes, facts, notes, session_versions
from memory.ids import stable_id
from memory.models import OutboxEntry
from memory.nodes import memory_properties
from memory.records import NoteRecord, SessionRecord, ViewpointRecord
from memory.scope import Reader, client_scope, firm_scope
from memory.services import outbox
from memory.services.agent_memory import note_properties
from memory.services.supersession import plan_supersession
from memory.signals import record_failed, records_stored

logger = logging.getLogger(__name__)

DRAIN_BATCH_TURNS = 2000  # turns per graph transaction: large enough for throughput, small enough to retry
TRANSIENT = (driver.GraphUnavailable, ExtractionUnavailable)  # the service is down, not the record wrong


@dataclass(frozen=True)
class DrainReport:
    sessions: int
    turns: int
    remaining: int
    failed: int = 0  # records isolated as failing on their own in this drain


def drain_outbox(max_sessions: int = 500, *, partition: tuple[int, int] | None = None) -> DrainReport:
    """Write due records to the graph, oldest first (of one partition of the clients: see
    `outbox.due_entries`). Raises GraphUnavailable/ExtractionUnavailable with the rows kept pending
    when a service is down."""
    entries = outbox.due_entries(max_sessions, partition=partition)
    session_entries = [e for e in entries if e.kind == OutboxEntry.Kind.SESSION]
    sessions_done, turns_done, failed = _ingest_pipelined(_chunks_by_turns(session_entries))
    viewpoint_entries = [e for e in entries if e.kind == OutboxEntry.Kind.VIEWPOINT]
    if viewpoint_entries:
        failed += _ingest_isolating(viewpoint_entries, _build_viewpoints)[2]
    note_entries = [e for e in entries if e.kind == OutboxEntry.Kind.NOTE]
    if note_entries:
        failed += _ingest_isolating(note_entries, _build_notes)[2]
    return DrainReport(sessions=sessions_done, turns=turns_done, remaining=outbox.pending_count(), failed=failed)


class DrainAlongside:
    """What `drain_alongside` drained, filled in when its `with` block ends."""

    report: DrainReport | None = None


@contextlib.contextmanager
def drain_alongside(workers: int, max_sessions: int = 1_000_000) -> Iterator[DrainAlongside]:
    """Drain the outbox in `workers` forked processes while the `with` block records more, each process
    draining one partition of the clients (`outbox.due_entries`), as `--defer` with that many Celery
    workers would. When the block ends, each drains what is left and stops.

    Why processes: a drain writes one graph transaction at a time, and Neo4j spends more of an import's
    CPU than Python (BENCHMARKS.md), so two drains write two transactions at once. Why alongside:
    recording is Python on one core with Neo4j idle (about a fifth of an import's time, measured), so
    draining the chunks already committed while the next are recorded keeps both cores busy. A child
    sees only committed records: with one worker, or inside a database transaction, this process drains
    once the block has ended. Raises what a drain raised (GraphUnavailable...) after every child has
    finished, the records of a failed partition left pending; an error of the block itself comes first.
    """
    drained = DrainAlongside()
    if workers <= 1 or connection.in_atomic_block:
        yield drained
        drained.report = drain_outbox(max_sessions)
        return
    get_embeddings()  # loaded once here and shared by the children, not loaded by each
    connections.close_all()  # each child opens its own database connection and Neo4j driver
    driver.close_driver()
    recording_done = multiprocessing.get_context("fork").Event()  # shared with the children it is forked into
    children = [_fork(lambda part=part: _drain_partition(part, workers, max_sessions, recording_done))
                for part in range(workers)]
    try:
        yield drained
    finally:
        recording_done.set()
        outcomes = [_outcome(child) for child in children]
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if failures:
        raise failures[0]
    drained.report = DrainReport(sessions=sum(r.sessions for r in outcomes), turns=sum(r.turns for r in outcomes),
                                 remaining=outbox.pending_count(), failed=sum(r.failed for r in outcomes))


POLL_SECONDS = 0.05  # how long a drain child waits for more records when none of its partition is due


def _drain_partition(part: int, parts: int, max_sessions: int, recording_done: Any) -> DrainReport:
    """Drain partition `part` until `recording_done` is set and a last drain has run after that."""
    sessions = turns = failed = 0
    try:
        while True:
            finished = recording_done.is_set()  # read first: everything recorded before it is due in this drain
            report = drain_outbox(max_sessions, partition=(part, parts))
            sessions, turns, failed = sessions + report.sessions, turns + report.turns, failed + report.failed
            if finished:
                return DrainReport(sessions=sessions, turns=turns, remaining=report.remaining, failed=failed)
            if not report.sessions and not report.failed:
                recording_done.wait(POLL_SECONDS)
    finally:
        connections.close_all()
        driver.close_driver()


def _fork(work: Callable[[], DrainReport]) -> tuple[int, int]:
    """Run `work` in a child forked with os.fork, which sends back its report or its exception through a
    pipe. Returns (pid, the pipe's read end) for `_outcome`.

    Not multiprocessing: its children first run the after-fork hooks libraries register, and kombu's
    closes the broker connections the child inherited. One still waiting on a BRPOP
    (`control.ping(limit=1)` leaves one, as /healthz and the test suite's worker check do) is read to
    its end from the socket the parent shares: the child hung there for ever (seen in the test suite).
    A drain never uses those connections, so its child leaves them alone.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        return pid, read_end
    try:  # the child: never returns into the parent's code
        os.close(read_end)
        try:
            outcome: DrainReport | BaseException = work()
        except BaseException as error:  # noqa: BLE001  (raised again in the parent, as a pool would)
            logger.exception("drain process %s failed", os.getpid())  # the traceback does not cross the pipe
            outcome = error
        try:
            data = pickle.dumps(outcome)
        except Exception:  # noqa: BLE001  (an exception that does not pickle still says what went wrong)
            data = pickle.dumps(RuntimeError(f"{type(outcome).__name__}: {outcome}"))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)
        logging.shutdown()
    finally:
        os._exit(0)


def _outcome(child: tuple[int, int]) -> DrainReport | BaseException:
    pid, read_end = child
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        return RuntimeError(f"drain process {pid} ended without a report (exit status {status})")
    return pickle.loads(data)  # noqa: S301  (written by our own child, through our own pipe)


def _chunks_by_turns(entries: list[OutboxEntry]) -> list[list[OutboxEntry]]:
    chunks: list[list[OutboxEntry]] = [[]]
    size = 0
    for entry in entries:
        turn_count = len(entry.payload.get("turns", ()))
        if chunks[-1] and size + turn_count > DRAIN_BATCH_TURNS:
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += turn_count
    return [chunk for chunk in chunks if chunk]


def _ingest_pipelined(chunks: list[list[OutboxEntry]]) -> tuple[int, int, int]:
    """`_ingest_isolating` for each chunk in order, with the next chunk's extraction and embedding
    (Python) done while Neo4j writes the one before (its server), on two cores instead of taking turns.

    Writes still happen one at a time and in order, each committed before the next starts, so the
    graph goes through the same states as chunk by chunk; all relational updates stay on this thread.
    Returns (stored, turns, failed).
    """
    totals = [0, 0, 0]

    def settle(chunk: list[OutboxEntry], builder: _BatchBuilder, write: Future) -> None:
        try:
            write.result()
        except Exception as error:  # noqa: BLE001  (handled as _ingest_isolating handles it)
            done = _after_failure(chunk, error, _build_sessions)
        else:
            _mark_stored(chunk)
            done = (len(chunk), builder.turn_count, 0)
        for index, value in enumerate(done):
            totals[index] += value

    in_flight: tuple[list[OutboxEntry], _BatchBuilder, Future] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="memory-graph-write") as writer:
        try:
            for chunk in chunks:
                try:
                    builder: _BatchBuilder | None = _prepared(chunk, _build_sessions)
                except Exception as error:  # noqa: BLE001  (settled below, after the write before it)
                    builder, build_error = None, error
                if in_flight is not None:
                    settling, in_flight = in_flight, None  # settled once: the finally must not settle it again
                    settle(*settling)
                if builder is None:
                    for index, value in enumerate(_after_failure(chunk, build_error, _build_sessions)):
                        totals[index] += value
                    continue
                in_flight = (chunk, builder, writer.submit(driver.write, _write_with_supersession, builder=builder))
            if in_flight is not None:
                settling, in_flight = in_flight, None
                settle(*settling)
        finally:
            if in_flight is not None:  # an unexpected error here: the write finishes, and counts if it committed
                with contextlib.suppress(Exception):
                    settle(*in_flight)
    return totals[0], totals[1], totals[2]


def _ingest_isolating(entries: list[OutboxEntry], build: Callable[[list[OutboxEntry]], "_BatchBuilder"]
                      ) -> tuple[int, int, int]:
    """Write the entries in one transaction; if that fails for a reason of the data, write them one by
    one so that only the record at fault is held back. Returns (stored, turns, failed)."""
    try:
        return len(entries), _ingest(entries, build), 0
    except Exception as error:  # noqa: BLE001  (an outage is raised again by _after_failure)
        return _after_failure(entries, error, build)


def _after_failure(entries: list[OutboxEntry], error: Exception,
                   build: Callable[[list[OutboxEntry]], "_BatchBuilder"]) -> tuple[int, int, int]:
    """An outage: record the attempt and raise. A record the extractor or Neo4j cannot take: find which."""
    if isinstance(error, TRANSIENT):
        _record_attempt(entries, error, isolated=False)
        raise error
    if len(entries) == 1:
        logger.warning("memory record %s:%s failed: %s", entries[0].kind, entries[0].object_id, error)
        _record_attempt(entries, error, isolated=True)
        return 0, 0, 1
    stored = turns = failed = 0
    for entry in entries:
        one_stored, one_turns, one_failed = _ingest_isolating([entry], build)
        stored, turns, failed = stored + one_stored, turns + one_turns, failed + one_failed
    return stored, turns, failed


def _prepared(entries: list[OutboxEntry], build: Callable[[list[OutboxEntry]], "_BatchBuilder"]) -> "_BatchBuilder":
    builder = build(entries)
    builder.embed()
    return builder


def _ingest(entries: list[OutboxEntry], build: Callable[[list[OutboxEntry]], "_BatchBuilder"]) -> int:
    builder = _prepared(entries, build)
    driver.write(_write_with_supersession, builder=builder)
    _mark_stored(entries)
    return builder.turn_count


def _mark_stored(entries: list[OutboxEntry]) -> None:
    now = timezone.now()
    OutboxEntry.objects.filter(pk__in=[entry.pk for entry in entries]).update(
        status=OutboxEntry.Status.STORED, processed_at=now, last_attempt_at=now, last_error="", next_attempt_at=None)
    for kind in {entry.kind for entry in entries}:
        records_stored.send(sender=OutboxEntry, kind=kind,
                            object_ids=[entry.object_id for entry in entries if entry.kind == kind])


def _build_sessions(entries: list[OutboxEntry]) -> "_BatchBuilder":
    extractor = get_extractor()
    builder = _BatchBuilder()
    for entry in entries:
        record = SessionRecord.from_payload(entry.payload)
        builder.add_session(record, extractor.extract(record.as_extraction_input()))
    return builder


def _build_viewpoints(entries: list[OutboxEntry]) -> "_BatchBuilder":
    builder = _BatchBuilder()
    for entry in entries:
        builder.add_viewpoint(ViewpointRecord.from_payload(entry.payload))
    return builder


def _build_notes(entries: list[OutboxEntry]) -> "_BatchBuilder":
    builder = _BatchBuilder()
    for entry in entries:
        builder.add_note(NoteRecord.from_payload(entry.payload))
    return builder


def _record_attempt(entries: list[OutboxEntry], error: Exception, *, isolated: bool) -> None:
    """Keep the attempt and its reason for the portal. Only a record failing on its own (isolated)
    moves towards `failed`; an outage just waits for the service."""
    now = timezone.now()
    message = str(error)[:2000] or error.__class__.__name__
    for entry in entries:
        attempts = entry.attempts + 1
        final = isolated and attempts >= outbox.MAX_ATTEMPTS
        OutboxEntry.objects.filter(pk=entry.pk).update(
            attempts=attempts, last_error=message, last_attempt_at=now,
            next_attempt_at=now + outbox.retry_after_backoff(attempts) if isolated and not final else None,
            status=OutboxEntry.Status.FAILED if final else OutboxEntry.Status.PENDING)
        if isolated:
            record_failed.send(sender=OutboxEntry, kind=entry.kind, object_id=entry.object_id, error=message,
                               final=final)


def _write_with_supersession(tx, builder: "_BatchBuilder") -> None:
    if not builder.batch.is_empty():
        episodes.write_batch(tx, builder.batch)
    notes.write_notes(tx, builder.notes)
    slots = {(pair["scope"], pair["slot"]) for pair in builder.fact_slots()}
    # The versions this batch corrects, and any version in it that a correction already in the graph replaced;
    # their slots are planned again without them.
    for retirement in [*builder.retirements, *session_versions.corrections_of(tx, builder.written_sessions)]:
        slots.update((pair["scope"], pair["slot"]) for pair in session_versions.retire_session_version(tx, **retirement))
    pairs = [{"scope": scope, "slot": slot} for scope, slot in sorted(slots)]
    plan = plan_supersession(facts.slot_histories(tx, pairs))
    facts.apply_supersessions(tx, plan.closes, plan.links)


class _BatchBuilder:
    """Builds the graph rows for sessions and their extraction, embedding all texts in one call."""

    def __init__(self) -> None:
        self.batch = episodes.GraphBatch()
        self.turn_count = 0
        self._texts: list[tuple[dict[str, Any], str]] = []
        self._securities: dict[str, dict[str, Any]] = {}
        self._slots: set[tuple[str, str]] = set()
        self._clients: set[str] = set()
        self.retirements: list[dict[str, Any]] = []  # session versions replaced by a correction in this batch
        self.written_sessions: list[dict[str, str]] = []  # {scope, session_id, session_node} of this batch
        self.notes: list[dict[str, Any]] = []  # notes.note_row rows: the twin's notes of its advice

    def fact_slots(self) -> list[dict[str, str]]:
        return [{"scope": scope, "slot": slot} for scope, slot in sorted(self._slots)]

    def embed(self) -> None:
        """One call for the whole batch, each distinct text once ("Thanks." in every session)."""
        distinct = list(dict.fromkeys(text for _, text in self._texts))
        vectors = dict(zip(distinct, embed_texts(distinct), strict=True))
        for props, text in self._texts:
            props["embedding"] = vectors[text]
        self.batch.securities = list(self._securities.values())

    def add_session(self, record: SessionRecord, extraction: Extraction) -> None:
        firm_id, client_id = record.firm_id, record.client_id
        scope = client_scope(firm_id, client_id)
        ingested_at = timezone.now()

        def memory(level: str, kind: str, text: str, importance: float, valid_from: datetime,
                   recorded_at: datetime, **extra: Any) -> dict[str, Any]:
            return memory_properties(firm_id=firm_id, client_id=client_id, level=level, kind=kind, text=text,
                                     importance=importance, source=f"session:{record.session_id}",
                                     valid_from=valid_from, recorded_at=recorded_at, created_at=ingested_at,
                                     session_id=record.session_id, **extra)

        if scope not in self._clients:
            self._clients.add(scope)
            self.batch.clients.append({"id": scope, "props": {
                "kind": "client", "key": client_id, "firm_id": firm_id, "client_id": client_id,
                "scope": scope, "name": record.client_name}})
        session_node = stable_id("session", scope, record.session_id)
        self.written_sessions.append({"scope": scope, "session_id": record.session_id, "session_node": session_node})
        correction: dict[str, Any] = {}
        if record.replaces:
            correction = {"replaces": record.replaces, "correction_reason": record.correction_reason or "corrected"}
            self.retirements.append({
                "scope": scope, "session_id": record.replaces, "session_node": stable_id("session", scope, record.replaces),
                "replaced_by": record.session_id, "reason": correction["correction_reason"], "at": ingested_at})
        self.batch.add_session(session_node, scope, {
            "session_id": record.session_id, "firm_id": firm_id, "client_id": client_id, "scope": scope,
            "channel": record.channel, "started_at": record.started_at, "participants": list(record.participants),
            **correction})

        turn_nodes: dict[str, str] = {}
        turn_times: dict[str, datetime] = {}
        for position, turn in enumerate(record.turns):
            node = stable_id("turn", scope, record.session_id, turn.turn_id)
            turn_nodes[turn.turn_id] = node
            turn_times[turn.turn_id] = turn.at
            text = f"{turn.speaker}: {turn.text}"
            props = memory("turn", "turn", text, 0.3, turn.at, turn.at, turn_id=turn.turn_id,
                           session_key=session_node, position=position, speaker=turn.speaker, role=turn.role)
            self.batch.add_turn(session_node, node, props)
            self._texts.append((props, text))
            for ref in extraction.turn_entities.get(turn.turn_id, ()):
                self._link_entity(scope, node, ref, mention=True)
        self.turn_count += len(record.turns)

        def learned_at(turn_ids: tuple[str, ...]) -> datetime:
            return max((turn_times[t] for t in turn_ids if t in turn_times), default=record.started_at)

        for fact in extraction.facts:
            turn_ids = tuple(t for t in fact.turn_ids if t in turn_nodes)
            if not turn_ids:
                continue
            node = stable_id("fact", scope, fact.slot, fact.value, record.session_id, turn_ids[0])
            props = memory("fact", fact.attribute, fact.text, fact.importance, fact.valid_from, learned_at(turn_ids),
                           attribute=fact.attribute, slot=fact.slot, value=fact.value, amount=fact.amount,
                           currency=fact.currency, target_date=fact.target_date)
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
            node = stable_id("observation", scope, record.session_id, observation.kind, observation.text, *turn_ids)
            props = memory("observation", observation.kind, observation.text, observation.importance,
                           observation.at, learned_at(turn_ids), sentiment=observation.sentiment)
            self._queue("Event" if observation.kind == "event" else "Observation", node, props, observation.text)
            self._derive(node, turn_ids, turn_nodes)
            self.batch.about.append({"memory": node, "entity": scope})
            for ref in observation.entities:
                self._link_entity(scope, node, ref, mention=False)

        for mention in extraction.price_mentions:
            if mention.turn_id not in turn_nodes:
                continue
            node = stable_id("price", scope, record.session_id, mention.turn_id, mention.symbol, str(mention.price))
            text = f"{mention.symbol} at {mention.price:.2f} {mention.currency} (said {mention.at:%d %b %Y}): {mention.text}"
            props = memory("observation", "price_mention", text, 0.5, mention.at, mention.at, symbol=mention.symbol,
                           price=float(mention.price), currency=mention.currency, mentioned_at=mention.at)
            self._queue("PriceMention", node, props, text)
            self._add_security(mention.symbol, mention.symbol)
            self._derive(node, (mention.turn_id,), turn_nodes)
            self.batch.price_of.append({"memory": node, "symbol": mention.symbol})
            self.batch.add_tracking(scope, mention.symbol, float(mention.price), mention.at)

    def add_viewpoint(self, view: ViewpointRecord) -> None:
        """A viewpoint is a firm-shared fact in the slot `viewpoint:SYMBOL`: a newer view supersedes it."""
        target = f", target {view.target_price:.2f}" if view.target_price is not None else ""
        horizon = f" within {view.horizon_months} months" if view.horizon_months else ""
        text = (f"Analyst view on {view.symbol} by {view.analyst} ({view.published_at:%d %b %Y}): "
                f"{view.stance.upper()}{target}{horizon}. {view.rationale}")
        node = stable_id("viewpoint", view.firm_id, view.viewpoint_id)
        slot = f"viewpoint:{view.symbol}"
        props = memory_properties(
            firm_id=view.firm_id, client_id=None, level="fact", kind="viewpoint", text=text, importance=0.7,
            source=f"viewpoint:{view.viewpoint_id}", valid_from=view.published_at, recorded_at=view.published_at,
            created_at=timezone.now(), attribute="viewpoint", slot=slot,
            value=f"{view.stance}:{view.target_price}", symbol=view.symbol, stance=view.stance,
            analyst=view.analyst, target_price=view.target_price, horizon_months=view.horizon_months)
        self._queue("Viewpoint", node, props, text)
        self._slots.add((firm_scope(view.firm_id), slot))
        self._add_security(view.symbol, view.symbol)
        self.batch.viewpoint_on.append({"memory": node, "symbol": view.symbol})

    def add_note(self, note: NoteRecord) -> None:
        """The twin's note of its advice, as `agent_memory.remember` would have written it then."""
        props = note_properties(firm_id=note.firm_id, client_id=note.client_id, text=note.text, source=note.source,
                                importance=note.importance, noted_at=note.noted_at)
        reader = Reader(note.firm_id, note.client_id)
        self.notes.append(notes.note_row(note.memory_id, props, props["scope"], cites=note.cites,
                                         readable_scopes=reader.scopes))
        self._texts.append((props, note.text))

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
            entity_id, entity_scope = episodes.sector_id(ref.key), "global"
        else:
            entity_id, entity_scope = stable_id(ref.kind, scope, ref.key), scope
        self.batch.add_entity(ref.kind, entity_id, {"kind": ref.kind, "key": ref.key, "name": ref.name,
                                                    "scope": entity_scope})
        rows = self.batch.mentions if mention else self.batch.about
        rows.append({"turn" if mention else "memory": memory_node, "entity": entity_id})
