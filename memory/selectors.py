"""Reads of memory for pages: what a client's twin currently believes, and how it got there."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from memory.graph import facts as graph_facts
from memory.scope import Reader


def client_facts(reader: Reader, *, as_of: datetime | None = None) -> list[dict[str, Any]]:
    """Current facts (or those believed at `as_of`), newest statement per slot first."""
    rows = graph_facts.facts_for_client(reader.scopes, as_of=as_of)
    for row in rows:
        for key in ("valid_from", "valid_to", "recorded_at", "superseded_at"):
            if row[key] is not None:
                row[key] = row[key].to_native()
    rows.sort(key=lambda r: (r["slot"], r["valid_from"]), reverse=True)
    return rows
