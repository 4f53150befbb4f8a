"""Reads of memory for pages: what a client's twin currently believes, and how it got there."""
from __future__ import annotations

from datetime import datetime

from memory.graph import facts as graph_facts
from memory.graph import summaries as graph_summaries
from memory.graph.facts import FactHistoryRow, FactRow
from memory.graph.summaries import ProfileVersion
from memory.scope import Reader, client_scope


def client_facts(reader: Reader, *, as_of: datetime | None = None, known_at: datetime | None = None) -> list[FactRow]:
    """Current facts (or those believed at `as_of`, or known to the twin at `known_at`), newest statement
    per slot first."""
    rows = graph_facts.facts_for_client(reader.scopes, as_of=as_of, known_at=known_at)
    rows.sort(key=lambda r: (r.slot, r.valid_from), reverse=True)
    return rows


def client_fact_history(*, firm_id: str, client_id: str, since: datetime | None = None,
                        until: datetime | None = None) -> list[FactHistoryRow]:
    """Every version of every fact about one client (current, superseded, forgotten, corrected): the
    client's memory as a record, for compliance exports; not a person's view (no Reader)."""
    return graph_facts.fact_history(client_scope(firm_id, client_id), since=since, until=until)


def client_profile(reader: Reader, *, as_of: datetime | None = None, known_at: datetime | None = None
                   ) -> ProfileVersion | None:
    """The profile version in view on either clock (None before the first consolidation)."""
    return graph_summaries.profile_at(reader.scopes, as_of=as_of, known_at=known_at)


def profile_history(reader: Reader) -> list[ProfileVersion]:
    """Every current profile version, newest first, each with what changed and from which turns."""
    return graph_summaries.profile_versions(reader.scopes)
