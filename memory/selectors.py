"""Reads of memory for pages: what a client's twin currently believes, and how it got there."""
from __future__ import annotations

from datetime import datetime

from memory.graph import facts as graph_facts
from memory.graph import summaries as graph_summaries
from memory.graph.facts import FactHistoryRow, FactRow
from memory.graph.summaries import ProfileVersion
from memory.scope import Reader, client_scope


def _fact_scopes(reader: Reader) -> list[str]:
    """A client's facts are their own memory's. The firm's shared facts are its analysts' viewpoints, one per
    security and version: a firm of years of research holds tens of thousands, which made every client page
    and every answer read them all (4 s on the firm research bench graph), and listed the firm's current views
    on every security as what the twin knows about the client. Pages and the twin read viewpoints from their
    own records (`advisor.models.Viewpoint`)."""
    return reader.writable_scopes


def client_facts(reader: Reader, *, as_of: datetime | None = None, known_at: datetime | None = None) -> list[FactRow]:
    """The client's current facts (or those believed at `as_of`, or known to the twin at `known_at`), newest
    statement per slot first."""
    rows = graph_facts.facts_for_client(_fact_scopes(reader), as_of=as_of, known_at=known_at)
    rows.sort(key=lambda r: (r.slot, r.valid_from), reverse=True)
    return rows


def client_facts_with_history(reader: Reader) -> tuple[list[FactRow], list[FactRow]]:
    """(the current facts as `client_facts` orders them, every active fact with its history), from one
    read: the current facts are the history's unsuperseded part, so a caller that needs both (the twin
    leaves replaced statements out of what it recalls) does not read the facts twice."""
    history = graph_facts.facts_for_client(_fact_scopes(reader), include_history=True)
    current = sorted((row for row in history if row.superseded_at is None),
                     key=lambda r: (r.slot, r.valid_from), reverse=True)
    return current, history


def client_fact_history(*, firm_id: str, client_id: str, since: datetime | None = None,
                        until: datetime | None = None) -> list[FactHistoryRow]:
    """Every version of every fact about one client (current, superseded, forgotten, corrected): the
    client's memory as a record, for compliance exports; not a person's view (no Reader)."""
    return graph_facts.fact_history(client_scope(firm_id, client_id), since=since, until=until)


def client_profile(reader: Reader, *, as_of: datetime | None = None, known_at: datetime | None = None
                   ) -> ProfileVersion | None:
    """The profile version in view on either clock (None before the first consolidation)."""
    return graph_summaries.profile_at(reader.scopes, as_of=as_of, known_at=known_at)


def client_profile_with_history(reader: Reader, *, as_of: datetime | None = None, known_at: datetime | None = None
                                ) -> tuple[ProfileVersion | None, list[ProfileVersion]]:
    """(`client_profile`, `profile_history`) for a page that shows both: one read when it shows now (the
    current version is the newest unsuperseded one of the history, in the same order), two for a moment."""
    versions = profile_history(reader)
    if as_of is None and known_at is None:
        return next((v for v in versions if v.superseded_at is None), None), versions
    return client_profile(reader, as_of=as_of, known_at=known_at), versions


def profile_history(reader: Reader) -> list[ProfileVersion]:
    """Every current profile version, newest first, each with what changed and from which turns."""
    return graph_summaries.profile_versions(reader.scopes)
