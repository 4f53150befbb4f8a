"""The language-model path of `ask` with a scripted chat model that emits real tool calls
(LLM vendors are unreachable here): a checked answer is used, a failed check falls back and says so."""
from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from tests.integration.twin_seed import seed_ann
from twin.services.advice import MODEL_FAILED_NOTE, ask

pytestmark = pytest.mark.django_db


class ScriptedChatModel(BaseChatModel):
    """Decides each turn from the conversation so far, as a real tool-calling model would."""

    script: Callable[[list[BaseMessage]], AIMessage]

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.script(messages))])

    def bind_tools(self, tools, **kwargs):
        return self


def house_answer(extra: str = "", cite: str | None = None) -> Callable[[list[BaseMessage]], AIMessage]:
    """Call advice_items, then search_memory for the house, then answer from the first result found."""

    def script(messages: list[BaseMessage]) -> AIMessage:
        tool_results = [m for m in messages if isinstance(m, ToolMessage)]
        if not tool_results:
            return AIMessage("", tool_calls=[{"name": "advice_items", "args": {}, "id": "call-1"}])
        if len(tool_results) == 1:
            return AIMessage("", tool_calls=[{"name": "search_memory", "args": {"query": "house deposit"}, "id": "call-2"}])
        found = next(r for r in json.loads(tool_results[-1].content) if "house" in r["text"].lower())
        return AIMessage(f"Ann said she wants a house: {found['text']} [{cite or found['id']}]{extra}")

    return script


@pytest.fixture
def ann(clean_graph):
    return seed_ann()


def test_a_checked_model_answer_is_used_with_its_tool_calls_and_citations(ann):
    advice = ask(client=ann, question="When does Ann want to buy the house?",
                 chat_model=ScriptedChatModel(script=house_answer())).advice

    assert advice.answer.startswith("Ann said she wants a house: Client's goal: Home purchase")
    assert advice.composer == "llm:ScriptedChatModel" and advice.model_check == []
    assert [call["name"] for call in advice.tool_calls] == ["advice_items", "search_memory"]
    cited = advice.answer.rsplit("[", 1)[1].rstrip("]")
    assert {c["id"]: c["sources"] for c in advice.citations}[cited] == ["a3"]


def test_an_invented_figure_falls_back_to_the_deterministic_answer_and_says_so(ann):
    advice = ask(client=ann, question="When does Ann want to buy the house?",
                 chat_model=ScriptedChatModel(script=house_answer(" It will cost 812,345.00 in total."))).advice

    assert advice.answer.startswith(MODEL_FAILED_NOTE) and "812,345" not in advice.answer
    assert advice.model_check == ["it states figures no tool returned: 812,345.00"]
    assert advice.composer == "deterministic-1 (fallback from llm:ScriptedChatModel)"
    assert [call["name"] for call in advice.tool_calls] == ["advice_items", "search_memory"]


def test_a_citation_no_tool_returned_falls_back(ann):
    advice = ask(client=ann, question="When does Ann want to buy the house?",
                 chat_model=ScriptedChatModel(script=house_answer(cite="fact:0123456789abcdef01234567"))).advice

    assert advice.model_check == ["it cites memories no tool returned: fact:0123456789abcdef01234567"]
    assert advice.answer.startswith(MODEL_FAILED_NOTE)


def test_a_failing_model_falls_back_with_the_reason_recorded(ann):
    def broken(messages):
        raise ConnectionError("vendor unreachable")

    advice = ask(client=ann, question="How is Apple doing?", chat_model=ScriptedChatModel(script=broken)).advice

    assert advice.model_check == ["the language model failed (ConnectionError: vendor unreachable)"]
    assert "+33.3%" in advice.answer  # the deterministic answer: Apple 150 -> 200
