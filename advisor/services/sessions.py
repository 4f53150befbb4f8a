"""Recording client sessions: the relational record, its outbox entry and its audit row, in one transaction.

Memory is derived later by the `memory.drain_outbox` task, so a session is never lost when Neo4j is
down: it stays "pending memory" until the graph takes it (docs/architecture.md, "a session's way").
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from advisor.models import Client, ConversationSession, ConversationTurn, SessionMemoryState, User
from audit import services as audit
from memory.extraction.types import TurnInput
from memory.records import SessionRecord
from memory.services import outbox
from memory.tasks import nudge_outbox_drain

MAX_TURNS_PER_SESSION = 5000
MAX_TURN_CHARS = 20_000
# The columns' own limits: PostgreSQL refuses longer values (and SQLite would silently keep them).
_TURN_ID_CHARS = ConversationTurn._meta.get_field("external_id").max_length
_SPEAKER_CHARS = ConversationTurn._meta.get_field("speaker").max_length
_ROLE_CHARS = ConversationTurn._meta.get_field("role").max_length


class SessionRejected(ValueError):
    """The session cannot be recorded as given; the message says what to fix."""


@dataclass(frozen=True)
class TurnDraft:
    turn_id: str
    speaker: str
    text: str
    at: datetime | None = None


@dataclass(frozen=True)
class SessionDraft:
    session_id: str
    channel: str
    started_at: datetime
    participants: dict[str, str] = field(default_factory=dict)
    turns: tuple[TurnDraft, ...] = ()

    def content_hash(self) -> str:
        payload = {
            "channel": self.channel,
            "started_at": self.started_at.isoformat(),
            "participants": self.participants,
            "turns": [[t.turn_id, t.speaker, t.text, t.at.isoformat() if t.at else None] for t in self.turns],
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class RecordOutcome:
    session: ConversationSession
    created: bool  # False when the identical session was already recorded (idempotent re-import)


def _refuse_nul_characters(draft: SessionDraft) -> None:
    """PostgreSQL stores no NUL character (SQLite does), and a refused row aborts its whole transaction."""
    values = [("a participant's name or role", f"{name}: {role}") for name, role in draft.participants.items()]
    values += [(f"turn {turn.turn_id[:40]!r}", f"{turn.turn_id} {turn.speaker}: {turn.text}") for turn in draft.turns]
    for where, value in values:
        if "\x00" in value:
            raise SessionRejected(
                f"session {draft.session_id!r}: {where} contains a NUL character (\\u0000), which cannot be stored")


def _once_more_if_recorded_meanwhile(record: Callable[..., RecordOutcome]) -> Callable[..., RecordOutcome]:
    """Another transaction may record the same session after `record` looked for it: SQLite serialises
    writers, but PostgreSQL runs both until the unique constraint stops the second with IntegrityError.
    Its row is visible then, so the second try reports it unchanged (or refuses different content);
    any other integrity error recurs."""

    @functools.wraps(record)
    def record_once_more_if_needed(**kwargs: Any) -> RecordOutcome:
        try:
            return record(**kwargs)
        except IntegrityError:
            return record(**kwargs)

    return record_once_more_if_needed


def validate_draft(draft: SessionDraft) -> None:
    if not draft.turns:
        raise SessionRejected(f"session {draft.session_id!r} has no turns")
    if len(draft.turns) > MAX_TURNS_PER_SESSION:
        raise SessionRejected(f"session {draft.session_id!r} has more than {MAX_TURNS_PER_SESSION} turns")
    if draft.started_at.tzinfo is None:
        raise SessionRejected(f"session {draft.session_id!r}: started_at needs a time zone (e.g. 'Z' or '+01:00')")
    if draft.channel not in ConversationSession.Channel.values:
        raise SessionRejected(
            f"session {draft.session_id!r}: channel {draft.channel!r} is not one of "
            f"{', '.join(ConversationSession.Channel.values)}"
        )
    for name, role in draft.participants.items():
        if len(name) > _SPEAKER_CHARS or len(role) > _ROLE_CHARS:
            raise SessionRejected(
                f"session {draft.session_id!r}: participant {name[:40]!r} needs a name of at most {_SPEAKER_CHARS} "
                f"and a role of at most {_ROLE_CHARS} characters")
    seen: set[str] = set()
    for turn in draft.turns:
        if len(turn.turn_id) > _TURN_ID_CHARS or len(turn.speaker) > _SPEAKER_CHARS:
            raise SessionRejected(
                f"session {draft.session_id!r}: turn {turn.turn_id[:40]!r} needs a turn_id of at most {_TURN_ID_CHARS} "
                f"and a speaker of at most {_SPEAKER_CHARS} characters")
        if not turn.turn_id or not turn.text.strip():
            raise SessionRejected(f"session {draft.session_id!r}: every turn needs a turn_id and some text")
        if turn.turn_id in seen:
            raise SessionRejected(f"session {draft.session_id!r}: turn_id {turn.turn_id!r} appears twice")
        if len(turn.text) > MAX_TURN_CHARS:
            raise SessionRejected(f"session {draft.session_id!r}: turn {turn.turn_id!r} is longer than {MAX_TURN_CHARS} characters")
        if turn.at is not None and turn.at.tzinfo is None:
            raise SessionRejected(f"session {draft.session_id!r}: turn {turn.turn_id!r} 'at' needs a time zone")
        seen.add(turn.turn_id)
    _refuse_nul_characters(draft)


@_once_more_if_recorded_meanwhile
def record_session(*, client: Client, draft: SessionDraft, recorded_by: User | None = None,
                   actor: str | None = None) -> RecordOutcome:
    """Save the session and queue it for memory. Re-recording identical content changes nothing.

    The caller decides when a worker drains the outbox: a page nudges one (`record_session_notes`),
    an import drains it itself.
    """
    validate_draft(draft)
    digest = draft.content_hash()
    with transaction.atomic():
        existing = ConversationSession.objects.filter(client=client, external_id=draft.session_id, version=1).first()
        if existing is not None:
            if existing.content_hash != digest:
                raise SessionRejected(
                    f"session {draft.session_id!r} for client {client.external_id!r} was already recorded "
                    "with different content; give the new version a new session_id"
                )
            return RecordOutcome(existing, created=False)
        session = _save_version(client=client, draft=draft, recorded_by=recorded_by)
        audit.record(action="session.recorded", actor=actor or (recorded_by.username if recorded_by else "import"),
                     firm_id=client.firm.slug, client_id=client.external_id, target=f"session:{draft.session_id}",
                     detail={"turns": len(draft.turns), "channel": draft.channel})
    return RecordOutcome(session, created=True)


def record_sessions(*, drafts: list[tuple[Client, SessionDraft]], actor: str) -> list[RecordOutcome | SessionRejected]:
    """`record_session` for many new sessions at once (an import's chunk), in the caller's transaction.

    The same rows, outbox entries and audit entries (one per session, in order) as one call per
    session, in a handful of statements instead of about a dozen per session. One outcome per draft,
    in order: a refused draft gets its SessionRejected and records nothing; a draft repeated in the
    list counts as recorded meanwhile. If another transaction records one of them at the same time
    (the unique constraint stops this one), they are recorded one by one, as `record_session` does.
    """
    try:
        with transaction.atomic():
            return _record_new_versions(drafts, actor)
    except IntegrityError:
        outcomes: list[RecordOutcome | SessionRejected] = []
        for client, draft in drafts:
            try:
                outcomes.append(record_session(client=client, draft=draft, actor=actor))
            except SessionRejected as error:
                outcomes.append(error)
        return outcomes


def _record_new_versions(drafts: list[tuple[Client, SessionDraft]], actor: str
                         ) -> list[RecordOutcome | SessionRejected]:
    outcomes: list[RecordOutcome | SessionRejected | None] = [None] * len(drafts)
    digests: list[str] = []
    for index, (_, draft) in enumerate(drafts):
        try:
            validate_draft(draft)
        except SessionRejected as error:
            outcomes[index] = error
        digests.append(draft.content_hash())
    recorded = {(session.client_id, session.external_id): session for session in ConversationSession.objects.filter(
        client_id__in={client.pk for client, _ in drafts}, external_id__in={draft.session_id for _, draft in drafts},
        version=1)}
    new: list[int] = []
    for index, (client, draft) in enumerate(drafts):
        if outcomes[index] is not None:
            continue
        existing = recorded.get((client.pk, draft.session_id))
        if existing is None:
            recorded[(client.pk, draft.session_id)] = ConversationSession(
                client=client, external_id=draft.session_id, version=1, channel=draft.channel,
                started_at=draft.started_at, participants=draft.participants, content_hash=digests[index])
            new.append(index)
        elif existing.content_hash != digests[index]:
            outcomes[index] = SessionRejected(
                f"session {draft.session_id!r} for client {client.external_id!r} was already recorded "
                "with different content; give the new version a new session_id")
        else:
            outcomes[index] = RecordOutcome(existing, created=False)
    sessions = ConversationSession.objects.bulk_create([recorded[(drafts[i][0].pk, drafts[i][1].session_id)]
                                                        for i in new])
    _insert_turns((session, drafts[index][1]) for index, session in zip(new, sessions, strict=True))
    SessionMemoryState.objects.bulk_create(SessionMemoryState(session=session) for session in sessions)
    outbox.enqueue_sessions([(session_record(drafts[index][0], drafts[index][1],
                                             memory_session_id=session.memory_session_id), session.pk)
                             for index, session in zip(new, sessions, strict=True)])
    audit.record_many([{"action": "session.recorded", "actor": actor, "firm_id": drafts[index][0].firm.slug,
                        "client_id": drafts[index][0].external_id, "target": f"session:{drafts[index][1].session_id}",
                        "detail": {"turns": len(drafts[index][1].turns), "channel": drafts[index][1].channel}}
                       for index in new])
    for index, session in zip(new, sessions, strict=True):
        outcomes[index] = RecordOutcome(session, created=True)
    return outcomes  # type: ignore[return-value]  # every slot is filled above


def _save_version(*, client: Client, draft: SessionDraft, recorded_by: User | None,
                  previous: ConversationSession | None = None, reason: str = "") -> ConversationSession:
    """One version of a session: the row, its turns, its memory state and its outbox entry."""
    session = ConversationSession.objects.create(
        client=client,
        external_id=draft.session_id,
        version=previous.version + 1 if previous else 1,
        original=(previous.original or previous) if previous else None,
        previous=previous,
        correction_reason=reason,
        channel=draft.channel,
        started_at=draft.started_at,
        participants=draft.participants,
        recorded_by=recorded_by,
        content_hash=draft.content_hash(),
    )
    _insert_turns([(session, draft)])
    SessionMemoryState.objects.create(session=session)
    record = session_record(client, draft, memory_session_id=session.memory_session_id,
                            replaces=previous.memory_session_id if previous else None, reason=reason)
    outbox.enqueue_session(record, object_id=session.pk)
    return session


_TURN_FIELDS = [ConversationTurn._meta.get_field(name)
                for name in ("session", "external_id", "position", "speaker", "role", "text", "spoken_at")]


def _insert_turns(sessions: Iterable[tuple[ConversationSession, SessionDraft]]) -> None:
    """Insert each saved session's turns, in order, with one parameterised INSERT run for every row.

    Not `bulk_create`: for an import's turns it built a model instance, prepared every value and
    assembled the SQL again for each batch of 999 parameters (SQLite's limit): about 4 times the CPU of
    this, and most of an import's recording (BENCHMARKS.md, session 11). The time a turn was spoken goes
    through its field's `get_db_prep_save`, as in `bulk_create`; the other values are plain strings and integers.
    """
    database = transaction.get_connection()
    table = database.ops.quote_name(ConversationTurn._meta.db_table)
    columns = ", ".join(database.ops.quote_name(field.column) for field in _TURN_FIELDS)
    prepare_time = functools.partial(_TURN_FIELDS[-1].get_db_prep_save, connection=database)
    rows = [(session.pk, turn.turn_id, position, turn.speaker, draft.participants.get(turn.speaker, ""), turn.text,
             prepare_time(turn.at))
            for session, draft in sessions for position, turn in enumerate(draft.turns)]
    if rows:
        with database.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(_TURN_FIELDS))})",
                               rows)


def current_version(session: ConversationSession) -> ConversationSession:
    """The newest version of the session `session` is a version of."""
    return (ConversationSession.objects.filter(client_id=session.client_id, external_id=session.external_id)
            .order_by("-version").first())


def correct_session(*, session: ConversationSession, author: User, notes: str, reason: str) -> ConversationSession:
    """An advisor corrects a session's notes: a new version (who, when, why) linked to the original.

    The record itself never changes; memory takes the new version through the outbox and moves the
    replaced version's memories out of the current view (memory/graph/session_versions.py).
    """
    if author.role != User.Role.ADVISOR:
        raise SessionRejected("Only advisors correct their clients' sessions.")
    reason = reason.strip()
    if not reason:
        raise SessionRejected("Say why the notes are corrected; the reason is kept with the new version.")
    client = session.client
    with transaction.atomic():
        previous = current_version(session)
        notes_draft = draft_from_notes(notes=notes, client=client, author=author, channel=previous.channel,
                                       started_at=previous.started_at)
        draft = SessionDraft(session_id=previous.external_id, channel=previous.channel,
                             started_at=previous.started_at,
                             participants={**previous.participants, **notes_draft.participants},
                             turns=notes_draft.turns)
        validate_draft(draft)
        if [(t.speaker, t.text) for t in draft.turns] == [(t.speaker, t.text) for t in previous.turns.all()]:
            raise SessionRejected("The corrected notes are the same as the current version; nothing to record.")
        try:
            with transaction.atomic():
                corrected = _save_version(client=client, draft=draft, recorded_by=author, previous=previous,
                                          reason=reason)
        except IntegrityError:
            raise SessionRejected(f"Someone recorded version {previous.version + 1} of this session a moment ago; "
                                  "reload the session and correct its newest version.") from None
        audit.record(action="session.corrected", actor=author.username, firm_id=client.firm.slug,
                     client_id=client.external_id, target=f"session:{previous.external_id}",
                     detail={"version": corrected.version, "replaces_version": previous.version,
                             "turns": len(draft.turns)})
        transaction.on_commit(nudge_outbox_drain)
    return corrected


def notes_of(session: ConversationSession) -> str:
    """A version's turns as editable notes ("Speaker: text" lines), the starting point of a correction."""
    return "\n".join(f"{turn.speaker}: {turn.text}" for turn in session.turns.all())


def session_record(client: Client, draft: SessionDraft, *, memory_session_id: str | None = None,
                   replaces: str | None = None, reason: str = "") -> SessionRecord:
    """The session as memory needs it: plain data, carried by the outbox."""
    return SessionRecord(
        firm_id=client.firm.slug, client_id=client.external_id, client_name=client.name,
        session_id=memory_session_id or draft.session_id, channel=draft.channel, started_at=draft.started_at,
        replaces=replaces, correction_reason=reason,
        participants=dict(draft.participants),
        turns=tuple(TurnInput(turn_id=t.turn_id, speaker=t.speaker, role=draft.participants.get(t.speaker, ""),
                              text=t.text, at=t.at or draft.started_at) for t in draft.turns),
    )


def record_session_notes(*, client: Client, author: User, notes: str, channel: str,
                         started_at: datetime) -> ConversationSession:
    """An advisor's typed or uploaded notes become a session; a worker is nudged once it is committed."""
    if author.role != User.Role.ADVISOR:
        raise SessionRejected("Only advisors record sessions with their clients.")
    draft = draft_from_notes(notes=notes, client=client, author=author, channel=channel, started_at=started_at)
    with transaction.atomic():
        outcome = record_session(client=client, draft=draft, recorded_by=author)
        transaction.on_commit(nudge_outbox_drain)
    return outcome.session


def retry_session_memory(*, session: ConversationSession, actor: User) -> bool:
    """After a fix, put a session whose memory failed back in the queue. False if it had not failed."""
    with transaction.atomic():
        retried = outbox.retry_failed(kind="session", object_id=session.pk)
        if retried:
            SessionMemoryState.objects.filter(session=session).update(
                status=ConversationSession.MemoryStatus.PENDING)
            audit.record(action="session.memory_retry", actor=actor.username, firm_id=session.client.firm.slug,
                         client_id=session.client.external_id, target=f"session:{session.external_id}")
            transaction.on_commit(nudge_outbox_drain)
    return retried


_SPEAKER_LINE = re.compile(r"^\s*([A-Z][\w .'-]{0,40}?)\s*:\s+(.+)$")


def draft_from_notes(
    *, notes: str, client: Client, author: User, channel: str, started_at: datetime
) -> SessionDraft:
    """Turn typed or uploaded notes into a session.

    Lines like "Ann: I want to retire early" become turns by that speaker; other paragraphs are the
    author's own notes. Speakers named like the client are the client; everyone else an advisor.
    """
    client_names = {client.name.lower(), *client.name.lower().split()[:1], "client"}
    author_name = author.get_full_name() or author.username
    participants: dict[str, str] = {author_name: "advisor", client.name: "client"}
    turns: list[TurnDraft] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            turns.append(TurnDraft(f"t{len(turns) + 1}", author_name, " ".join(paragraph)))
            paragraph.clear()

    for line in notes.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            flush()
            continue
        match = _SPEAKER_LINE.match(line)
        if match:
            flush()
            speaker, text = match.group(1).strip(), match.group(2).strip()
            if not text:  # "Ann:" with nothing said: no turn, rather than a session refused
                continue
            if speaker.lower() in client_names:
                speaker = client.name
            participants.setdefault(speaker, "advisor")
            turns.append(TurnDraft(f"t{len(turns) + 1}", speaker, text))
        else:
            paragraph.append(line.strip())
    flush()
    if not turns:
        raise SessionRejected("the notes are empty" if not notes.strip() else "the notes name who spoke but not what they said")
    return SessionDraft(
        session_id=f"s-{started_at:%Y%m%d}-{uuid.uuid4().hex[:8]}",
        channel=channel,
        started_at=started_at,
        participants=participants,
        turns=tuple(turns),
    )
