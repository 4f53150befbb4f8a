"""The audit trail: who did what to which client's records or memory, when and from where.

Append-only in three places: the model refuses updates and deletes, its queryset refuses bulk ones,
and a database trigger refuses both for any other code path (migration 0001). Each entry carries the
hash of the one before it, so `audit.services.verify_chain` detects an edited or removed entry.
Entries hold ids, counts and reasons, never personal content, so they survive a privacy erasure.
"""
from __future__ import annotations

from django.db import models


class AppendOnlyError(PermissionError):
    """An append-only record cannot be changed or deleted; write a new one instead."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):  # noqa: ANN003, ANN201
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")

    def delete(self):  # noqa: ANN201
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")

    def purge(self) -> int:
        """Really delete these rows (with what cascades from them): only inside
        `audit.triggers.maintenance_window()`, for an erasure or a retention purge. Returns rows deleted."""
        from audit.triggers import window_is_open

        if not window_is_open():
            raise AppendOnlyError(f"{self.model.__name__} rows are deleted only inside a maintenance window")
        return models.QuerySet.delete(self)[0]


class AppendOnlyModel(models.Model):
    """Base for records a regulator expects to be immutable (audit, advice, sent digests)."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} {self.pk} is append-only; record a new version instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        raise AppendOnlyError(f"{type(self).__name__} {self.pk} is append-only")


class AuditEntry(AppendOnlyModel):
    action = models.CharField(max_length=60)
    actor = models.CharField(max_length=150, help_text="Username, or 'system:<task>' for automatic work.")
    firm_id = models.CharField(max_length=120)
    client_id = models.CharField(max_length=120, blank=True)
    target = models.CharField(max_length=200, blank=True, help_text="What was touched, e.g. 'memory:<id>'.")
    detail = models.JSONField(default=dict)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField()
    previous_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["firm_id", "client_id", "at"], name="audit_client_time")]


class AuditChainHead(models.Model):
    """One row whose lock serialises appends, so the chain has no forks under concurrent writers."""

    last_hash = models.CharField(max_length=64)
