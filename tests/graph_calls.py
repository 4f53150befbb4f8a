"""Count the Neo4j transactions a piece of work makes: every `memory.graph.driver.read/write` call.

Each call is one managed transaction, i.e. at least one round trip to the server (the driver may add
one for BEGIN/COMMIT; that is the same for every call), except the reads inside `read_together`, which
share its one transaction: they are named (`names`) but not counted again. Counts are behaviour, not timing: tests pin
them (tests/integration/test_request_cost.py) and the cost bench prints them (tests/bench/request_cost.py).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from memory.graph import driver
from memory.services import access_notes


@dataclass
class GraphCalls:
    reads: int = 0
    writes: int = 0
    # The work function of each call, by name, in call order: which read a test should look at.
    names: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def total(self) -> int:
        return self.reads + self.writes

    def count(self, name: str) -> int:
        return sum(1 for called in self.names if called == name)


@contextmanager
def count_graph_calls() -> Iterator[GraphCalls]:
    """Every driver.read/write made inside `with`, from any thread (the twin reads in a thread pool), except
    the access notes' writer (memory/services/access_notes.py), which writes whenever its second is up:
    what it writes is pending from before `with` and after it alike."""
    calls = GraphCalls()
    real_run = driver._run

    def counted(mode: str, work: Callable[..., Any], **params: Any) -> Any:
        if threading.current_thread().name == access_notes.WRITER_THREAD:
            return real_run(mode, work, **params)
        shared = driver.shared_read_transaction() is not None  # a read of read_together's transaction
        with calls._lock:
            if not shared:
                calls.reads += mode == "read"
                calls.writes += mode != "read"
            calls.names.append(f"{getattr(work, '__module__', '?')}.{getattr(work, '__qualname__', repr(work))}")
        return real_run(mode, work, **params)

    with mock.patch.object(driver, "_run", counted):
        yield calls
