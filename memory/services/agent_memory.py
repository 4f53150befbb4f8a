"""Remember, revise and forget on purpose: the operations behind the twin's memory tools."""
from __future__ import annotations

import uuid

from django.utils import timezone

from memory.embeddings import embed_texts
from memory.graph import notes
from memory.models import MemoryAuditEntry
from memory.scope import Reader, client_scope, firm_scope

FORGET_REASONS = ("decayed", "redundant", "retracted", "incorrect")
MAX_NOTE_CHARS = 4000


class MemoryNotFound(LookupError):
    """No readable, active memory has that id for this caller."""


class InvalidMemoryText(ValueError):
    """The text to remember is empty or too long."""


def _clean(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise InvalidMemoryText("Nothing to remember: the text is empty.")
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidMemoryText(f"Keep a memory under {MAX_NOTE_CHARS} characters.")
    return text


def _props(reader: Reader, text: str, *, source: str, importance: float) -> dict:
    now = timezone.now()
    private = reader.client_id is not None
    return {
        "level": "observation", "kind": "note", "text": text, "embedding": embed_texts([text])[0],
        "importance": max(0.0, min(1.0, importance)), "status": "active",
        "firm_id": reader.firm_id, "client_id": reader.client_id,
        "scope": client_scope(reader.firm_id, reader.client_id) if private else firm_scope(reader.firm_id),
        "visibility": "client" if private else "firm", "source": source,
        "created_at": now, "recorded_at": now, "valid_from": now,
    }


def remember(reader: Reader, text: str, *, source: str, importance: float = 0.5) -> str:
    props = _props(reader, _clean(text), source=source, importance=importance)
    memory_id = f"note:{uuid.uuid4().hex}"
    client_node = props["scope"] if reader.client_id else None
    notes.create_note(memory_id, props, client_node)
    return memory_id


def update_memory(reader: Reader, memory_id: str, text: str, *, source: str) -> str:
    """A revision supersedes the old memory, which stays readable "as of" earlier times."""
    props = _props(reader, _clean(text), source=source, importance=0.6)
    new_id = f"note:{uuid.uuid4().hex}"
    if not notes.supersede_memory(memory_id, new_id, props, reader.scopes, props["recorded_at"]):
        raise MemoryNotFound(f"No current memory {memory_id!r} that you can change.")
    return new_id


def forget_memory(reader: Reader, memory_id: str, *, reason: str, actor: str) -> None:
    if reason not in FORGET_REASONS:
        raise InvalidMemoryText(f"reason must be one of {', '.join(FORGET_REASONS)}")
    if not notes.forget(memory_id, reader.scopes, reason, timezone.now()):
        raise MemoryNotFound(f"No active memory {memory_id!r} that you can forget.")
    MemoryAuditEntry.objects.create(
        action="forget", actor=actor, firm_id=reader.firm_id, client_id=reader.client_id or "",
        memory_id=memory_id, detail={"reason": reason},
    )
