"""Advisor's records show their memory state: memory announces it (memory/signals.py), we listen.

A session is append-only, so its memory state lives in `SessionMemoryState`, never on the record. The
twin's notes of its advice (kind "note") are not advisor's records: their state stays in the outbox.
"""
from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from advisor.models import ConversationSession, SessionMemoryState, Viewpoint
from memory.signals import record_failed, records_stored


@receiver(records_stored)
def mark_records_stored(*, kind: str, object_ids: list[int], **_: Any) -> None:
    if kind == "session":
        SessionMemoryState.objects.filter(session_id__in=object_ids).update(
            status=ConversationSession.MemoryStatus.STORED, error="")
    elif kind == "viewpoint":
        Viewpoint.objects.filter(pk__in=object_ids).update(memory_status=ConversationSession.MemoryStatus.STORED)


@receiver(record_failed)
def mark_record_failed(*, kind: str, object_id: int, error: str, final: bool, **_: Any) -> None:
    """The error shows on the session (and the client list counts it) from the first isolated failure;
    the status turns to failed when no automatic retry is left."""
    if kind == "session":
        fields: dict[str, str] = {"error": error}
        if final:
            fields["status"] = ConversationSession.MemoryStatus.FAILED
        SessionMemoryState.objects.filter(session_id=object_id).update(**fields)
    elif kind == "viewpoint" and final:
        Viewpoint.objects.filter(pk=object_id).update(memory_status=ConversationSession.MemoryStatus.FAILED)
