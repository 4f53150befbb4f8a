"""Deciding which fact supersedes which: pure Python, so the rules are easy to read and test.

Within one slot (one client's risk tolerance, one goal's target, ...) facts are ordered by when they
became true. Each fact is closed by the next one with a *different* value: it gets `valid_to` (the
next one's `valid_from`) and `superseded_at` (when we learned the next one). A repeated value is a
reaffirmation, not a contradiction, so it closes nothing.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from memory.graph.facts import FactVersion


@dataclass
class SupersessionPlan:
    closes: list[dict[str, Any]] = field(default_factory=list)  # {id, valid_to, superseded_at}
    links: list[dict[str, str]] = field(default_factory=list)  # {newer, older}


def plan_supersession(versions: list[FactVersion]) -> SupersessionPlan:
    plan = SupersessionPlan()
    by_slot: dict[tuple[str, str], list[FactVersion]] = defaultdict(list)
    for version in versions:
        by_slot[(version.scope, version.slot)].append(version)
    for history in by_slot.values():
        history.sort(key=lambda v: (v.valid_from, v.recorded_at, v.id))
        # Runs of the same value are one belief; the run's first fact stands for it.
        runs: list[list[FactVersion]] = []
        for version in history:
            if runs and runs[-1][0].value == version.value:
                runs[-1].append(version)
            else:
                runs.append([version])
        for older_run, newer_run in zip(runs, runs[1:], strict=False):
            newer = newer_run[0]
            for older in older_run:
                plan.closes.append(
                    {"id": older.id, "valid_to": newer.valid_from, "superseded_at": max(newer.recorded_at, older.recorded_at)}
                )
            plan.links.append({"newer": newer.id, "older": older_run[-1].id})
    return plan
