"""CPU seconds spent by the benchmark's own Neo4j and by this process.

The machine is shared: wall-clock times swing with everyone else's load, while the CPU time a piece
of work costs does not (much). The benches report both.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def neo4j_pid() -> int | None:
    """The process id of the local Neo4j `make bench` started (None for an external server)."""
    name = os.environ.get("NEO4J_LOCAL_NAME", "neo4j-bench")
    try:
        return int((Path(__file__).resolve().parents[2] / "var" / "run" / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def process_seconds(pid: int, *, reaped: bool = False) -> float:
    """User + system CPU seconds of a live process (with `reaped`: its ended children's too)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
    return (ticks + (int(fields[13]) + int(fields[14]) if reaped else 0)) / _TICKS  # cutime, cstime: ended children


def neo4j_seconds() -> float | None:
    """User + system CPU seconds of the local Neo4j `make bench` started (None for an external server)."""
    return _of_local_neo4j(process_seconds)


def _of_local_neo4j(seconds: Callable[[int], float]) -> float | None:
    """`seconds(pid)` of the local Neo4j; None for an external server or one that has stopped."""
    pid = neo4j_pid()
    if pid is None:
        return None
    try:
        return seconds(pid)
    except OSError:
        return None


def jit_compiler_seconds(pid: int) -> float:
    """CPU seconds a JVM's just-in-time compiler threads have used (HotSpot's "C1/C2 CompilerThread").

    A JVM compiles the code a workload makes hot while it runs: on a server started minutes ago, this
    is a large share of Neo4j's CPU (measured: over half of it in a 15 s window of requests). Reported
    apart, it tells a warming server from the steady cost of each request. A lower bound: HotSpot stops
    compiler threads it no longer needs, and a thread that has ended is no longer listed.
    """
    total = 0
    for thread in Path(f"/proc/{pid}/task").iterdir():
        try:
            if not (thread / "comm").read_text().startswith(("C1 CompilerThre", "C2 CompilerThre")):
                continue
            fields = (thread / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended between the listing and the read
        total += int(fields[11]) + int(fields[12])
    return total / _TICKS


def neo4j_jit_seconds() -> float | None:
    """`jit_compiler_seconds` of the local Neo4j `make bench` started (None for an external server)."""
    return _of_local_neo4j(jit_compiler_seconds)


class Meter:
    """Wall, Neo4j CPU (and, of it, its JIT compiler's) and Python CPU seconds of the work done inside `with`."""

    # Neo4j's counters are read outside this process's clocks: reading the JIT's share walks every thread
    # of the JVM under /proc, a few ms of this process's CPU that a request's figure must not include.
    def __enter__(self) -> Meter:
        self._neo4j, self._jit = neo4j_seconds(), neo4j_jit_seconds()
        self._wall, self._python = time.perf_counter(), _python_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall
        self.python = _python_seconds() - self._python
        after, jit_after = neo4j_seconds(), neo4j_jit_seconds()
        self.neo4j = after - self._neo4j if after is not None and self._neo4j is not None else None
        self.jit = jit_after - self._jit if jit_after is not None and self._jit is not None else None


def _python_seconds() -> float:
    """This process's CPU and its children's once reaped (an import drains in forked processes)."""
    times = os.times()
    return time.process_time() + times.children_user + times.children_system


def postgres_seconds(postmaster: int) -> float:
    """CPU seconds of the postmaster, its live children and the children it has reaped."""
    import psutil

    total = process_seconds(postmaster, reaped=True)
    for child in psutil.Process(postmaster).children(recursive=True):
        try:
            total += process_seconds(child.pid)
        except OSError:
            pass  # ended between the listing and the read: counted once reaped
    return total


def postmaster_pid() -> int:
    """The local PostgreSQL server's postmaster: the parent of this connection's backend."""
    import psutil
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    return psutil.Process(backend).ppid()
