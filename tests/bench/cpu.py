"""CPU seconds spent by the benchmark's own Neo4j and by this process.

The machine is shared: wall-clock times swing with everyone else's load, while the CPU time a piece
of work costs does not (much). The benches report both.
"""
from __future__ import annotations

import os
import time
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
    pid = neo4j_pid()
    if pid is None:
        return None
    try:
        return process_seconds(pid)
    except OSError:
        return None


class Meter:
    """Wall, Neo4j CPU and Python CPU seconds of the work done inside `with`."""

    def __enter__(self) -> Meter:
        self._wall, self._neo4j, self._python = time.perf_counter(), neo4j_seconds(), _python_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall
        after = neo4j_seconds()
        self.neo4j = after - self._neo4j if after is not None and self._neo4j is not None else None
        self.python = _python_seconds() - self._python


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
