"""The outbox: records queued for memory in the recording app's transaction, and their retries."""
from __future__ import annotations

import zlib
from datetime import timedelta
from itertools import islice

from django.db import transaction
from django.utils import timezone

from memory.models import OutboxEntry
from memory.graph.securities import split_move_link_id
from memory.records import NoteRecord, SessionRecord, ViewpointRecord
from memory.scope import client_scope

MAX_ATTEMPTS = 5  # a record failing on its own this often is marked failed and waits for a person
RETRY_BASE_SECONDS = 30  # backoff after an isolated failure: 30 s, 60 s, 120 s, 240 s


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


def enqueue_note(record: NoteRecord) -> OutboxEntry:
    """Queue the twin's note of its advice. Call it inside the transaction that saves the advice."""
    return OutboxEntry.objects.create(kind=OutboxEntry.Kind.NOTE, object_id=0, firm_id=record.firm_id,
                                      client_id=record.client_id, payload=record.to_payload())


def cited_by_queued_notes() -> dict[str, set[str]]:
    """Per client scope, the memory ids that the notes still in the outbox cite (a client's move under
    the client's scope). Forgetting keeps them as it keeps what written notes cite: advice is stored
    before its note is."""
    cited: dict[str, set[str]] = {}
    queued = OutboxEntry.objects.filter(kind=OutboxEntry.Kind.NOTE).exclude(status=OutboxEntry.Status.STORED)
    for payload in queued.values_list("payload", flat=True).iterator():
        scope = client_scope(payload["firm_id"], payload["client_id"])
        for memory_id in payload["cites"]:
            move = split_move_link_id(memory_id)
            cited.setdefault(scope if move is None else move[1], set()).add(memory_id)
    return cited


def due_entries(limit: int, *, partition: tuple[int, int] | None = None) -> list[OutboxEntry]:
    """Pending entries whose backoff has passed, oldest first.

    `partition=(i, n)`: only the clients whose `client_partition` is i, so that n drains running at
    once (n ingest workers) take different records, each client's whole in one of them. Nothing is
    claimed or locked: a drain killed mid-way leaves its records due for the next one.
    """
    now = timezone.now()
    due = (OutboxEntry.objects.filter(status=OutboxEntry.Status.PENDING)
           .exclude(next_attempt_at__gt=now).order_by("id"))
    if partition is None:
        return list(due[:limit])
    part, parts = partition
    if not 0 <= part < parts:
        raise ValueError(f"partition {part} of {parts} does not exist: give 0 <= i < n")
    if parts == 1:  # the one partition is everything: no need to compute it per entry
        return list(due[:limit])
    mine = (entry for entry in due.iterator(chunk_size=2000) if client_partition(entry, parts) == part)
    return list(islice(mine, limit))


def client_partition(entry: OutboxEntry, parts: int) -> int:
    """A stable partition of the entry's client (a firm's viewpoints: of the firm) among `parts`."""
    return zlib.crc32(f"{entry.firm_id}/{entry.client_id}".encode()) % parts


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
