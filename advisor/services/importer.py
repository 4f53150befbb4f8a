"""Importing conversations from JSON Lines (the public contract in docs/architecture.md).

One session per line. A bad line is reported with its number and skipped; every good line is
recorded (idempotently) in the system of record and then drained into memory in the same run.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from itertools import islice
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils.dateparse import parse_datetime

from advisor.models import Client, Firm, identifier_validator
from advisor.services.sessions import SessionDraft, SessionRejected, TurnDraft, record_sessions, validate_draft
from memory.services import outbox
from memory.services.ingest import drain_alongside

REQUIRED = ("client_id", "session_id", "started_at", "turns")
# A byte that is not UTF-8, as read with errors="surrogateescape" (memory_import reads files that way).
_UNDECODED = re.compile("[\udc80-\udcff]")
COMMIT_EVERY = 200


@dataclass
class ImportReport:
    sessions: int = 0  # newly recorded
    unchanged: int = 0  # already recorded with identical content
    turns: int = 0
    errors: list[str] = field(default_factory=list)  # "line N: what is wrong"
    pending: int = 0  # left in the outbox after this import (graph unavailable, or deferred)


class ImportLineError(ValueError):
    pass


def import_sessions(lines: Iterable[str], firm_slug: str, *, drain: bool = True, drain_workers: int = 1) -> ImportReport:
    """Import JSON Lines sessions into `firm_slug` (created if new) and, unless deferred, into memory
    (with `drain_workers` > 1, in as many processes draining what is recorded while the rest is
    recorded: `memory.services.ingest.drain_alongside`)."""
    firm, _ = Firm.objects.get_or_create(slug=firm_slug, defaults={"name": firm_slug})
    report = ImportReport()
    if not drain:
        _record(lines, firm, report)
        report.pending = outbox.pending_count()  # what the Celery workers will write
        return report
    with drain_alongside(drain_workers) as drained:
        _record(lines, firm, report)
    report.pending = drained.report.remaining
    return report


def _record(lines: Iterable[str], firm: Firm, report: ImportReport) -> None:
    clients: dict[str, Client] = {}
    numbered = ((number, line) for number, line in enumerate(lines, start=1) if line.strip())
    while chunk := list(islice(numbered, COMMIT_EVERY)):
        # One commit per chunk, and the chunk's sessions recorded together (record_sessions), not one
        # fsync and a dozen statements per session.
        with transaction.atomic():
            _import_chunk(chunk, firm, clients, report)


def _import_chunk(chunk: list[tuple[int, str]], firm: Firm, clients: dict[str, Client], report: ImportReport) -> None:
    errors: list[tuple[int, str]] = []
    numbers: list[int] = []
    drafts: list[tuple[Client, SessionDraft]] = []
    for number, line in chunk:
        try:
            payload = _parse_line(line)
            draft = draft_from_payload(payload)
            validate_draft(draft)  # before the client is created: a refused line leaves nothing behind
        except (ImportLineError, SessionRejected) as error:
            errors.append((number, str(error)))
            continue
        client = clients.get(payload["client_id"]) or _client_for(firm, payload)
        clients[payload["client_id"]] = client
        numbers.append(number)
        drafts.append((client, draft))
    for number, (_, draft), outcome in zip(numbers, drafts, record_sessions(drafts=drafts, actor="import"),
                                           strict=True):
        if isinstance(outcome, SessionRejected):
            errors.append((number, str(outcome)))
        elif outcome.created:
            report.sessions += 1
            report.turns += len(draft.turns)
        else:
            report.unchanged += 1
    report.errors.extend(f"line {number}: {message}" for number, message in sorted(errors))


def _parse_line(line: str) -> dict:
    if undecoded := _UNDECODED.search(line):
        raise ImportLineError(f"is not UTF-8 text (byte 0x{ord(undecoded.group()) - 0xDC00:02X} at column "
                              f"{undecoded.start() + 1}); save the file as UTF-8")
    try:
        payload = json.loads(line)
    except json.JSONDecodeError as error:
        raise ImportLineError(f"not valid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(payload, dict):
        raise ImportLineError("expected a JSON object")
    try:  # JSON may escape half a character ("\ud800"), which no database can store
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ImportLineError("contains an invalid Unicode escape (a lone surrogate such as \\ud800)") from None
    missing = [key for key in REQUIRED if key not in payload]
    if missing:
        raise ImportLineError(f"missing {', '.join(missing)}")
    for key in ("client_id", "session_id"):
        if not isinstance(payload[key], str):
            raise ImportLineError(f"{key} must be a string")
        try:
            identifier_validator(payload[key])
        except Exception as error:  # ValidationError carries a list of messages
            raise ImportLineError(f"{key} {payload[key]!r}: {' '.join(getattr(error, 'messages', [str(error)]))}") from None
    return payload


def _time(value: object, what: str) -> datetime:
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible: 30 February, an offset past 24 hours, year 0
        parsed = None
    if parsed is None:
        raise ImportLineError(f"{what} must be an ISO 8601 date-time, got {value!r}")
    if parsed.tzinfo is None:
        raise ImportLineError(f"{what} {value!r} needs a time zone, e.g. 'Z' or '+01:00'")
    return parsed


def draft_from_payload(payload: dict) -> SessionDraft:
    participants = payload.get("participants") or {}
    if not isinstance(participants, dict) or not all(isinstance(v, str) for v in participants.values()):
        raise ImportLineError("participants must map names to roles")
    turns_in = payload["turns"]
    if not isinstance(turns_in, list):
        raise ImportLineError("turns must be a list")
    turns = []
    for index, turn in enumerate(turns_in):
        if not isinstance(turn, dict) or not all(isinstance(turn.get(k), str) for k in ("turn_id", "speaker", "text")):
            raise ImportLineError(f"turn {index + 1} needs string turn_id, speaker and text")
        at = _time(turn["at"], f"turn {turn['turn_id']} 'at'") if turn.get("at") else None
        turns.append(TurnDraft(turn["turn_id"], turn["speaker"], turn["text"], at))
    return SessionDraft(
        session_id=payload["session_id"],
        channel=payload.get("channel") or "meeting",
        started_at=_time(payload["started_at"], "started_at"),
        participants={str(k): v.lower() for k, v in participants.items()},
        turns=tuple(turns),
    )


def _client_for(firm: Firm, payload: dict) -> Client:
    names = [name for name, role in (payload.get("participants") or {}).items() if str(role).lower() == "client"]
    client, _ = Client.objects.get_or_create(
        firm=firm, external_id=payload["client_id"], defaults={"name": names[0] if names else payload["client_id"]}
    )
    return client
