"""Celery tasks for memory: thin, idempotent, retried only when the graph is unavailable."""
from __future__ import annotations

from celery import shared_task

from memory.extraction import ExtractionUnavailable
from memory.graph.driver import GraphUnavailable
from memory.services.ingest import drain_outbox


@shared_task(
    name="memory.drain_outbox",
    acks_late=True,
    autoretry_for=(GraphUnavailable, ExtractionUnavailable),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=None,  # the beat sweep also re-queues; nothing in the outbox is ever dropped
    soft_time_limit=240,
    time_limit=300,
)
def drain_memory_outbox(max_sessions: int = 200) -> dict[str, int]:
    report = drain_outbox(max_sessions=max_sessions)
    return {"sessions": report.sessions, "turns": report.turns, "remaining": report.remaining}
