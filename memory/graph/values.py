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
