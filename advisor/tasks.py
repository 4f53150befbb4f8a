"""Celery tasks of the advisory side: thin, idempotent (a late run never regresses a newer price)."""
from __future__ import annotations

from celery import shared_task

from advisor.services.erasure import purge_due_erasures
from advisor.services.quotes import refresh_client_quotes
from memory.graph.driver import GraphUnavailable


@shared_task(
    name="quotes.refresh_client_quotes",
    acks_late=True,
    autoretry_for=(GraphUnavailable,),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=120,
    time_limit=180,
)
def refresh_client_quotes_task() -> dict[str, object]:
    report = refresh_client_quotes()
    return {"requested": report.requested, "updated": len(report.updated), "unknown": report.unknown,
            "errors": len(report.errors), "events": report.events}


@shared_task(name="records.purge_due_erasures", acks_late=True, autoretry_for=(GraphUnavailable,), retry_backoff=60,
             max_retries=3, soft_time_limit=1800, time_limit=1900)
def purge_due_erasures_task() -> dict[str, list[int]]:
    """Daily: purge the records of erasure requests whose retention ended, unless a legal hold stops it."""
    report = purge_due_erasures()
    return {"purged": report.purged, "held": report.held, "incomplete": report.incomplete}
