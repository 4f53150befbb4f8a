"""The outbox: records queued for memory in the recording app's transaction, and their retries."""
from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from memory.models import OutboxEntry
from memory.records import SessionRecord, ViewpointRecord

MAX_ATTEMPTS = 5  # a record failing on its own this often is marked failed and waits for a person
RETRY_BASE_SECONDS = 30  # backoff after an isolated failure: 30 s, 60 s, 120 s, 240 s


def enqueue_session(record: SessionRecord, *, object_id: int) -> OutboxEntry:
    """Queue a session for memory. Call it inside the transaction that saves the session."""
    return OutboxEntry.objects.create(kind=OutboxEntry.Kind.SESSION, object_id=object_id, firm_id=record.firm_id,
                                      client_id=record.client_id, payload=record.to_payload())


def enqueue_viewpoint(record: ViewpointRecord, *, object_id: int) -> OutboxEntry:
    """Queue a viewpoint for memory. Call it inside the transaction that saves the viewpoint."""
    return OutboxEntry.objects.create(kind=OutboxEntry.Kind.VIEWPOINT, object_id=object_id,
                                      firm_id=record.firm_id, payload=record.to_payload())


def due_entries(limit: int) -> list[OutboxEntry]:
    """Pending entries whose backoff has passed, oldest first."""
    now = timezone.now()
    return list(OutboxEntry.objects.filter(status=OutboxEntry.Status.PENDING)
                .exclude(next_attempt_at__gt=now).order_by("id")[:limit])


def pending_count() -> int:
    return OutboxEntry.objects.filter(status=OutboxEntry.Status.PENDING).count()


def retry_after_backoff(attempts: int) -> timedelta:
    return timedelta(seconds=RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))


def retry_failed(*, kind: str, object_id: int) -> bool:
    """A person fixed the cause: put a failed record back in the queue. False if nothing was failed."""
    with transaction.atomic():
        return bool(OutboxEntry.objects.filter(kind=kind, object_id=object_id, status=OutboxEntry.Status.FAILED)
                    .update(status=OutboxEntry.Status.PENDING, attempts=0, next_attempt_at=None))


def discard_client(*, firm_id: str, client_id: str) -> int:
    """Erasure: nothing queued for this client may become memory again."""
    return OutboxEntry.objects.filter(firm_id=firm_id, client_id=client_id).delete()[0]
