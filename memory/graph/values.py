"""Driver values to native Python at the graph boundary: graph functions return plain Python only."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def epoch_micros(expression: str) -> str:
    """Cypher for a stored DateTime as microseconds since the epoch (null stays null).

    The driver builds a `neo4j.time.DateTime` (pure Python, with its time zone) for each DateTime it
    receives, and `to_native` builds a datetime from it: reading a client's 12 facts took 2.0 ms of CPU
    that way and 1.0 ms this way (same rows, alternating, in one process). An integer costs the driver
    nothing and `from_epoch_micros` makes the same instant, in UTC as every DateTime this project stores,
    with the stored microseconds.
    """
    # epochSeconds of an instant before 1970 with a fraction of a second is not its floor: whole seconds first
    # (truncate refuses null, hence the CASE).
    return (f"CASE WHEN {expression} IS NULL THEN null "
            f"ELSE datetime.truncate('second', {expression}).epochSeconds * 1000000 + {expression}.microsecond END")


def from_epoch_micros(value: int | None) -> datetime | None:
    """The aware UTC datetime `epoch_micros` described, or None for a missing one."""
    return None if value is None else EPOCH + timedelta(microseconds=value)


def native(value: Any) -> Any:
    """neo4j.time values become datetime/date; lists and dicts are converted all the way down."""
    if hasattr(value, "to_native"):
        return value.to_native()
    if isinstance(value, dict):
        return {key: native(item) for key, item in value.items()}
    if isinstance(value, list):
        return [native(item) for item in value]
    return value


class Rows(list):
    """Parameter rows for an UNWIND, sent exactly as a list but never printed.

    The neo4j driver (6.4, `_bolt6.run`) formats every RUN's parameters for its debug log even when
    debug logging is off (`" ".join(map(repr, fields))` as the log call's argument). For a batch of
    memories with their embeddings that text is ~11 MB per 2,000 rows and costs ~125 µs per row,
    eighteen times the packing and sending; measured as the largest Python cost of an import.
    """

    def __repr__(self) -> str:
        return f"<{len(self)} rows>"
