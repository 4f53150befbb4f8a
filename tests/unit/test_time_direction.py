"""Questions about now favour newer candidates, questions about the past older ones (pure re-ranking)."""
from __future__ import annotations

import pytest

from memory.graph.search import Candidate
from memory.services.retrieval import _time_direction

KNOWN = {"old": Candidate("old", 0.0, "turn", 0.3, 1_000), "mid": Candidate("mid", 0.0, "turn", 0.3, 2_000),
         "new": Candidate("new", 0.0, "turn", 0.3, 3_000)}


def ranked(words: list[str]) -> dict[str, float]:
    fused = {"old": 1.0, "mid": 1.0, "new": 1.0}
    _time_direction(fused, KNOWN, words)
    return fused


def test_a_question_about_now_lifts_the_newest_most():
    assert ranked(["current", "risk"]) == pytest.approx({"old": 1.0, "mid": 1.15, "new": 1.3})


def test_a_question_about_the_past_lifts_the_oldest_most():
    assert ranked(["originally", "risk"]) == pytest.approx({"old": 1.3, "mid": 1.15, "new": 1.0})


def test_a_question_about_neither_or_both_changes_nothing():
    assert ranked(["risk"]) == ranked(["now", "originally"]) == {"old": 1.0, "mid": 1.0, "new": 1.0}
