"""Relational side of memory: the outbox that feeds Neo4j, and the audit trail of erasures."""
from __future__ import annotations

from django.db import models


class OutboxEntry(models.Model):
    """A record waiting to become memory. Written in the same transaction as the record itself."""

    class Kind(models.TextChoices):
        SESSION = "session", "Conversation session"
        VIEWPOINT = "viewpoint", "Analyst viewpoint"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    object_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["processed_at", "id"], name="outbox_pending")]
        ordering = ["id"]


class MemoryAuditEntry(models.Model):
    """What was done to memory and by whom. Holds ids and counts, never personal content."""

    action = models.CharField(max_length=40)
    actor = models.CharField(max_length=150)
    firm_id = models.CharField(max_length=120)
    client_id = models.CharField(max_length=120, blank=True)
    memory_id = models.CharField(max_length=120, blank=True)
    detail = models.JSONField(default=dict)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
