"""Reads of memory for pages: what a client's twin currently believes, and how it got there."""
from __future__ import annotations

from datetime import datetime

from memory.graph import facts as graph_facts
from memory.graph.facts import FactRow
from memory.scope import Reader


def client_facts(reader: Reader, *, as_of: datetime | None = None) -> list[FactRow]:
    """Current facts (or those believed at `as_of`), newest statement per slot first."""
    rows = graph_facts.facts_for_client(reader.scopes, as_of=as_of)
    rows.sort(key=lambda r: (r.slot, r.valid_from), reverse=True)
    return rows
