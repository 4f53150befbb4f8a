"""Advisor's records show their memory state: memory announces it (memory/signals.py), we listen."""
from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from advisor.models import ConversationSession, Viewpoint
from memory.signals import record_failed, records_stored

_MODELS = {"session": ConversationSession, "viewpoint": Viewpoint}


@receiver(records_stored)
def mark_records_stored(*, kind: str, object_ids: list[int], **_: Any) -> None:
    model = _MODELS[kind]
    fields = {"memory_status": "stored", "memory_error": ""} if model is ConversationSession else {"memory_status": "stored"}
    model.objects.filter(pk__in=object_ids).update(**fields)


@receiver(record_failed)
def mark_record_failed(*, kind: str, object_id: int, error: str, final: bool, **_: Any) -> None:
    """The error shows on the session (and the client list counts it) from the first isolated failure;
    the status turns to failed when no automatic retry is left."""
    if kind == "session":
        fields: dict[str, str] = {"memory_error": error}
        if final:
            fields["memory_status"] = ConversationSession.MemoryStatus.FAILED
        ConversationSession.objects.filter(pk=object_id).update(**fields)
    elif final:
        Viewpoint.objects.filter(pk=object_id).update(memory_status=ConversationSession.MemoryStatus.FAILED)
