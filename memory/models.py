"""Relational side of memory: the outbox that feeds Neo4j (changes to memory are audited in `audit`)."""
from __future__ import annotations

from django.db import models


class OutboxEntry(models.Model):
    """A record waiting to become memory. Written in the same transaction as the record itself.

    It carries the record as plain data (`memory.records`), so ingestion never reads another app's
    tables. A small state machine: pending -> stored, or pending -> (retried with backoff) -> failed
    when one record keeps failing on its own; a failed entry never blocks the entries behind it.
    """

    class Kind(models.TextChoices):
        SESSION = "session", "Conversation session"
        VIEWPOINT = "viewpoint", "Analyst viewpoint"
        NOTE = "note", "Twin's note of its advice"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending memory"
        STORED = "stored", "In memory"
        FAILED = "failed", "Memory failed"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    object_id = models.BigIntegerField(help_text="The recording app's row id, echoed in memory's signals "
                                                 "(0 for a note: its payload names its memory id).")
    firm_id = models.CharField(max_length=120, default="")
    client_id = models.CharField(max_length=120, blank=True, default="")
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["processed_at", "id"], name="outbox_pending"),
            models.Index(fields=["status", "next_attempt_at", "id"], name="outbox_due"),
            models.Index(fields=["firm_id", "client_id"], name="outbox_client"),
        ]
        ordering = ["id"]
