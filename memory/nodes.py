"""The one place that builds a memory node's properties (docs/architecture.md, "memory node model").

Every memory, whatever wrote it (ingestion, the twin's notes, market moves, advice), carries the same
core: text, level and kind, importance, provenance (`source`), scope (`firm_id`, `client_id`, the
`scope` token, `visibility`), status, and both clocks (`valid_from` when it became true in the world;
`recorded_at` when it was said or learned, `created_at` when the graph took it in).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from memory.scope import client_scope, firm_scope


def memory_properties(*, firm_id: str, client_id: str | None, level: str, kind: str, text: str, importance: float,
                      source: str, valid_from: datetime, recorded_at: datetime, created_at: datetime,
                      **extra: Any) -> dict[str, Any]:
    """Properties of one memory node: a client's private memory when `client_id` is given, else firm-shared."""
    private = client_id is not None
    return {
        "firm_id": firm_id, "client_id": client_id,
        "scope": client_scope(firm_id, client_id) if private else firm_scope(firm_id),
        "visibility": "client" if private else "firm", "status": "active", "source": source,
        "level": level, "kind": kind, "text": text, "importance": max(0.0, min(1.0, float(importance))),
        "valid_from": valid_from, "recorded_at": recorded_at, "created_at": created_at,
        **extra,
    }
