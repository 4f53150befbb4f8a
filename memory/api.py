"""The memory's Python API: the same operations as the commands and the twin's langchain tools.

Callers outside a request (scripts, benchmarks, other services) name the firm and client ids; web
views go through `advisor.permissions.reader_for` instead. Importing conversations creates records
in the system of record first, so it lives with them: `advisor.services.importer.import_sessions`.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from memory.scope import Reader
from memory.services import agent_memory
from memory.services.retrieval import SearchResult
from memory.services.retrieval import search as _search

__all__ = ["SearchResult", "search", "remember", "new_note_id", "remember_later", "update_memory", "forget_memory"]


def search(*, firm_id: str, client_id: str | None, query: str, k: int = 10, as_of: datetime | None = None,
           mode: str = "hybrid", known_at: datetime | None = None) -> list[SearchResult]:
    return _search(Reader(firm_id, client_id), query, k=k, as_of=as_of, mode=mode, known_at=known_at)


def remember(*, firm_id: str, client_id: str | None, text: str, source: str, importance: float = 0.5,
             cites: Sequence[str] = ()) -> str:
    return agent_memory.remember(Reader(firm_id, client_id), text, source=source, importance=importance, cites=cites)


new_note_id = agent_memory.new_note_id


def remember_later(*, firm_id: str, client_id: str, memory_id: str, text: str, source: str, importance: float,
                   cites: Sequence[str]) -> None:
    """`remember`, written after the caller's transaction commits (memory/services/agent_memory.py)."""
    agent_memory.remember_later(Reader(firm_id, client_id), text, source=source, importance=importance, cites=cites,
                                memory_id=memory_id)


def update_memory(*, firm_id: str, client_id: str | None, memory_id: str, text: str, source: str) -> str:
    return agent_memory.update_memory(Reader(firm_id, client_id), memory_id, text, source=source)


def forget_memory(*, firm_id: str, client_id: str | None, memory_id: str, reason: str, actor: str) -> None:
    agent_memory.forget_memory(Reader(firm_id, client_id), memory_id, reason=reason, actor=actor)
