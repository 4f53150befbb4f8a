"""STAND-IN for the advice composer (branch `twin` owns the real one; dropped at merge).

Only what the chat needs to run and be tested: `ask` with the agreed signature, answering plain
questions from retrieved memory as items of kind "memory" with citations. Nothing is stored: the real
composer stores an `Advice` row; here `.advice` is None.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from advisor.models import Client, User
from memory.scope import Reader
from memory.services.retrieval import SearchResult, search

CITED = 3


@dataclass
class AdviceResult:
    advice_id: str
    answer: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    declined: bool = False
    missing: list[str] = field(default_factory=list)
    advice: Any = None

    def to_contract(self) -> dict[str, Any]:
        return {"advice_id": self.advice_id, "answer": self.answer, "declined": self.declined,
                "missing": self.missing, "items": self.items, "citations": self.citations,
                "changed_since": {"advice_id": None, "changes": []}}


def ask(*, client: Client, question: str, actor: User | None, as_of: datetime | None = None,
        channel: str = "chat") -> AdviceResult:
    reader = Reader(firm_id=client.firm.slug, client_id=client.external_id)
    found: list[SearchResult] = [r for r in search(reader, question, k=8, as_of=as_of) if r.level != "turn"][:CITED]
    if not found:
        found = search(reader, question, k=CITED, as_of=as_of)
    citations = [{"id": r.id, "text": r.text, "sources": r.sources} for r in found]
    if not found:
        answer = "I don't have anything in memory about that yet."
    else:
        answer = "From what you have told us: " + " ".join(f"{r.text} [{i + 1}]" for i, r in enumerate(found))
    items = [{"kind": "memory", "text": r.text, "basis": [r.id]} for r in found]
    return AdviceResult(advice_id=f"standin-{uuid.uuid4().hex[:12]}", answer=answer, citations=citations, items=items)
