"""Advice the twin gave: an append-only record of what it said, on what basis, and what came before.

A row is written once and never changed or deleted: the model, its queryset and a database trigger
refuse it (`audit.models.AppendOnlyModel`, migration 0002), so "what did the twin advise on 3 March,
and why?" always has the answer it had then.
"""
from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.utils import timezone

from advisor.models import Client, User
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
