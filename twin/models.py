"""Relational records of the twin."""
from __future__ import annotations

from django.db import models

from advisor.models import Client, ConversationSession, Firm, User

# ---- Clients' chat with the twin, memory corrections and advisor review (branch `chat`) ----
# Records here are append-only: a round is never deleted or rewritten; going back marks later rounds
# withdrawn (by which rewind); a correction or a review is decided once. What the client says in a
# round is also recorded as an `advisor.ConversationSession` (channel "chat"): that is what becomes memory.

DEFAULT_DISCLOSURE = (
    "This answer comes from your advisor's digital twin, built from what you and your advisor have "
    "discussed. It is information, not a personal recommendation; talk to your advisor before acting on it."
)


class TwinFirmSettings(models.Model):
    """How a firm lets its twins speak to clients."""

    class ReviewPolicy(models.TextChoices):
        NONE = "none", "Answers reach the client directly"
        RECOMMENDATIONS = "recommendations", "An advisor reviews recommendations first"
        ALL = "all", "An advisor reviews every answer first"

    firm = models.OneToOneField(Firm, on_delete=models.CASCADE, related_name="twin_settings")
    review_policy = models.CharField(max_length=20, choices=ReviewPolicy.choices, default=ReviewPolicy.NONE)
    disclosure = models.TextField(blank=True, help_text="Shown with every answer to a client; blank uses the default.")

    class Meta:
        verbose_name_plural = "twin firm settings"

    def disclosure_text(self) -> str:
        return self.disclosure.strip() or DEFAULT_DISCLOSURE


class ChatConversation(models.Model):
    """One client's chat with their advisor's twin."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="chat_conversations")
    started_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at"]


class ChatRewind(models.Model):
    """Going back to round `to_round` (0: before the first): who did it, when, and what it withdrew."""

    conversation = models.ForeignKey(ChatConversation, on_delete=models.CASCADE, related_name="rewinds")
    to_round = models.PositiveIntegerField()
    actor = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    memories_withdrawn = models.PositiveIntegerField(default=0)
    facts_reopened = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at"]

    @property
    def rollback_id(self) -> str:
        """The id of the memory graph's `:Rollback` node for this rewind."""
        return f"chat-rewind:{self.pk}"


class ChatRound(models.Model):
    """One message of the client and the twin's reply to it."""

    class Status(models.TextChoices):
        ANSWERED = "answered", "Answered"
        AWAITING_REVIEW = "awaiting_review", "Waiting for your advisor's review"
        WITHHELD = "withheld", "Withheld by your advisor"
        REFUSED = "refused", "Refused"
        UNANSWERED = "unanswered", "Not answered (memory unavailable)"

    conversation = models.ForeignKey(ChatConversation, on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveIntegerField(help_text="Position in the conversation when it was said.")
    text = models.TextField()
    said_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    said_at = models.DateTimeField()
    session = models.OneToOneField(
        ConversationSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="chat_round",
        help_text="The client's words as a chat session: what becomes memory. None when refused.",
    )
    status = models.CharField(max_length=20, choices=Status.choices)
    answer = models.TextField(blank=True)
    contract = models.JSONField(default=dict, blank=True, help_text="The twin's advice contract for this reply.")
    disclosure = models.TextField(blank=True, help_text="The disclosure shown with the answer, as shown.")
    refusal_reason = models.CharField(max_length=40, blank=True)
    withdrawn_by = models.ForeignKey(
        ChatRewind, null=True, blank=True, on_delete=models.PROTECT, related_name="withdrawn_rounds"
    )
    memory_withdrawn_at = models.DateTimeField(
        null=True, blank=True, help_text="When this round's memory left the graph's current view."
    )

    class Meta:
        ordering = ["said_at", "pk"]
        indexes = [models.Index(fields=["conversation", "withdrawn_by", "number"], name="chat_round_line")]

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_by_id is not None


class MemoryCorrection(models.Model):
    """A client says something the twin remembers is wrong; an advisor confirms or rejects it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CONFIRMED = "confirmed", "Confirmed"
        REJECTED = "rejected", "Rejected"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="memory_corrections")
    memory_id = models.CharField(max_length=200)
    memory_text = models.TextField(help_text="What the twin remembered, as the client saw it.")
    correction = models.TextField()
    requested_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    revised_memory_id = models.CharField(max_length=200, blank=True, help_text="The memory that replaced it.")

    class Meta:
        ordering = ["-requested_at"]


class ReviewItem(models.Model):
    """A twin answer held for an advisor before it reaches the client (firm review policy)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    round = models.OneToOneField(ChatRound, on_delete=models.CASCADE, related_name="review")
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]

# ---- end of the chat block ----
