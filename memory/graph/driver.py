"""One Neo4j driver per process, and managed transactions that turn outages into domain errors.

The driver is created lazily from settings so that any URI scheme works unchanged: `bolt://` for
one server, `neo4j://` / `neo4j+s://` for a cluster or Aura (the driver routes reads and writes).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from django.conf import settings
from neo4j import Driver, GraphDatabase, ManagedTransaction
from neo4j.exceptions import DriverError, Neo4jError, ServiceUnavailable, SessionExpired

T = TypeVar("T")

_driver: Driver | None = None
_lock = threading.Lock()
_beside: tuple[int, ThreadPoolExecutor] | None = None  # (pid, pool): a pool is never shared across a fork
_together = threading.local()  # .tx: the transaction `read_together` runs this thread's reads in


_inherited: list[Driver] = []  # in a forked child: the parent's driver, kept so that it is never closed here


def _set_the_parents_driver_aside() -> None:
    """In a forked child: the parent's driver is set aside, never used (its sockets are the parent's, and
    two processes on one Bolt connection read each other's answers) nor closed (closing says goodbye on
    the parent's connections); the child opens its own. So is a lock another thread may have held."""
    global _driver, _lock, _beside, _together
    if _driver is not None:
        _inherited.append(_driver)
    _driver, _lock, _beside, _together = None, threading.Lock(), None, threading.local()


os.register_at_fork(after_in_child=_set_the_parents_driver_aside)


class GraphUnavailable(Exception):
    """Neo4j cannot be reached right now. Callers keep their input and retry later."""


def get_driver() -> Driver:
    global _driver
    if _driver is None:
        with _lock:
            if _driver is None:
                auth = (settings.NEO4J_USER, settings.NEO4J_PASSWORD) if settings.NEO4J_PASSWORD else None
                _driver = GraphDatabase.driver(
                    settings.NEO4J_URI,
                    auth=auth,
                    connection_timeout=settings.NEO4J_CONNECTION_TIMEOUT,
                    max_transaction_retry_time=settings.NEO4J_RETRY_SECONDS,
                    # "property does not exist yet" hints are expected on a young graph (a quote not yet
                    # fetched); real warnings still surface.
                    notifications_disabled_classifications=["UNRECOGNIZED"],
                )
    return _driver


def close_driver() -> None:
    """Close the process's driver (tests, and workers after a fork)."""
    global _driver
    with _lock:
        if _driver is not None:
            _driver.close()
            _driver = None


def shared_read_transaction() -> ManagedTransaction | None:
    """The transaction of the `read_together` block this thread is in, if any: its reads run there."""
    return getattr(_together, "tx", None)


def _run(mode: str, work: Callable[..., T], **params: Any) -> T:
    shared = shared_read_transaction()
    if shared is not None:
        if mode != "read":
            raise RuntimeError("a write inside read_together: the block may run again, and must only read")
        return work(shared, **params)
    try:
        with get_driver().session(database=settings.NEO4J_DATABASE) as session:
            execute = session.execute_read if mode == "read" else session.execute_write
            return execute(work, **params)
    except (ServiceUnavailable, SessionExpired, OSError) as error:
        raise GraphUnavailable(f"The memory graph (Neo4j at {settings.NEO4J_URI}) is unavailable: {error}") from error
    except Neo4jError as error:
        # The server's own errors are not DriverErrors. A retryable one still failing after the driver's
        # retries (DatabaseUnavailable while Neo4j stops or starts) is an outage; any other is the caller's
        # query or data, and is raised as it is.
        if not error.is_retryable():
            raise
        raise GraphUnavailable(f"The memory graph (Neo4j at {settings.NEO4J_URI}) is unavailable: {error}") from error
    except DriverError as error:
        raise GraphUnavailable(f"The memory graph (Neo4j) failed: {error}") from error


def read(work: Callable[..., T], **params: Any) -> T:
    """Run `work(tx, **params)` in a managed read transaction (retried by the driver)."""
    return _run("read", work, **params)


def read_together(block: Callable[[], T]) -> T:
    """Run `block`, with every `read` it makes on this thread inside one managed read transaction.

    For a page that shows several parts of a client's memory: one transaction and one pooled
    connection instead of one per read. Each transaction costs Neo4j about 1 ms of CPU and the driver
    about 0.3 ms besides its queries (BENCHMARKS.md, session 11). The driver runs `block` again when it
    retries the transaction, so the block must only read (a write in it raises); `read_beside` inside
    it runs on another thread, in a transaction of its own. Inside another `read_together` block, the block
    joins that block's transaction.
    """
    if shared_read_transaction() is not None:
        return block()

    def work(tx: ManagedTransaction) -> T:
        _together.tx = tx
        try:
            return block()
        finally:
            _together.tx = None

    return read(work)


def read_beside(work: Callable[..., T], **params: Any) -> Future[T]:
    """Start `read(work, **params)` on another thread, so that it runs while the caller runs its own reads.

    For a read whose server time is long and independent of the caller's (a search's vector-index
    lookup beside its other candidate lists): the two take the time of the longer, not their sum.
    `result()` returns what `read` would, or raises what it would (GraphUnavailable included).
    """
    global _beside
    with _lock:
        if _beside is None or _beside[0] != os.getpid():
            _beside = (os.getpid(), ThreadPoolExecutor(max_workers=4, thread_name_prefix="neo4j-read"))
        pool = _beside[1]
    return pool.submit(read, work, **params)


def write(work: Callable[..., T], **params: Any) -> T:
    """Run `work(tx, **params)` in a managed write transaction (retried by the driver)."""
    return _run("write", work, **params)


def ping() -> None:
    """Raise GraphUnavailable unless Neo4j answers a query."""

    def _ping(tx: ManagedTransaction) -> int:
        return tx.run("RETURN 1 AS ok").single()["ok"]

    read(_ping)
