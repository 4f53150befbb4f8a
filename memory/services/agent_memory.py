"""Remember, revise and forget on purpose: the operations behind the twin's memory tools.

A caller reads more than it may change: a client's reader sees firm research but writes only in the
client's own scope (`Reader.writable_scopes`), so no twin conversation can revise or forget a
firm-wide viewpoint. Each change is audited in the same database transaction that wraps its graph
write: if the graph write fails, neither happened. The twin's note of its advice is queued instead
(`remember_later`): audited with the advice, written by ingestion.
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit import services as audit
from memory.embeddings import embed_texts
from memory.graph import notes
from memory.nodes import memory_properties
from memory.records import NoteRecord
from memory.scope import Reader
from memory.services import outbox

FORGET_REASONS = ("decayed", "redundant", "retracted", "incorrect")
MAX_NOTE_CHARS = 4000


class MemoryNotFound(LookupError):
    """No active memory with that id that this caller may change."""


class InvalidMemoryText(ValueError):
    """The text to remember is empty or too long."""


def _clean(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise InvalidMemoryText("Nothing to remember: the text is empty.")
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidMemoryText(f"Keep a memory under {MAX_NOTE_CHARS} characters.")
    return text


def note_properties(*, firm_id: str, client_id: str | None, text: str, source: str, importance: float,
                    noted_at: datetime) -> dict[str, Any]:
    """A note's properties, without its embedding (ingestion embeds a queued note with its batch)."""
    return memory_properties(firm_id=firm_id, client_id=client_id, level="observation", kind="note", text=text,
                             importance=importance, source=source, valid_from=noted_at, recorded_at=noted_at,
                             created_at=timezone.now())


def _note(reader: Reader, text: str, *, source: str, importance: float) -> dict[str, Any]:
    props = note_properties(firm_id=reader.firm_id, client_id=reader.client_id, text=text, source=source,
                            importance=importance, noted_at=timezone.now())
    props["embedding"] = embed_texts([text])[0]
    return props


def new_note_id() -> str:
    return f"note:{uuid.uuid4().hex}"


def remember(reader: Reader, text: str, *, source: str, importance: float = 0.5, actor: str = "",
             cites: Sequence[str] = ()) -> str:
    """A note in the reader's own scope. `cites`: the memory ids it rests on (stored advice cites what it
    answered from), linked so forgetting keeps them; ids the reader may not read are never linked."""
    props = _note(reader, _clean(text), source=source, importance=importance)
    memory_id = new_note_id()
    with transaction.atomic():
        # The graph write first, the audit entry last: recording it locks the audit chain's head, one row
        # every audited request of the firm waits for, until the caller's transaction commits (stored
        # advice commits right after). A failed graph write still leaves no entry.
        notes.create_note(memory_id, props, props["scope"] if reader.client_id else None, cites=cites,
                          readable_scopes=reader.scopes)
        audit.record(action="memory.remember", actor=actor or source, firm_id=reader.firm_id,
                     client_id=reader.client_id or "", target=f"memory:{memory_id}", detail={"source": source})
    return memory_id


def remember_later(reader: Reader, text: str, *, source: str, importance: float, cites: Sequence[str],
                   memory_id: str) -> None:
    """`remember`, queued: the note waits in the outbox and ingestion writes it (`memory.drain_outbox`).
    Call it inside the transaction that saves what the note is about (stored advice), and nudge the
    drain on commit. The answer then never waits on the graph: a note's link to its client waits for
    any drain writing that client (a drain write-locks its clients), and when Neo4j refuses writes the
    advice is kept and its note follows. Only a client's reader: the note is the client's."""
    if reader.client_id is None:
        raise ValueError("a queued note is a client's: give a client's reader")
    record = NoteRecord(firm_id=reader.firm_id, client_id=reader.client_id, memory_id=memory_id,
                        text=_clean(text), source=source, importance=importance, cites=tuple(cites),
                        noted_at=timezone.now())
    outbox.enqueue_note(record)
    audit.record(action="memory.remember", actor=source, firm_id=reader.firm_id, client_id=reader.client_id,
                 target=f"memory:{memory_id}", detail={"source": source, "queued": True})


def update_memory(reader: Reader, memory_id: str, text: str, *, source: str, actor: str = "") -> str:
    """A revision supersedes the old memory, which stays readable "as of" earlier times."""
    props = _note(reader, _clean(text), source=source, importance=0.6)
    new_id = f"note:{uuid.uuid4().hex}"
    with transaction.atomic():
        audit.record(action="memory.revise", actor=actor or source, firm_id=reader.firm_id,
                     client_id=reader.client_id or "", target=f"memory:{memory_id}",
                     detail={"source": source, "revision": new_id})
        if not notes.supersede_memory(memory_id, new_id, props, reader.writable_scopes, props["recorded_at"]):
            raise MemoryNotFound(f"No current memory {memory_id!r} that you can change.")
    return new_id


def forget_memory(reader: Reader, memory_id: str, *, reason: str, actor: str) -> None:
    if reason not in FORGET_REASONS:
        raise InvalidMemoryText(f"reason must be one of {', '.join(FORGET_REASONS)}")
    with transaction.atomic():
        audit.record(action="memory.forget", actor=actor, firm_id=reader.firm_id, client_id=reader.client_id or "",
                     target=f"memory:{memory_id}", detail={"reason": reason})
        if not notes.forget(memory_id, reader.writable_scopes, reason, timezone.now()):
            raise MemoryNotFound(f"No active memory {memory_id!r} that you can forget.")
