"""The scenario runner (tests/bench/twin_scenarios.py) on its two-scenario sample, against real Neo4j."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.twin_scenarios import ScenarioError, evaluate, load, score

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[1] / "bench" / "eval" / "sample_twin_scenarios.json"


def test_the_sample_scenarios_find_every_expected_item_and_avoid_every_forbidden_one(clean_graph):
    report = evaluate(SAMPLE)

    assert (report["scenarios"], report["expected"], report["forbidden"]) == (2, 5, 4)
    assert report["per_scenario"][0]["missed"] == [] and report["per_scenario"][1]["missed"] == []
    assert (report["found_share"], report["avoided_share"]) == (1.0, 1.0)


def test_scoring_counts_a_missed_and_a_violated_item():
    items = [{"kind": "concentration", "key": "concentration:PM", "text": "PM is 83.3% of ...", "basis": []}]
    scored = score(items, [{"kind": "concentration", "about": "pm"}, {"kind": "goal_due", "about": "retire"}],
                   [{"kind": "concentration", "about": "PM"}])
    assert [e["kind"] for e in scored["found"]] == ["concentration"]
    assert [e["kind"] for e in scored["missed"]] == ["goal_due"]
    assert scored["avoided"] == [] and len(scored["violated"]) == 1


def test_a_malformed_scenario_file_is_refused_naming_the_scenario(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[{"id": "x", "client": {}, "sessions": [], "expected": [{"kind": "price_move"}]}]')
    with pytest.raises(ScenarioError, match="scenario x: every expected entry needs a string kind and about"):
        load(path)
