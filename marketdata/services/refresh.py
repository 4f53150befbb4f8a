"""Refreshing remembered quotes: every security any memory mentions (and any the caller adds, such as
clients' holdings), once a cycle. The way of a quote: docs/architecture.md."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from marketdata.models import QuoteRefreshRun
from marketdata.providers import ProviderUnavailable, QuoteBatch, QuoteProvider, get_provider
from marketdata.services.history import record_bars
from marketdata.services.move_alerts import MoveThresholds, record_significant_moves
from memory.graph import securities as graph_securities
from memory.graph.driver import GraphUnavailable

logger = logging.getLogger(__name__)
BATCH_SIZE = 100


@dataclass
class RefreshReport:
    requested: int = 0
    updated: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    events: int = 0


def securities_to_quote(also_quote: Iterable[str] = ()) -> list[str]:
    """Remembered securities plus `also_quote`; those not yet in the graph get a node to carry a quote."""
    extra = set(also_quote)
    remembered = set(graph_securities.remembered_symbols())
    missing = sorted(extra - remembered)
    if missing:
        graph_securities.ensure_securities(missing)
    return sorted(extra | remembered)


def refresh_remembered_quotes(provider: QuoteProvider | None = None, now: datetime | None = None, *,
                              also_quote: Iterable[str] = (), thresholds: MoveThresholds | None = None
                              ) -> RefreshReport:
    """Quote each remembered security once; failures mark prices stale, never zero or silently old."""
    provider = provider or get_provider()
    checked_at = now or datetime.now(timezone.utc)
    symbols = securities_to_quote(also_quote)
    run = QuoteRefreshRun.objects.create(provider=provider.name, symbols_requested=len(symbols))
    report = RefreshReport(requested=len(symbols))
    try:
        _refresh(provider, symbols, checked_at, report, thresholds)
    except GraphUnavailable as error:
        # The graph went away mid-cycle: the run says so (never left "running"), and the task retries.
        run.symbols_updated, run.unknown = len(report.updated), report.unknown
        run.errors = {**report.errors, "graph": f"Neo4j became unavailable mid-refresh: {error}"[:500]}
        run.status, run.finished_at = QuoteRefreshRun.Status.FAILED, datetime.now(timezone.utc)
        run.save()
        raise
    run.symbols_updated = len(report.updated)
    run.unknown = report.unknown
    run.errors = report.errors
    run.finished_at = datetime.now(timezone.utc)
    run.status = (QuoteRefreshRun.Status.FAILED if report.errors and not report.updated
                  else QuoteRefreshRun.Status.PARTIAL if report.errors or report.unknown
                  else QuoteRefreshRun.Status.OK)
    run.save()
    return report


def _refresh(provider: QuoteProvider, symbols: list[str], checked_at: datetime, report: RefreshReport,
             thresholds: MoveThresholds | None) -> None:
    for start in range(0, len(symbols), BATCH_SIZE):
        chunk = symbols[start:start + BATCH_SIZE]
        try:
            batch = provider.latest_quotes(chunk)
        except ProviderUnavailable as error:
            logger.warning("quote refresh failed for %d symbols: %s", len(chunk), error)
            batch = QuoteBatch(errors={symbol: str(error) for symbol in chunk})
        _store(batch, checked_at, report)
    report.events = record_significant_moves(report.updated, thresholds)


def _store(batch: QuoteBatch, checked_at: datetime, report: RefreshReport) -> None:
    rows = [{"symbol": q.symbol, "price": q.price, "currency": q.currency, "as_of": q.as_of, "source": q.source,
             "market_date": q.market_date, "checked_at": checked_at} for q in batch.quotes.values()]
    if rows:
        report.updated.extend(graph_securities.apply_quotes(rows))
        record_bars(batch.quotes.values())
    marks = [{"symbol": s, "status": "unknown", "error": "the provider does not know this symbol", "checked_at": checked_at}
             for s in batch.unknown]
    marks += [{"symbol": s, "status": "stale", "error": e[:500], "checked_at": checked_at} for s, e in batch.errors.items()]
    if marks:
        graph_securities.mark_quotes(marks)
    report.unknown.extend(batch.unknown)
    report.errors.update(batch.errors)
