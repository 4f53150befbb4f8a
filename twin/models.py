"""The twin's records: the advice it gave, and the clients' chat with it (corrections, reviews).

Advice is an append-only record of what the twin said, on what basis, and what came before.

A row is written once and never changed or deleted: the model, its queryset and a database trigger
refuse it (`audit.models.AppendOnlyModel`, migration 0002), so "what did the twin advise on 3 March,
and why?" always has the answer it had then.
"""
from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.utils import timezone

from advisor.models import Client, ConversationSession, Firm, User
from audit.models import AppendOnlyModel


def new_advice_id() -> str:
    return f"adv_{uuid.uuid4().hex}"


class Advice(AppendOnlyModel):
    class Kind(models.TextChoices):
        ASK = "ask", "Answer to a question"
        BRIEF = "brief", "Meeting brief"

    id = models.CharField(primary_key=True, max_length=40, default=new_advice_id, editable=False)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="advice")
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              help_text="Who asked; empty for the command line and scheduled briefs.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    channel = models.CharField(max_length=10, default="portal", help_text="portal, chat, api or cli.")
    question = models.TextField(blank=True)
    as_of = models.DateTimeField(help_text="The moment the advice describes (now, or a requested earlier time).")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    answer = models.TextField()
    declined = models.BooleanField(default=False)
    missing = models.JSONField(default=list)
    items = models.JSONField(default=list, help_text="Each item: kind, key, text, basis, figures.")
    citations = models.JSONField(default=list)
    changed_since = models.JSONField(null=True, blank=True)
    profile_facts = models.JSONField(default=list, help_text="Facts in force: id, slot, value.")
    quotes = models.JSONField(default=list, help_text="Quote values used: symbol, price, as_of, source, status.")
    viewpoint_ids = models.JSONField(default=list)
    composer = models.CharField(max_length=80, help_text="Which composer (and model) wrote the answer.")
    tool_calls = models.JSONField(default=list, blank=True, help_text="The language model's tool calls, with outputs.")
    model_check = models.JSONField(default=list, blank=True,
                                   help_text="Why the language model's answer was not used; empty when it was or none ran.")
    memory_id = models.CharField(max_length=80, blank=True, help_text="The memory this advice became.")
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["client", "-created_at"], name="advice_by_client_time")]

    def to_contract(self) -> dict[str, Any]:
        """The JSON the twin commands and API print (the twin issue's contract)."""
        return {"advice_id": self.id, "answer": self.answer, "declined": self.declined, "missing": list(self.missing),
                "items": list(self.items), "citations": list(self.citations), "changed_since": self.changed_since,
                "kind": self.kind, "as_of": self.as_of.isoformat(), "created_at": self.created_at.isoformat(),
                "composer": self.composer, "previous_advice_id": self.previous_id}


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


# ---- Digests (twin/digests/models.py) ----
from twin.digests.models import Digest, DigestApproval, DigestRun, SentDigest  # noqa: E402, F401
