"""What retrieval returned is noted in the graph after the answer, not on its way.

Noting access is a write transaction (a commit) on every search: it doubled a search's wait on Neo4j
and, under load, every question paid for it. It only slows decay (memory/services/forgetting.py), so
the ids are handed to one thread per process that writes them about once a second, several searches'
worth in one transaction. An access is at worst noted a second late, or lost with its process or
while Neo4j is down: the memory then decays as if that one search had not returned it.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import Counter
from datetime import datetime

from django.utils import timezone

from memory.graph import lifecycle
from memory.graph.driver import GraphUnavailable

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 1.0
WRITER_THREAD = "memory-access-notes"

_lock = threading.Lock()
_writing = threading.Lock()  # one flush at a time: `flush()` returns only once what was pending is written
_pending: Counter[str] = Counter()
_latest: datetime | None = None
_writer: tuple[int, threading.Thread] | None = None  # (pid, thread): a forked worker starts its own


def note(ids: list[str]) -> None:
    """Count one access to each of these memories, written shortly by this process's writer thread."""
    global _latest, _writer
    if not ids:
        return
    with _lock:
        _pending.update(ids)
        _latest = timezone.now()
        if _writer is None or _writer[0] != os.getpid() or not _writer[1].is_alive():
            thread = threading.Thread(target=_write_forever, name=WRITER_THREAD, daemon=True)
            _writer = (os.getpid(), thread)
            thread.start()


def flush() -> None:
    """Write what is pending now (tests, and a process that exits)."""
    global _latest
    with _writing:
        with _lock:
            counts, at = Counter(_pending), _latest
            _pending.clear()
            _latest = None
        if not counts or at is None:
            return
        try:
            lifecycle.record_access(dict(counts), at)
        except GraphUnavailable as error:
            logger.warning("%d memory accesses not noted (the memory graph is unavailable): %s", len(counts), error)


def _write_forever() -> None:
    while True:
        time.sleep(INTERVAL_SECONDS)
        try:
            flush()
        except Exception:  # a writer that dies would stop noting for the life of the process
            logger.exception("noting memory accesses failed")


def _flush_at_exit() -> None:
    try:
        flush()
    except Exception:  # the process is ending: a failure here must not mask why
        logger.exception("noting memory accesses at exit failed")


atexit.register(_flush_at_exit)
