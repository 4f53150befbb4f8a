"""Celery tasks for market data: thin, idempotent (a late run never regresses a newer price)."""
from __future__ import annotations

from celery import shared_task

from marketdata.services.refresh import refresh_remembered_quotes
from memory.graph.driver import GraphUnavailable


@shared_task(
    name="marketdata.refresh_remembered_quotes",
    acks_late=True,
    autoretry_for=(GraphUnavailable,),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=120,
    time_limit=180,
)
def refresh_remembered_quotes_task() -> dict[str, object]:
    report = refresh_remembered_quotes()
    return {"requested": report.requested, "updated": len(report.updated), "unknown": report.unknown,
            "errors": len(report.errors), "events": report.events}
