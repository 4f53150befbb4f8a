from datetime import datetime, timezone

from memory.graph.facts import FactVersion
from memory.services.supersession import plan_supersession


def at(month: int) -> datetime:
    return datetime(2024, month, 1, tzinfo=timezone.utc)


def version(fid: str, value: str, month: int, slot: str = "risk_tolerance") -> FactVersion:
    return FactVersion(id=fid, scope="c1", slot=slot, value=value, valid_from=at(month), recorded_at=at(month))


def test_newer_different_value_closes_the_older_fact_and_links_them():
    plan = plan_supersession([version("b", "conservative", 9), version("a", "moderate", 3)])

    assert plan.closes == [{"id": "a", "valid_to": at(9), "superseded_at": at(9)}]
    assert plan.links == [{"newer": "b", "older": "a"}]


def test_repeating_the_same_value_is_a_reaffirmation_not_a_contradiction():
    plan = plan_supersession([version("a", "moderate", 3), version("b", "moderate", 5)])

    assert plan.closes == [] and plan.links == []


def test_a_run_of_equal_values_is_closed_whole_by_the_next_change():
    plan = plan_supersession([version("a", "moderate", 3), version("b", "moderate", 5), version("c", "aggressive", 8)])

    assert {c["id"] for c in plan.closes} == {"a", "b"}
    assert plan.links == [{"newer": "c", "older": "b"}]


def test_slots_do_not_interfere():
    plan = plan_supersession([version("a", "2035", 3, "goal:retirement"), version("b", "moderate", 5)])

    assert plan.closes == [] and plan.links == []
