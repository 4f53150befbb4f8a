"""Reads of memory for pages: what a client's twin currently believes, and how it got there."""
from __future__ import annotations

from datetime import datetime

from memory.graph import facts as graph_facts
from memory.graph import summaries as graph_summaries
from memory.graph.facts import FactRow
from memory.graph.summaries import ProfileVersion
from memory.scope import Reader


def client_facts(reader: Reader, *, as_of: datetime | None = None, known_at: datetime | None = None) -> list[FactRow]:
    """Current facts (or those believed at `as_of`, or known to the twin at `known_at`), newest statement
    per slot first."""
    rows = graph_facts.facts_for_client(reader.scopes, as_of=as_of, known_at=known_at)
    rows.sort(key=lambda r: (r.slot, r.valid_from), reverse=True)
    return rows


def client_profile(reader: Reader, *, as_of: datetime | None = None, known_at: datetime | None = None
                   ) -> ProfileVersion | None:
    """The profile version in view on either clock (None before the first consolidation)."""
    return graph_summaries.profile_at(reader.scopes, as_of=as_of, known_at=known_at)


def profile_history(reader: Reader) -> list[ProfileVersion]:
    """Every current profile version, newest first, each with what changed and from which turns."""
    return graph_summaries.profile_versions(reader.scopes)
