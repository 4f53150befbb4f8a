"""Choosing what a question is about, and checking a language model's answer (no services involved)."""
from __future__ import annotations

from twin.services.advice import relevant_items
from twin.services.agent import check_answer
from twin.services.rules import AdviceItem


def item(kind: str, symbol: str | None = None) -> AdviceItem:
    basis = ({"type": "quote", "id": f"quote:{symbol}", "symbol": symbol},) if symbol else ()
    return AdviceItem(kind, f"{kind}:{symbol}", f"{kind} text", basis)


ITEMS = (item("decline"), item("concentration", "AAPL"), item("price_move", "KO"), item("goal_due"),
         item("memory"), item("analyst_view", "KO"))


def test_a_question_naming_a_security_gets_that_securitys_items_the_decline_and_memories():
    chosen = relevant_items(ITEMS, "How is Coca-Cola doing?")
    assert [i.key for i in chosen] == ["decline:None", "price_move:KO", "memory:None", "analyst_view:KO"]


def test_a_topic_question_gets_the_items_of_that_topic():
    chosen = relevant_items(ITEMS, "When is her retirement goal due?")
    assert [i.kind for i in chosen] == ["decline", "goal_due", "memory"]


def test_a_question_about_the_whole_picture_gets_everything():
    assert len(relevant_items(ITEMS, "Prepare my meeting with Ann")) == len(ITEMS)


def test_a_short_topic_word_inside_a_longer_word_does_not_count():
    assert [i.kind for i in relevant_items(ITEMS, "Any update?")] == ["decline", "memory"]


def test_an_answer_whose_figures_and_citations_come_from_tools_passes():
    outputs = ['[{"id": "fact:0a1b2c3d4e5f6a7b", "text": "Retire in 2033 with 1,200,000 USD", "sources": ["t1"]}]']
    assert check_answer("She plans to retire in 2033 with 1,200,000 USD [fact:0a1b2c3d4e5f6a7b].", outputs) == []


def test_digits_inside_memory_ids_do_not_ground_a_figure():
    outputs = ['[{"id": "fact:0a1b2c3d4e5f6a7b", "text": "Retire soon", "sources": ["t1"]}]']
    assert check_answer("She will have 6 houses.", outputs) == ["it states figures no tool returned: 6"]


def test_an_empty_answer_fails_the_check():
    assert check_answer("", ["anything"]) == ["the language model gave no answer"]
