"""Driver values to native Python at the graph boundary: graph functions return plain Python only."""
from __future__ import annotations

from typing import Any


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
