"""Decay arithmetic and the forgetting plan, on hand-made rows (no graph needed)."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from memory.graph.lifecycle import RetentionRow
from memory.services.forgetting import plan, retention

NOW = datetime(2027, 1, 1, tzinfo=timezone.utc)


def row(memory_id: str, *, kind: str = "turn", level: str = "turn", importance: float = 0.3, age_days: float = 365,
        accessed_days_ago: float | None = None, access_count: int = 0, protected: str | None = None,
        covered_by: str | None = None) -> RetentionRow:
    return RetentionRow(memory_id, level, kind, "text", importance, NOW - timedelta(days=age_days),  # taken in then
                        None if accessed_days_ago is None else NOW - timedelta(days=accessed_days_ago),
                        access_count, protected, covered_by)


def test_retention_is_importance_times_exponential_decay_of_its_layer():
    assert math.isclose(retention(row("t", age_days=365), NOW), 0.3 * math.exp(-1))
    assert math.isclose(retention(row("o", kind="observation", level="observation", importance=0.4, age_days=90), NOW),
                        0.4 * math.exp(-1))


def test_an_observation_fades_faster_than_a_fact_of_the_same_importance_and_age():
    observation = retention(row("o", kind="observation", level="observation", importance=0.5, age_days=200), NOW)
    fact = retention(row("f", kind="goal", level="fact", importance=0.5, age_days=200), NOW)
    assert math.isclose(observation, 0.5 * math.exp(-200 / 90))
    assert math.isclose(fact, 0.5 * math.exp(-200 / 1095))


def test_access_restarts_the_clock_and_raises_importance():
    assert math.isclose(retention(row("t", age_days=900, accessed_days_ago=0, access_count=2), NOW), 0.5)


def test_the_plan_forgets_decayed_and_covered_memories_but_keeps_cited_ones():
    rows = [
        row("old", age_days=700),  # 0.3 * e^(-700/365) = 0.044 < 0.05
        row("recent", age_days=300),  # 0.132
        row("cited", age_days=2000, protected="cited by a current fact"),
        row("covered", age_days=1, covered_by="summary:x"),
        row("covered-but-cited", age_days=1, covered_by="summary:x", protected="cited by a profile version"),
    ]

    items, protected = plan(rows, NOW)

    assert [(i.id, i.reason) for i in items] == [("old", "decayed"), ("covered", "redundant")]
    assert dict(protected) == {"cited by a current fact": 1, "cited by a profile version": 1}
