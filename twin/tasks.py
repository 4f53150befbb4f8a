"""Celery tasks of the twin: thin, idempotent, calling services."""
from __future__ import annotations

from celery import shared_task

from twin.services import chat


@shared_task(name="twin.withdraw_pending_chat_memory", acks_late=True, soft_time_limit=120, time_limit=180)
def withdraw_pending_chat_memory(limit: int = 200) -> int:
    """Roll back the memory of chat rounds a client went back from before ingestion had taken them in.

    Idempotent (each rollback is keyed by its rewind); when the graph is down the rounds stay pending
    and the next sweep takes them.
    """
    return chat.apply_all_pending_withdrawals(limit=limit)
