"""Digests, their firm runs, compliance approvals and the append-only archive of what was sent.

A `Digest` is the working record of one reader's digest for one period: unique per (reader, period),
so however often the schedule runs or a task is retried there is one. Its status says where it is;
a build that keeps failing stays `failed` with its error, shown to the advisor.
What was actually sent is copied into `SentDigest` (append-only, database trigger), and a compliance
approval of content going to many retail clients into `DigestApproval` (append-only).
"""
from __future__ import annotations

from django.db import models
from django.utils import timezone

from advisor.models import Client, Firm, User
from audit.models import AppendOnlyModel


class DigestRun(models.Model):
    """One scheduled run for a firm: the digests it created, so its progress can be shown."""

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="digest_runs")
    started_at = models.DateTimeField(default=timezone.now)
    periods = models.JSONField(default=list, help_text="The period keys this run covers, e.g. ['daily:2026-11-25'].")
    planned = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]


class Digest(models.Model):
    class Audience(models.TextChoices):
        ADVISOR = "advisor", "Advisor (all their clients)"
        CLIENT = "client", "Client"

    class Period(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be built"
        BUILT = "built", "Built, waiting to be sent"
        AWAITING_APPROVAL = "awaiting_approval", "Waiting for compliance approval"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected by the communications rules"
        CANCELLED = "cancelled", "Cancelled: the client opted out"

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="digests")
    run = models.ForeignKey(DigestRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="digests")
    audience = models.CharField(max_length=10, choices=Audience.choices)
    advisor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="advisor_digests",
                                help_text="The reader of an advisor digest.")
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.PROTECT, related_name="digests",
                               help_text="The reader of a client digest.")
    recipient_key = models.CharField(max_length=60, help_text="'advisor:<user id>' or 'client:<client id>'.")
    period = models.CharField(max_length=10, choices=Period.choices)
    period_key = models.CharField(max_length=20, help_text="e.g. 2026-11-25, 2026-W48, 2026-11.")
    covers_from = models.DateTimeField(help_text="Since the reader's last digest (or one period back).")
    covers_to = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True)
    content = models.JSONField(default=dict, help_text="The sections, items and citations the digest was rendered from.")
    content_hash = models.CharField(max_length=64, blank=True)
    shared_fingerprint = models.CharField(
        max_length=64, blank=True, db_index=True,
        help_text="Hash of the content that is the same for every reader (firm research): what the 25-recipient rule counts.")
    created_at = models.DateTimeField(auto_now_add=True)
    built_at = models.DateTimeField(null=True, blank=True)
    build_seconds = models.FloatField(null=True, blank=True, help_text="How long the last build took (reads and render).")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["recipient_key", "period", "period_key"],
                                               name="one_digest_per_reader_and_period")]

    @property
    def reader_name(self) -> str:
        if self.client_id:
            return self.client.name
        return self.advisor.get_full_name() or self.advisor.username


class DigestApproval(AppendOnlyModel):
    """A compliance principal approved content that goes to more than the retail threshold of clients."""

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="digest_approvals")
    fingerprint = models.CharField(max_length=64)
    approved_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="digest_approvals")
    approved_at = models.DateTimeField()
    recipients = models.PositiveIntegerField(help_text="Retail recipients counted when it was approved.")
    note = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["firm", "fingerprint"], name="one_approval_per_content")]


class SentDigest(AppendOnlyModel):
    """The exact content sent, kept unchanged (books and records)."""

    digest = models.ForeignKey(Digest, on_delete=models.PROTECT, related_name="archive")
    firm_id = models.CharField(max_length=120)
    client_id = models.CharField(max_length=120, blank=True)
    recipient_key = models.CharField(max_length=60)
    to_address = models.EmailField()
    subject = models.CharField(max_length=200)
    text = models.TextField()
    html = models.TextField()
    content_hash = models.CharField(max_length=64)
    approval = models.ForeignKey(DigestApproval, null=True, blank=True, on_delete=models.PROTECT, related_name="sent")
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at"]
        constraints = [models.UniqueConstraint(fields=["digest"], name="one_archive_row_per_digest")]
