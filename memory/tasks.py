"""Celery tasks for memory: thin, idempotent, retried only when the graph is unavailable."""
from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Any

import redis
from celery import shared_task
from django.conf import settings

from memory.extraction import ExtractionUnavailable
from memory.graph.driver import GraphUnavailable
from memory.services.consolidation import consolidate
from memory.services.forgetting import forget
from memory.services.ingest import DrainReport, drain_outbox

logger = logging.getLogger(__name__)
DRAIN_TIME_LIMIT_SECONDS = 300


@shared_task(
    name="memory.drain_outbox",
    acks_late=True,
    autoretry_for=(GraphUnavailable, ExtractionUnavailable),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=None,  # the beat sweep also re-queues; nothing in the outbox is ever dropped
    soft_time_limit=240,
    time_limit=DRAIN_TIME_LIMIT_SECONDS,
)
def drain_memory_outbox(max_sessions: int = 200, partition: list[int] | None = None) -> dict[str, int]:
    """`partition` [i, n]: this drain takes only the i-th of n partitions of the clients (n workers at once).

    A partition is drained by one worker at a time: when the sweep's next drain of it arrives while the
    last one still runs (a big backlog), a second worker would write the same pending records again, so
    it returns at once instead (`skipped`); the running drain, or the next sweep, takes them."""
    if not partition:
        return _drained(drain_outbox(max_sessions=max_sessions))
    part, parts = partition
    lock = redis.Redis.from_url(settings.REDIS_URL).lock(
        f"memory.drain_outbox:{part}/{parts}", timeout=DRAIN_TIME_LIMIT_SECONDS)  # a killed drain's lock expires
    if not lock.acquire(blocking=False):
        return {"sessions": 0, "turns": 0, "remaining": -1, "skipped": 1}
    try:
        return _drained(drain_outbox(max_sessions=max_sessions, partition=(part, parts)))
    finally:
        with contextlib.suppress(redis.exceptions.LockError):  # expired meanwhile: nothing to release
            lock.release()


def _drained(report: DrainReport) -> dict[str, int]:
    return {"sessions": report.sessions, "turns": report.turns, "remaining": report.remaining}


@shared_task(
    name="memory.consolidate",
    acks_late=True,
    autoretry_for=(GraphUnavailable,),
    retry_backoff=30,
    max_retries=5,
    soft_time_limit=1800,
    time_limit=1900,
)
def consolidate_memory() -> dict[str, float]:
    """Summaries and profile versions for every client whose memory changed since it was last consolidated
    (the others are skipped unread); idempotent, so a repeated run is harmless."""
    report = consolidate()
    return {"clients": report.clients, "skipped": report.skipped, "sessions": report.sessions,
            "written": report.written, "seconds": report.seconds}


@shared_task(name="memory.forget", acks_late=True, autoretry_for=(GraphUnavailable,), retry_backoff=30, max_retries=5,
             soft_time_limit=1800, time_limit=1900)
def forget_memory() -> dict[str, int]:
    """Forget what has decayed or is redundant (statuses with reasons; nothing is deleted)."""
    report = forget(dry_run=False)
    return {"considered": report.considered, "forgotten": report.forgotten}


# Queueing a drain from a web request is a nudge, not a duty: the outbox already holds the record and
# the beat sweep drains it anyway. So the request gives the broker one short try on a connection of its
# own, instead of Celery's defaults (pooled connections retried for seconds, and a result-store
# subscription retried 20 times), which held a portal request ~20 s on a refused Redis and over a minute
# on one that accepts connections but never answers.
NUDGE_TIMEOUT_SECONDS = 2.0
# That connection is kept for the next nudge of the same process and thread (and broker): opening one
# cost ~4 ms of CPU per chat message (redis-py reads its package metadata per connection, kombu declares
# the queue again), now paid once. It is dropped when a publish on it fails.
_kept = threading.local()


def queue_outbox_drain() -> None:
    """Ask the workers to drain the outbox now, one drain per partition of the clients as the beat sweep
    sends them (settings.OUTBOX_DRAIN_PARTITIONS), so that no two workers write the same record; no
    result is kept. When the broker cannot be reached this raises (kombu's OperationalError) within
    about NUDGE_TIMEOUT_SECONDS, and nothing is lost."""
    app = drain_memory_outbox.app
    owner = (os.getpid(), app.conf.broker_url)
    kept = getattr(_kept, "connection", None)
    if kept is not None and kept[0] == owner:
        try:
            _publish_drain(kept[1])
            return
        except Exception as error:  # noqa: BLE001  (a kept connection may have gone stale: one fresh try)
            logger.info("kept broker connection failed (%s); trying a fresh one", error)
            _release(kept[1])
    _kept.connection = None  # another process (a fork) or broker: not ours to reuse or close
    one_short_try = {"max_retries": 0, "socket_connect_timeout": NUDGE_TIMEOUT_SECONDS,
                     "socket_timeout": NUDGE_TIMEOUT_SECONDS}
    connection = app.connection_for_write(connect_timeout=NUDGE_TIMEOUT_SECONDS, transport_options=one_short_try)
    try:
        _publish_drain(connection)
    except BaseException:
        _release(connection)
        raise
    _kept.connection = (owner, connection)


def _publish_drain(connection: Any) -> None:
    parts = settings.OUTBOX_DRAIN_PARTITIONS
    for part in range(parts):
        drain_memory_outbox.apply_async(kwargs={"partition": [part, parts]}, connection=connection, retry=False,
                                        ignore_result=True)


def _release(connection: Any) -> None:
    try:
        connection.release()
    except Exception as error:  # noqa: BLE001  (closing a broken connection may fail too; it is dropped anyway)
        logger.info("closing a broker connection failed: %s", error)


def nudge_outbox_drain() -> None:
    """`queue_outbox_drain` for services' `transaction.on_commit`: when the broker is down the record is
    safe in the outbox and the beat sweep drains it, so the failure is logged, not raised."""
    try:
        queue_outbox_drain()
    except Exception as error:  # noqa: BLE001  (any broker failure: the outbox keeps the record)
        logger.warning("could not queue the memory drain now (%s); the beat sweep will pick it up", error)
