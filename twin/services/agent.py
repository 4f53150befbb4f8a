"""The language-model path of `ask` (TWIN_LLM): a tool-calling agent over the twin's memory tools,
whose answer is checked before anyone sees it.

The agent reads through tools only (the rules' items, memory search, remembered prices), all bound
to the caller's reader. Its answer passes only when every number in it appears in something a tool
returned and every memory id it cites was returned by a tool; otherwise `ask` keeps the
deterministic answer and says why. The tool calls are recorded on the advice either way.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool

from memory.scope import Reader
from twin.services.rules import AdviceItem, ungrounded_numbers
from twin.tools import memory_tools

READ_ONLY_TOOLS = ("search_memory", "remembered_prices")
MAX_STEPS = 12
PROMPT = (
    "You are a financial advisor's digital twin for one client. Answer the question in plain words using only "
    "what your tools return. First call advice_items: it lists what the firm's rules raise now, each with its "
    "basis. Use search_memory for what the client said and remembered_prices for prices they discussed. "
    "Every number you write must appear in a tool result; never compute or estimate new ones. Cite each memory "
    "you rely on by its id in square brackets, e.g. [fact:1a2b3c]. If advice_items has a 'decline' item, make "
    "no personalised recommendation: say what is missing from the client's profile."
)
_CITED = re.compile(r"\[([A-Za-z_]+:[^\]\s]+)\]")
_IDS = re.compile(r"\b[A-Za-z_]+:[0-9a-f]{12,}\b|\badv_[0-9a-f]+\b")  # ids hold digits that are no figures


@dataclass
class AgentAnswer:
    text: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    cited: list[str] = field(default_factory=list)  # memory ids the answer cites, all returned by a tool

    @property
    def passed(self) -> bool:
        return not self.problems


def advice_items_tool(items: list[AdviceItem]) -> BaseTool:
    payload = json.dumps([item.to_contract() for item in items])

    def advice_items() -> str:
        return payload

    return StructuredTool.from_function(
        advice_items, name="advice_items",
        description="What the firm's advice rules raise for this client now (kind, text, basis with memory ids, "
                    "quotes and viewpoints). Call it first.")


def agent_answer(*, model: BaseChatModel, reader: Reader, question: str, items: list[AdviceItem]) -> AgentAnswer:
    """Run the agent on `question` and check its answer against what its tools returned."""
    tools = [t for t in memory_tools(reader, actor="twin") if t.name in READ_ONLY_TOOLS] + [advice_items_tool(items)]
    agent = create_agent(model, tools, system_prompt=PROMPT)
    try:
        result = agent.invoke({"messages": [HumanMessage(question)]}, config={"recursion_limit": MAX_STEPS})
    except Exception as error:  # any provider failure (network, quota, bad output) falls back; the reason is kept
        return AgentAnswer(text="", problems=[f"the language model failed ({type(error).__name__}: {error})"])
    messages = result["messages"]
    calls: dict[str, dict[str, Any]] = {}
    for message in messages:
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                calls[call["id"]] = {"name": call["name"], "args": call["args"], "output": None}
        elif isinstance(message, ToolMessage) and message.tool_call_id in calls:
            calls[message.tool_call_id]["output"] = _text(message.content)
    final = messages[-1]
    text = _text(final.content).strip() if isinstance(final, AIMessage) else ""
    outputs = [call["output"] for call in calls.values() if call["output"]]
    answer = AgentAnswer(text=text, tool_calls=list(calls.values()))
    answer.problems = check_answer(text, outputs)
    answer.cited = list(dict.fromkeys(_CITED.findall(text))) if answer.passed else []
    return answer


def configured_model() -> BaseChatModel | None:
    """The chat model TWIN_LLM names (langchain `init_chat_model`), or None when it is unset."""
    if not settings.TWIN_LLM:
        return None
    from langchain.chat_models import init_chat_model

    return init_chat_model(settings.TWIN_LLM)


def model_name(model: BaseChatModel) -> str:
    return settings.TWIN_LLM or getattr(model, "model_name", None) or getattr(model, "model", None) \
        or type(model).__name__


def check_answer(text: str, tool_outputs: list[str]) -> list[str]:
    """Why an answer cannot be shown: figures or memory ids that no tool returned."""
    if not text:
        return ["the language model gave no answer"]
    problems = []
    invented = ungrounded_numbers(_CITED.sub("", text), [_IDS.sub("", output) for output in tool_outputs])
    if invented:
        problems.append("it states figures no tool returned: " + ", ".join(invented))
    returned = "\n".join(tool_outputs)
    unknown = [memory_id for memory_id in _CITED.findall(text) if memory_id not in returned]
    if unknown:
        problems.append("it cites memories no tool returned: " + ", ".join(unknown))
    return problems


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content or [])
