"""People and their records: the relational system of record.

Memory in Neo4j is derived from these rows (through the outbox), so nothing a person typed is lost
when the graph is unavailable.
"""
from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from audit.models import AppendOnlyModel

identifier_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,119}$",
    "Use 1-120 letters, digits, '_', '.', ':' or '-', starting with a letter or digit.",
)


class Firm(models.Model):
    """An advisory firm: the outer boundary of every memory's scope."""

    slug = models.SlugField(unique=True, help_text="Stable id used in the memory graph; never renamed.")
    name = models.CharField(max_length=200)
    significant_move_percent = models.FloatField(
        null=True, blank=True, help_text="Price move that becomes a memory event; blank uses the default."
    )
    # What the twin applies when it advises (twin/services/rules.py); each firm sets its own policy.
    concentration_limit_percent = models.FloatField(
        default=25.0, help_text="Largest share of the holdings' live value one security may have before the twin flags it."
    )
    sector_limit_percent = models.FloatField(
        default=40.0, help_text="Largest share of the holdings' live value one sector may have before the twin flags it."
    )
    profile_max_age_days = models.PositiveIntegerField(
        default=365, help_text="Risk tolerance, horizon and objectives older than this must be re-confirmed before advice."
    )
    goal_due_months = models.PositiveIntegerField(
        default=24, help_text="A goal whose target date is this close (or past) is raised in the brief."
    )
    # Research digests (twin/digests): when the firm's scheduled run builds them.
    advisor_digests = models.BooleanField(default=True, help_text="Send each advisor a daily digest of all their clients.")
    digest_hour = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(0), MaxValueValidator(23)],
        help_text="Local hour (TIME_ZONE) from which the day's, week's or month's digests are built.")
    client_digest_weekday = models.PositiveSmallIntegerField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(6)],
        help_text="Day of the week for weekly client digests: 0 = Monday ... 6 = Sunday.")
    digest_disclosure = models.TextField(
        blank=True, help_text="Disclosure block for client digests; blank uses the default (DIGEST_DISCLOSURE).")
    record_retention_years = models.PositiveIntegerField(
        default=6, help_text="How long books and records are kept after an erasure request before they are purged."
    )

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    class Role(models.TextChoices):
        ADVISOR = "advisor", "Advisor"
        ANALYST = "analyst", "Analyst"
        CLIENT = "client", "Client"
        COMPLIANCE = "compliance", "Compliance"

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ADVISOR)
    firm = models.ForeignKey(Firm, null=True, blank=True, on_delete=models.PROTECT, related_name="users")


class Client(models.Model):
    """A client of an advisor. `external_id` is the id used by imports and the memory graph."""

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="clients")
    advisor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="advised_clients"
    )
    user = models.OneToOneField(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="client_record"
    )
    external_id = models.CharField(max_length=120, validators=[identifier_validator])
    name = models.CharField(max_length=200)
    significant_move_percent = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class DigestFrequency(models.TextChoices):
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"

    # Research digests are opt-in: a client receives none until they (or their advisor for them) opt in.
    digest_opt_in = models.BooleanField(default=False, help_text="The client has asked for research digests.")
    digest_frequency = models.CharField(max_length=10, choices=DigestFrequency.choices, default=DigestFrequency.WEEKLY)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["firm", "external_id"], name="client_external_id_per_firm")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Holding(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="holdings")
    symbol = models.CharField(max_length=20)
    quantity = models.DecimalField(max_digits=18, decimal_places=4)
    cost_basis = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "symbol"], name="one_holding_row_per_symbol")]
        ordering = ["symbol"]


