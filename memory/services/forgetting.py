"""Forgetting: decay by importance and access, per level; redundancy; and a dry run that shows both.

Decay follows FinMem's layered memory (Yu et al., 2023): each layer has its own stability Q, and a
memory's retention is its importance times exp(-age / Q). Age runs on the twin's own clock: from its
last access, or from when the twin took it in (`created_at`), never from when it was said, so that
importing years of a client's history does not forget it on the next run. Short-lived observations have a small Q, profile facts a large one; each
access raises importance a little. A memory whose retention falls below RETENTION_FLOOR is forgotten
with reason 'decayed'.

Redundancy: a turn a session summary quotes whole is covered by it; it leaves the candidate pool
(reason 'redundant') but stays the summary's source. Retraction is a person's decision
(`agent_memory.forget_memory`, reason 'retracted' or 'incorrect').

Forgetting never deletes and never touches what is cited (see memory/graph/lifecycle.py).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from memory.graph import lifecycle
from memory.graph import summaries as graph_summaries
from memory.graph.lifecycle import RetentionRow
from memory.services import access_notes, outbox

# Stability Q in days per kind (falling back to level): how slowly each layer fades.
STABILITY_DAYS = {
    "observation": 90, "price_mention": 180, "turn": 365, "event": 730, "note": 730, "fact": 1095,
}
ACCESS_IMPORTANCE = 0.1  # added to importance per access (at most 1)
RETENTION_FLOOR = 0.05
QUEUED_ADVICE = "cited by stored advice whose note is not yet written"


@dataclass(frozen=True)
class Forgettable:
    id: str
    reason: str  # decayed | redundant
    level: str
    kind: str
    text: str
    retention: float


@dataclass
class ForgettingReport:
    at: datetime
    dry_run: bool
    considered: int = 0
    protected: Counter = field(default_factory=Counter)  # why kept, despite decay or redundancy
    items: list[Forgettable] = field(default_factory=list)
    forgotten: int = 0

    @property
    def by_reason(self) -> Counter:
        return Counter(item.reason for item in self.items)


def retention(row: RetentionRow, at: datetime) -> float:
    """importance (raised by access) x exp(-age / Q of its layer); age from the last access or intake."""
    last = max(filter(None, (row.created_at, row.last_accessed_at)))
    age_days = max((at - last).total_seconds() / 86400, 0.0)
    stability = STABILITY_DAYS.get(row.kind, STABILITY_DAYS.get(row.level, 365))
    importance = min(1.0, row.importance + ACCESS_IMPORTANCE * row.access_count)
    return importance * math.exp(-age_days / stability)


def plan(rows: list[RetentionRow], at: datetime, *, forget_redundant: bool = True
         ) -> tuple[list[Forgettable], Counter]:
    """What would be forgotten, and how many were kept because they are cited (pure: easy to test)."""
    items: list[Forgettable] = []
    protected: Counter = Counter()
    for row in rows:
        score = retention(row, at)
        redundant = forget_redundant and bool(row.covered_by)
        reason = "redundant" if redundant else "decayed" if score < RETENTION_FLOOR else None
        if reason is None:
            continue
        if row.protected:
            protected[row.protected] += 1
            continue
        items.append(Forgettable(row.id, reason, row.level, row.kind, row.text, round(score, 4)))
    return items, protected


def forget(*, firm_id: str | None = None, scope: str | None = None, at: datetime | None = None,
           dry_run: bool = True) -> ForgettingReport:
    """Forget what has decayed or is redundant (or, with `dry_run`, only report it)."""
    at = at or timezone.now()
    access_notes.flush()  # this process's searches count before anything decays
    report = ForgettingReport(at=at, dry_run=dry_run)
    cited_by_queued_notes = outbox.cited_by_queued_notes()
    for client_scope in [scope] if scope else graph_summaries.client_scopes(firm_id):
        rows = lifecycle.retention_rows(client_scope)
        if queued := cited_by_queued_notes.get(client_scope):
            rows = [replace(row, protected=QUEUED_ADVICE) if row.protected is None and row.id in queued else row
                    for row in rows]
        items, protected = plan(rows, at, forget_redundant=settings.MEMORY_FORGET_REDUNDANT)
        report.considered += len(rows)
        report.protected.update(protected)
        report.items.extend(items)
        if not dry_run and items:
            report.forgotten += lifecycle.mark_forgotten([{"id": i.id, "reason": i.reason} for i in items], at)
    return report
