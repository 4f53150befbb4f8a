"""The outbox: records queued for memory in the recording app's transaction, and their retries."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from memory.models import OutboxEntry
from memory.records import SessionRecord, ViewpointRecord

MAX_ATTEMPTS = 5  # a record failing on its own this often is marked failed and waits for a person
RETRY_BASE_SECONDS = 30  # backoff after an isolated failure: 30 s, 60 s, 120 s, 240 s
CLAIM_LEASE = timedelta(seconds=330)  # longer than a drain task may run (memory.tasks: time_limit 300 s)


def enqueue_session(record: SessionRecord, *, object_id: int) -> OutboxEntry:
    """Queue a session for memory. Call it inside the transaction that saves the session."""
    return OutboxEntry.objects.create(kind=OutboxEntry.Kind.SESSION, object_id=object_id, firm_id=record.firm_id,
                                      client_id=record.client_id, payload=record.to_payload())


def enqueue_sessions(records: list[tuple[SessionRecord, int]]) -> list[OutboxEntry]:
    """`enqueue_session` for many (record, object_id) pairs in one insert, in their order."""
    return OutboxEntry.objects.bulk_create(
        OutboxEntry(kind=OutboxEntry.Kind.SESSION, object_id=object_id, firm_id=record.firm_id,
                    client_id=record.client_id, payload=record.to_payload())
        for record, object_id in records)


def enqueue_viewpoint(record: ViewpointRecord, *, object_id: int) -> OutboxEntry:
    """Queue a viewpoint for memory. Call it inside the transaction that saves the viewpoint."""
    return OutboxEntry.objects.create(kind=OutboxEntry.Kind.VIEWPOINT, object_id=object_id,
                                      firm_id=record.firm_id, payload=record.to_payload())


def claim_due(limit: int) -> tuple[list[OutboxEntry], datetime]:
    """Pending entries whose backoff has passed, oldest first, leased to one drain until the returned
    time, so that drains running at once (several ingest workers) take different records instead of
    writing the same ones twice.

    The lease is a `next_attempt_at` in the future, as a backoff is: the record stays pending and
    another drain takes it once the lease ends (its worker died). Every outcome of the drain
    (stored, attempt recorded) overwrites it; `release` gives back what a drain did not get to.
    PostgreSQL skips rows another drain is claiming; SQLite runs one write transaction at a time.
    """
    now = timezone.now()
    until = now + CLAIM_LEASE
    with transaction.atomic():
        entries = list(OutboxEntry.objects.select_for_update(skip_locked=True)
                       .filter(status=OutboxEntry.Status.PENDING).exclude(next_attempt_at__gt=now)
                       .order_by("id")[:limit])
        OutboxEntry.objects.filter(pk__in=[entry.pk for entry in entries]).update(next_attempt_at=until)
    return entries, until


def release(entries: list[OutboxEntry], until: datetime) -> None:
    """Give back claimed entries still pending under this lease: due again at once."""
    OutboxEntry.objects.filter(pk__in=[entry.pk for entry in entries], status=OutboxEntry.Status.PENDING,
                               next_attempt_at=until).update(next_attempt_at=None)


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
