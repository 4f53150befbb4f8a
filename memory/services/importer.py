"""Importing conversations from JSON Lines (the public contract in DESIGN.md section 4).

One session per line. A bad line is reported with its number and skipped; every good line is
recorded (idempotently) and then drained into the graph in the same run.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import islice
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils.dateparse import parse_datetime

from advisor.models import Client, Firm, identifier_validator
from advisor.services.sessions import SessionDraft, SessionRejected, TurnDraft, record_session
from memory.services.ingest import drain_outbox

REQUIRED = ("client_id", "session_id", "started_at", "turns")
COMMIT_EVERY = 200


@dataclass
class ImportReport:
    sessions: int = 0  # newly recorded
    unchanged: int = 0  # already recorded with identical content
    turns: int = 0
    errors: list[str] = field(default_factory=list)  # "line N: what is wrong"
    pending: int = 0  # left in the outbox (graph unavailable, or deferred)


class ImportLineError(ValueError):
    pass


def import_sessions(lines: Iterable[str], *, firm: Firm, drain: bool = True) -> ImportReport:
    report = ImportReport()
    clients: dict[str, Client] = {}
    numbered = ((number, line) for number, line in enumerate(lines, start=1) if line.strip())
    while chunk := list(islice(numbered, COMMIT_EVERY)):
        # One commit per chunk (each session is still its own savepoint), not one fsync per session.
        with transaction.atomic():
            for number, line in chunk:
                _import_line(number, line, firm, clients, report)
    if drain:
        report.pending = drain_outbox(max_sessions=1_000_000).remaining
    return report


def _import_line(number: int, line: str, firm: Firm, clients: dict[str, Client], report: ImportReport) -> None:
    try:
        payload = _parse_line(line)
        draft = draft_from_payload(payload)
        client = clients.get(payload["client_id"]) or _client_for(firm, payload)
        clients[payload["client_id"]] = client
        outcome = record_session(client=client, draft=draft)
    except (ImportLineError, SessionRejected) as error:
        report.errors.append(f"line {number}: {error}")
        return
    if outcome.created:
        report.sessions += 1
        report.turns += len(draft.turns)
    else:
        report.unchanged += 1


def _parse_line(line: str) -> dict:
    try:
        payload = json.loads(line)
    except json.JSONDecodeError as error:
        raise ImportLineError(f"not valid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(payload, dict):
        raise ImportLineError("expected a JSON object")
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
    parsed = parse_datetime(value) if isinstance(value, str) else None
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