class ConversationSession(AppendOnlyModel):
    """A meeting, call or chat with a client, exactly as recorded: books and records, never changed.

    A correction is a new row (`version` 2, 3, ...) linked to the original and to the version it
    corrects, with who (`recorded_by`), when (`created_at`) and why (`correction_reason`). The model,
    its queryset and a database trigger (migration 0003) refuse updates and deletes; only a privacy
    erasure or a retention purge removes rows, inside `audit.triggers.maintenance_window()`.
    Memory's progress on a session is mutable, so it lives beside it in `SessionMemoryState`.
    """

    class Channel(models.TextChoices):
        MEETING = "meeting", "Meeting"
        CALL = "call", "Phone call"
        CHAT = "chat", "Chat with the twin"
        EMAIL = "email", "E-mail"
        OTHER = "other", "Other"

    class MemoryStatus(models.TextChoices):
        PENDING = "pending", "Pending memory"
        STORED = "stored", "In memory"
        FAILED = "failed", "Memory failed"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="sessions")
    external_id = models.CharField(max_length=120, validators=[identifier_validator])
    version = models.PositiveIntegerField(default=1, help_text="1 for the original record, then each correction.")
    original = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="corrections",
                                 help_text="The first version; empty on the original itself.")
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="corrected_by",
                                 help_text="The version this one corrects.")
    correction_reason = models.TextField(blank=True)
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.MEETING)
    started_at = models.DateTimeField()
    participants = models.JSONField(default=dict, help_text="Name to role, e.g. {'Ann': 'client'}.")
    recorded_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    content_hash = models.CharField(max_length=64, help_text="Detects a re-import with changed content.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "external_id", "version"], name="session_version_per_client")
        ]
        ordering = ["-started_at"]

    @property
    def memory_session_id(self) -> str:
        """The id memory knows this version by: the session id, with `@vN` for a correction."""
        return self.external_id if self.version == 1 else f"{self.external_id}@v{self.version}"

    @property
    def memory_status(self) -> str:
        state = getattr(self, "memory_state", None)
        return state.status if state is not None else self.MemoryStatus.PENDING

    @property
    def memory_error(self) -> str:
        state = getattr(self, "memory_state", None)
        return state.error if state is not None else ""

    def get_memory_status_display(self) -> str:
        return self.MemoryStatus(self.memory_status).label


class SessionMemoryState(models.Model):
    """Where memory stands with one session version: the one mutable thing about a recorded session.

    Updated by memory's signals (advisor/receivers.py), so the append-only record itself never changes.
    """

    session = models.OneToOneField(ConversationSession, on_delete=models.CASCADE, related_name="memory_state")
    status = models.CharField(max_length=10, choices=ConversationSession.MemoryStatus.choices,
                              default=ConversationSession.MemoryStatus.PENDING)
    error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status"], name="session_memory_status")]


class ConversationTurn(AppendOnlyModel):
    """One thing said in a session version; as append-only as the session (a correction copies turns)."""

    session = models.ForeignKey(ConversationSession, on_delete=models.CASCADE, related_name="turns")
    external_id = models.CharField(max_length=120)
    position = models.PositiveIntegerField()
    speaker = models.CharField(max_length=200)
    role = models.CharField(max_length=40, blank=True)
    text = models.TextField()
    spoken_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "external_id"], name="turn_external_id_per_session")]
        ordering = ["position"]


class Viewpoint(models.Model):
    """An analyst's published view on a security: shared memory for every twin in the firm."""

    class Stance(models.TextChoices):
        BUY = "buy", "Buy"
        HOLD = "hold", "Hold"
        SELL = "sell", "Sell"

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="viewpoints")
    analyst = models.ForeignKey(User, on_delete=models.PROTECT, related_name="viewpoints")
    symbol = models.CharField(max_length=20)
    stance = models.CharField(max_length=10, choices=Stance.choices)
    target_price = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    horizon_months = models.PositiveIntegerField(null=True, blank=True)
    rationale = models.TextField()
    published_at = models.DateTimeField()
    memory_status = models.CharField(
        max_length=10, choices=ConversationSession.MemoryStatus.choices, default="pending"
    )

    class Meta:
        ordering = ["-published_at"]


class ErasureRequest(models.Model):
    """A client asked to be erased. Their memory is restricted at once (advisor.permissions); their
    records are kept until `retention_until`, then purged by a scheduled job unless a legal hold stops it.

    Each step (request, hold, release, purge) is in the audit trail, with ids and dates, never content.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="erasure_requests")
    requested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField()
    reason = models.CharField(max_length=200, help_text="Why, without personal content (e.g. 'GDPR art. 17 request').")
    retention_until = models.DateTimeField(help_text="Records are kept until then (the firm's retention period).")
    legal_hold = models.BooleanField(default=False, help_text="While set, nothing is purged.")
    legal_hold_reason = models.CharField(max_length=200, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["purged_at", "retention_until"], name="erasure_due")]
