"""Correcting what the twin remembers about a client, once a person has confirmed the correction.

The corrected statement becomes a fact in the old fact's slot (`memory/graph/corrections.py`), so the
client's facts, retrieval and later sessions all see it; the old fact is superseded, never overwritten.
Its provenance is the correction that confirmed it (`source`), not a conversation turn.
"""
from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from audit import services as audit
from memory.embeddings import embed_texts
from memory.graph import corrections as graph_corrections
from memory.scope import Reader

MAX_CORRECTION_CHARS = 1000


class CorrectionRejected(ValueError):
    """The correction cannot be written as given; the message says what to change."""


def correct_fact(*, reader: Reader, fact_id: str, text: str, source: str, actor: str) -> str:
    """Replace the current fact `fact_id` with `text`; returns the new fact's id."""
    text = (text or "").strip()
    if not text:
        raise CorrectionRejected("The corrected statement is empty.")
    if len(text) > MAX_CORRECTION_CHARS:
        raise CorrectionRejected(f"Keep a correction under {MAX_CORRECTION_CHARS} characters.")
    if reader.client_id is None:
        raise CorrectionRejected("Corrections are made to one client's memory; name the client.")
    now = timezone.now()
    props = {"text": text, "value": f"corrected: {text}", "embedding": embed_texts([text])[0], "importance": 0.8,
             "status": "active", "source": source, "created_at": now, "recorded_at": now, "valid_from": now}
    new_id = f"correction:{uuid.uuid4().hex}"
    with transaction.atomic():
        audit.record(action="memory.correct", actor=actor, firm_id=reader.firm_id, client_id=reader.client_id,
                     target=f"memory:{fact_id}", detail={"revised_as": new_id, "source": source})
        written = graph_corrections.supersede_fact(old_id=fact_id, new_id=new_id, props=props,
                                                   scopes=reader.writable_scopes, at=now)
        if written is None:
            raise CorrectionRejected(f"No current fact {fact_id!r} in this client's memory: it may have changed since.")
    return new_id
