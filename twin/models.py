"""The twin's records: the advice it gave, and the clients' chat with it (corrections, reviews).

Advice is an append-only record of what the twin said, on what basis, and what came before.

A row is written once and never changed or deleted: the model, its queryset and a database trigger
refuse it (`audit.models.AppendOnlyModel`, migration 0002), so "what did the twin advise on 3 March,
and why?" always has the answer it had then.
"""
from __future__ import annotations

import uuid
from datetime import datetime
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
# Records here are append-only (model, queryset and database trigger): a round is never deleted or
# rewritten; its reply, going back (a rewind and one withdrawal row per round it set aside) and the
# memory rollback that follows are new rows that point at it. A correction or a review is decided once. What the client says in a
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


class ChatRewind(AppendOnlyModel):
    """Going back to round `to_round` (0: before the first): who did it and when.

    The rounds it set aside are its `withdrawals`; the memory rollbacks that followed (once per round,
    possibly later, when a round's words reached memory only after the rewind) are its `memory_rollbacks`.
    """

    conversation = models.ForeignKey(ChatConversation, on_delete=models.CASCADE, related_name="rewinds")
    to_round = models.PositiveIntegerField()
    actor = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]

    @property
    def rollback_id(self) -> str:
        """The id of the memory graph's `:Rollback` node for this rewind."""
        return f"chat-rewind:{self.pk}"

    @property
    def withdrawn_rounds(self) -> models.QuerySet[ChatRound]:
        return ChatRound.objects.filter(withdrawal__rewind=self)

    @property
    def memories_withdrawn(self) -> int:
        return sum(rollback.memories_withdrawn for rollback in self.memory_rollbacks.all())

    @property
    def facts_reopened(self) -> int:
        return sum(rollback.facts_reopened for rollback in self.memory_rollbacks.all())


class ChatRound(AppendOnlyModel):
    """One message of the client, as said. The reply, the review, the withdrawal by going back and the
    memory rollback are records of their own that point here; this row never changes."""

    class Status(models.TextChoices):
        ANSWERED = "answered", "Answered"
        AWAITING_REVIEW = "awaiting_review", "Waiting for your advisor's review"
        WITHHELD = "withheld", "Withheld by your advisor"
        REFUSED = "refused", "Refused"
        UNANSWERED = "unanswered", "Not answered (memory unavailable)"

    conversation = models.ForeignKey(ChatConversation, on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveIntegerField(help_text="Position in the conversation when it was said.")
    text = models.TextField()
    said_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    said_at = models.DateTimeField()
    session = models.OneToOneField(
        ConversationSession, null=True, blank=True, on_delete=models.PROTECT, related_name="chat_round",
        help_text="The client's words as a chat session: what becomes memory. None when refused.",
    )
    refusal_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["said_at", "pk"]
        indexes = [models.Index(fields=["conversation", "number"], name="chat_round_number")]

    def _related(self, name: str):  # noqa: ANN202
        """A reverse one-to-one record, or None while there is none (no reply yet, not withdrawn...)."""
        return getattr(self, name, None)

    @property
    def reply(self) -> ChatAnswer | None:
        return self._related("answer_record")

    @property
    def status(self) -> str:
        """Derived from the records: refused, no reply yet, held for review, withheld, or answered."""
        if self.refusal_reason:
            return self.Status.REFUSED
        if self.reply is None:
            return self.Status.UNANSWERED
        review = self._related("review")
        if review is None or review.status == ReviewItem.Status.APPROVED:
            return self.Status.ANSWERED
        return self.Status.AWAITING_REVIEW if review.status == ReviewItem.Status.PENDING else self.Status.WITHHELD

    @property
    def answer(self) -> str:
        return self.reply.answer if self.reply else ""

    @property
    def contract(self) -> dict[str, Any]:
        return self.reply.contract if self.reply else {}

    @property
    def disclosure(self) -> str:
        return self.reply.disclosure if self.reply else ""

    @property
    def withdrawn_by(self) -> ChatRewind | None:
        withdrawal = self._related("withdrawal")
        return withdrawal.rewind if withdrawal else None

    @property
    def withdrawn(self) -> bool:
        return self._related("withdrawal") is not None

    @property
    def memory_withdrawn_at(self) -> datetime | None:
        """When this round's memory left the graph's current view (None: not yet, or never in memory)."""
        link = self._related("memory_rollback")
        return link.rollback.at if link else None


class ChatAnswer(AppendOnlyModel):
    """The twin's reply to a round, as shown (with its disclosure); written once, when it was answered.
    A reply under the firm's review policy also has a `ReviewItem` on its round, written with it."""

    round = models.OneToOneField(ChatRound, on_delete=models.CASCADE, related_name="answer_record")
    answer = models.TextField(blank=True)
    contract = models.JSONField(default=dict, blank=True, help_text="The twin's advice contract for this reply.")
    disclosure = models.TextField(blank=True, help_text="The disclosure shown with the answer, as shown.")
    answered_at = models.DateTimeField(default=timezone.now)


class ChatWithdrawal(AppendOnlyModel):
    """Going back set this round aside (kept in the record, out of the conversation's current line)."""

    round = models.OneToOneField(ChatRound, on_delete=models.CASCADE, related_name="withdrawal")
    rewind = models.ForeignKey(ChatRewind, on_delete=models.CASCADE, related_name="withdrawals")


class ChatMemoryRollback(AppendOnlyModel):
    """The memory of some of a rewind's rounds left the graph's current view: when, and what it moved."""

    rewind = models.ForeignKey(ChatRewind, on_delete=models.CASCADE, related_name="memory_rollbacks")
    at = models.DateTimeField(default=timezone.now)
    memories_withdrawn = models.PositiveIntegerField(default=0)
    facts_reopened = models.PositiveIntegerField(default=0)


class ChatMemoryRollbackRound(AppendOnlyModel):
    """Which rounds a memory rollback covered: one row per round, so a round is rolled back once."""

    rollback = models.ForeignKey(ChatMemoryRollback, on_delete=models.CASCADE, related_name="round_links")
    round = models.OneToOneField(ChatRound, on_delete=models.CASCADE, related_name="memory_rollback")


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


class ReviewItem(AppendOnlyModel):
    """A twin answer held for an advisor before it reaches the client (firm review policy). The advisor's
    decision is a `ReviewDecision` of its own (one per item), so neither row ever changes."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    round = models.OneToOneField(ChatRound, on_delete=models.CASCADE, related_name="review")
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]

    @property
    def decision(self) -> ReviewDecision | None:
        return getattr(self, "decision_record", None)

    @property
    def status(self) -> str:
        if self.decision is None:
            return self.Status.PENDING
        return self.Status.APPROVED if self.decision.approved else self.Status.REJECTED

    @property
    def decided_by(self) -> User | None:
        return self.decision.decided_by if self.decision else None

    @property
    def decided_at(self) -> datetime | None:
        return self.decision.decided_at if self.decision else None

    @property
    def note(self) -> str:
        return self.decision.note if self.decision else ""


class ReviewDecision(AppendOnlyModel):
    """An advisor released (approved) or withheld a held answer: who, when and the note to the client."""

    item = models.OneToOneField(ReviewItem, on_delete=models.CASCADE, related_name="decision_record")
    approved = models.BooleanField()
    decided_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

# ---- end of the chat block ----


# ---- Digests (twin/digests/models.py) ----
from twin.digests.models import Digest, DigestApproval, DigestRun, SentDigest  # noqa: E402, F401
