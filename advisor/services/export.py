"""Compliance exports one client's full record for a date range: sessions (every version), turns, memory
(every version of every fact), audit entries, and whatever the apps above register (advice, chat, digests).

The sections are a registry because advisor may not import the twin (.importlinter): the twin registers
its advice section from `twin/apps.py`, and chat and digests can register theirs the same way. A section
is a function of the export's scope returning rows (JSON-ready dicts). The export itself is audited.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from advisor.models import Client, ConversationSession, ConversationTurn
from audit import services as audit
from memory import selectors as memory_selectors

FORMATS = ("json", "csv")


class ExportRejected(ValueError):
    """The export cannot be made as asked; the message says what to fix."""


@dataclass(frozen=True)
class ExportScope:
    client: Client
    since: datetime
    until: datetime


Section = Callable[[ExportScope], list[dict[str, Any]]]
_SECTIONS: dict[str, Section] = {}


def register_section(name: str, build: Section) -> None:
    """Add a section to every export (idempotent per name: an app's ready() may run twice in tests)."""
    _SECTIONS[name] = build


def section_names() -> list[str]:
    return list(_SECTIONS)


def _sessions(scope: ExportScope) -> list[dict[str, Any]]:
    sessions = (ConversationSession.objects.filter(client=scope.client, started_at__gte=scope.since,
                                                   started_at__lte=scope.until)
                .select_related("recorded_by", "memory_state").order_by("started_at", "external_id", "version"))
    return [{"session_id": s.external_id, "version": s.version, "memory_session_id": s.memory_session_id,
             "replaces_version": s.version - 1 if s.previous_id else None, "correction_reason": s.correction_reason,
             "channel": s.channel, "started_at": s.started_at, "participants": s.participants,
             "recorded_by": s.recorded_by.username if s.recorded_by else "import", "recorded_at": s.created_at,
             "content_hash": s.content_hash, "memory_status": s.memory_status} for s in sessions]


def _turns(scope: ExportScope) -> list[dict[str, Any]]:
    turns = (ConversationTurn.objects.filter(session__client=scope.client, session__started_at__gte=scope.since,
                                             session__started_at__lte=scope.until)
             .select_related("session").order_by("session__started_at", "session__external_id", "session__version",
                                                  "position"))
    return [{"session_id": t.session.external_id, "version": t.session.version, "turn_id": t.external_id,
             "position": t.position, "speaker": t.speaker, "role": t.role, "text": t.text, "spoken_at": t.spoken_at}
            for t in turns]


def _memory(scope: ExportScope) -> list[dict[str, Any]]:
    rows = memory_selectors.client_fact_history(firm_id=scope.client.firm.slug, client_id=scope.client.external_id,
                                                since=scope.since, until=scope.until)
    return [asdict(row) for row in rows]


def _audit(scope: ExportScope) -> list[dict[str, Any]]:
    entries = audit.entries_for_client(firm_id=scope.client.firm.slug, client_id=scope.client.external_id,
                                       since=scope.since, until=scope.until)
    return [{"id": e.pk, "at": e.at, "action": e.action, "actor": e.actor, "target": e.target, "detail": e.detail,
             "ip_address": e.ip_address, "entry_hash": e.entry_hash} for e in entries]


register_section("sessions", _sessions)
register_section("turns", _turns)
register_section("memory", _memory)
register_section("audit", _audit)


def export_client_record(*, client: Client, since: datetime, until: datetime, actor: str,
                         ip_address: str | None = None) -> dict[str, Any]:
    """The client's record in [since, until] as one JSON-ready dict, section by section. Audited."""
    if since.tzinfo is None or until.tzinfo is None:
        raise ExportRejected("since and until need a time zone, e.g. 2024-01-01T00:00:00Z")
    if since > until:
        raise ExportRejected(f"since ({since.isoformat()}) is after until ({until.isoformat()})")
    scope = ExportScope(client=client, since=since, until=until)
    record: dict[str, Any] = {"firm": client.firm.slug, "client": client.external_id,
                              "since": since.isoformat(), "until": until.isoformat()}
    with transaction.atomic():
        entry = audit.record(action="record.exported", actor=actor, firm_id=client.firm.slug,
                             client_id=client.external_id, ip_address=ip_address,
                             detail={"since": since.isoformat(), "until": until.isoformat(),
                                     "sections": section_names()})
        record["sections"] = {name: [_plain(row) for row in build(scope)] for name, build in _SECTIONS.items()}
    record["exported_at"] = entry.at.isoformat()
    record["audit_entry"] = entry.pk
    return record


def _plain(value: Any) -> Any:
    """Datetimes as ISO 8601, everything else as JSON has it."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))


def as_json(record: dict[str, Any]) -> bytes:
    return json.dumps(record, indent=2, ensure_ascii=False, sort_keys=True).encode()


def as_csv_zip(record: dict[str, Any]) -> bytes:
    """A zip with one CSV per section (nested values as JSON) and `export.csv` naming what it holds."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        header = io.StringIO()
        writer = csv.writer(header)
        writer.writerow(["firm", "client", "since", "until", "exported_at", "audit_entry", "section", "rows"])
        for name, rows in record["sections"].items():
            writer.writerow([record["firm"], record["client"], record["since"], record["until"],
                             record["exported_at"], record["audit_entry"], name, len(rows)])
        archive.writestr("export.csv", header.getvalue())
        for name, rows in record["sections"].items():
            archive.writestr(f"{name}.csv", _csv(rows))
    return buffer.getvalue()


def _csv(rows: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({key: json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
                         for key, value in row.items()})
    return out.getvalue()


def render(record: dict[str, Any], fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ExportRejected(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return as_json(record) if fmt == "json" else as_csv_zip(record)
