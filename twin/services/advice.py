"""Ask the twin, or have it prepare a meeting: gather, apply the rules, compose, record, remember.

The deterministic composer writes plain sentences from the rules' items only, so every figure in an
answer comes from an item's basis. Each answer or brief is stored append-only (`twin.models.Advice`)
with what it rested on and a link to the previous advice, which gives "what changed since".
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from langchain_core.language_models import BaseChatModel

from advisor.models import Client, User
from advisor.permissions import reader_for, reader_for_system
from memory import api as memory_api
from memory.extraction.securities import find_securities
from memory.scope import Reader
from memory.tasks import nudge_outbox_drain
from twin.models import Advice
from twin.services import agent
from twin.services.context import ClientContext, gather_context
from twin.services.rules import AdviceItem, apply_rules, day

COMPOSER_VERSION = "deterministic-1"
MODEL_FAILED_NOTE = ("The language model's answer was not used: it did not pass the check that every figure and "
                     "memory it cites comes from the twin's tools. This is the deterministic answer.\n")
CHANNELS = ("portal", "chat", "api", "cli")
MAX_QUESTION_CHARS = 2000
MEMORY_TEXT_CHARS = 3500

# Words (or word stems) in a question that ask about a rule's subject: the ask answers with those items.
TOPICS: dict[str, re.Pattern[str]] = {
    "exclusion_breach": re.compile(r"\b(?:exclu|ethic|esg|tobacco|fossil|oil|weapon|avoid)", re.I),
    "concentration": re.compile(r"\b(?:concentrat|diversif|too much|exposure|sector|weight)", re.I),
    "risk_mismatch": re.compile(r"\b(?:risk|volatil|drawdown|safe)", re.I),
    "goal_due": re.compile(r"\b(?:goal|retire|house|college|education|target|due|when)", re.I),
    "life_event_review": re.compile(r"\b(?:life|baby|child|job|inherit|divorc|married|review)", re.I),
    "price_move": re.compile(r"\b(?:price|move|moved|bought|paid|worth|doing|up\b|down\b)", re.I),
    "analyst_view": re.compile(r"\b(?:analyst|view|target|rating|buy|sell|hold)", re.I),
    "viewpoint_reversal": re.compile(r"\b(?:analyst|view|changed|rating)", re.I),
}
_WHOLE_PICTURE = re.compile(r"\b(?:prepare|meeting|brief|overview|everything|summar|what should|anything)", re.I)


class InvalidAdviceRequest(ValueError):
    """The question or options cannot be answered as given; the message says why."""


@dataclass
class AdviceResult:
    advice: Advice

    def to_contract(self) -> dict[str, Any]:
        return self.advice.to_contract()


def ask(*, client: Client, question: str, actor: User | None = None, as_of: datetime | None = None,
        channel: str = "portal", chat_model: BaseChatModel | None = None) -> AdviceResult:
    """Answer a question about `client` from their profile, holdings, prices, viewpoints and memory.

    With TWIN_LLM set (or a `chat_model` given) a checked tool-calling agent words the answer
    (twin/services/agent.py); otherwise, or when its answer fails the check, the deterministic composer.
    """
    question = (question or "").strip()
    if not question:
        raise InvalidAdviceRequest("Ask a question: the text is empty.")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidAdviceRequest(f"Keep the question under {MAX_QUESTION_CHARS} characters (it has {len(question)}).")
    return _advise(client=client, actor=actor, as_of=as_of, channel=channel, question=question,
                   chat_model=chat_model)


def brief(*, client: Client, actor: User | None = None, as_of: datetime | None = None,
          channel: str = "portal") -> AdviceResult:
    """Prepare the advisor's meeting: everything the rules raise for `client`."""
    return _advise(client=client, actor=actor, as_of=as_of, channel=channel, question=None)


def reader_of(client: Client, actor: User | None) -> Reader:
    """The actor's own scopes (advisor.permissions decides); the client's scopes for the command line."""
    if actor is not None:
        return reader_for(actor, client)
    return reader_for_system(client)


def _advise(*, client: Client, actor: User | None, as_of: datetime | None, channel: str,
            question: str | None, chat_model: BaseChatModel | None = None) -> AdviceResult:
    if channel not in CHANNELS:
        raise InvalidAdviceRequest(f"channel must be one of {', '.join(CHANNELS)}")
    if as_of is not None and as_of.tzinfo is None:
        raise InvalidAdviceRequest("as_of needs a time zone, e.g. 2026-03-01T12:00:00Z")
    reader = reader_of(client, actor)
    context = gather_context(client=client, reader=reader, as_of=as_of, question=question)
    outcome = apply_rules(context)
    items = list(outcome.items) if question is None else relevant_items(outcome.items, question)
    answer = compose_answer(context=context, items=items, question=question)
    citations = citations_of(items)
    model_run: dict[str, Any] = {"composer": COMPOSER_VERSION, "tool_calls": [], "model_check": []}
    if question:
        model_run, answer, citations = _model_answer(chat_model, reader, question, items, answer, citations)
    record = _record_of(context, items)
    with transaction.atomic():
        previous = Advice.objects.select_for_update().filter(client=client).order_by("-created_at").first()
        advice = Advice(
            client=client, actor=actor, kind=Advice.Kind.ASK if question else Advice.Kind.BRIEF, channel=channel,
            question=question or "", as_of=context.as_of, answer=answer, declined=outcome.declined,
            missing=list(outcome.missing), items=[i.to_contract() for i in items], citations=citations,
            previous=previous, **model_run, **record,
        )
        advice.changed_since = changes_since(previous, advice)
        advice.memory_id = memory_api.new_note_id()
        advice.save()
        memory_api.remember_later(firm_id=reader.firm_id, client_id=client.external_id, memory_id=advice.memory_id,
                                  text=memory_text(advice), source=f"advice:{advice.id}", importance=0.6,
                                  cites=cited_ids(advice))
        transaction.on_commit(nudge_outbox_drain)  # a worker writes the note now; else the beat sweep does
    return AdviceResult(advice)


def _model_answer(chat_model: BaseChatModel | None, reader: Reader, question: str, items: list[AdviceItem],
                  answer: str, citations: list[dict[str, Any]]) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
    """The agent's checked answer when a model is configured; the deterministic one otherwise or on failure."""
    try:
        model = chat_model or agent.configured_model()
    except Exception as error:  # a misconfigured TWIN_LLM (unknown provider, missing package) must not stop advice
        return ({"composer": f"{COMPOSER_VERSION} (fallback: TWIN_LLM unusable)", "tool_calls": [],
                 "model_check": [f"the chat model could not be built ({type(error).__name__}: {error})"]},
                MODEL_FAILED_NOTE + answer, citations)
    if model is None:
        return {"composer": COMPOSER_VERSION, "tool_calls": [], "model_check": []}, answer, citations
    name = agent.model_name(model)
    result = agent.agent_answer(model=model, reader=reader, question=question, items=items)
    run = {"tool_calls": result.tool_calls, "model_check": result.problems}
    if not result.passed:
        return {**run, "composer": f"{COMPOSER_VERSION} (fallback from llm:{name})"}, MODEL_FAILED_NOTE + answer, citations
    known = {c["id"] for c in citations}
    for call in result.tool_calls:
        if call["name"] == "search_memory" and call["output"] and call["output"].startswith("["):
            for found in json.loads(call["output"]):
                if found["id"] in result.cited and found["id"] not in known:
                    citations.append({"id": found["id"], "text": found["text"], "sources": found["sources"]})
                    known.add(found["id"])
    return {**run, "composer": f"llm:{name}"}, result.text, citations


def relevant_items(items: tuple[AdviceItem, ...], question: str) -> list[AdviceItem]:
    """What a question asks about: the decline, memories, and rule items on its securities or topics."""
    if _WHOLE_PICTURE.search(question):
        return list(items)
    symbols = {ref.key for ref, _ in find_securities(question)}
    chosen = []
    for item in items:
        about = {b.get("symbol") for b in item.basis if b.get("symbol")}
        if item.kind in ("decline", "memory") or about & symbols \
                or (not symbols and item.kind in TOPICS and TOPICS[item.kind].search(question)):
            chosen.append(item)
    return chosen


def compose_answer(*, context: ClientContext, items: list[AdviceItem], question: str | None) -> str:
    """Plain sentences from the items alone: the composer adds words, never numbers of its own."""
    decline = [i for i in items if i.kind == "decline"]
    rules = [i for i in items if i.kind not in ("decline", "memory")]
    memories = [i for i in items if i.kind == "memory"]
    lines = [i.text for i in decline]
    if question is None:
        lines.append(f"Meeting brief for {context.client_name}, as of {day(context.as_of)}:" if rules
                     else f"Nothing in {context.client_name}'s profile, holdings or prices needs attention "
                          f"as of {day(context.as_of)}.")
        lines.extend(f"- {i.text}" for i in rules)
        return "\n".join(lines)
    if rules:
        lines.append("What bears on this now:")
        lines.extend(f"- {i.text}" for i in rules)
    if memories:
        lines.append(f"What {context.client_name} has told us:")
        lines.extend(f"- {i.text.removeprefix('From memory: ')}" for i in memories)
    if not rules and not memories:
        lines.append("I have nothing in memory that answers this.")
    return "\n".join(lines)


def citations_of(items: list[AdviceItem]) -> list[dict[str, Any]]:
    """Each memory the items rest on, once, with the turns it came from."""
    seen: dict[str, dict[str, Any]] = {}
    for item in items:
        for ref in item.basis:
            if ref["type"] == "memory" and ref["id"] not in seen:
                seen[ref["id"]] = {"id": ref["id"], "text": ref.get("text", ""), "sources": list(ref.get("sources", []))}
    return list(seen.values())


def _record_of(context: ClientContext, items: list[AdviceItem]) -> dict[str, Any]:
    quotes: dict[str, dict[str, Any]] = {}
    for position in context.positions:
        quotes[position.symbol] = {"symbol": position.symbol, "price": position.price,
                                   "as_of": position.as_of.isoformat() if position.as_of else None,
                                   "source": position.source, "status": position.status}
    for mention in context.prices:
        quotes.setdefault(mention.symbol, {"symbol": mention.symbol, "price": mention.current_price,
                                           "as_of": mention.as_of.isoformat() if mention.as_of else None,
                                           "source": mention.source, "status": mention.status})
    latest_views: dict[str, str] = {}
    for view in sorted(context.viewpoints, key=lambda v: v.published_at):
        latest_views[view.symbol] = view.id
    return {
        "profile_facts": [{"id": f.id, "slot": f.slot, "value": f.value, "text": f.text} for f in context.facts],
        "quotes": sorted(quotes.values(), key=lambda q: q["symbol"]),
        "viewpoint_ids": [{"symbol": s, "id": i} for s, i in sorted(latest_views.items())],
    }


def changes_since(previous: Advice | None, current: Advice) -> dict[str, Any] | None:
    """What moved between the previous advice and this one, and so which items are new, changed or withdrawn."""
    if previous is None:
        return None
    changes: list[dict[str, Any]] = []
    old_facts = {f["slot"]: f for f in previous.profile_facts}
    new_facts = {f["slot"]: f for f in current.profile_facts}
    for slot, fact in sorted(new_facts.items()):
        before = old_facts.get(slot)
        if before is None:
            changes.append({"type": "fact_new", "slot": slot, "id": fact["id"], "reason": f"New fact: {fact['text']}"})
        elif before["id"] != fact["id"]:
            changes.append({"type": "fact_superseded", "slot": slot, "id": fact["id"], "superseded": before["id"],
                            "reason": f"{_slot_label(slot)} changed from \u201c{before['value']}\u201d to "
                                      f"\u201c{fact['value']}\u201d."})
    for slot, fact in sorted(old_facts.items()):
        if slot not in new_facts:
            changes.append({"type": "fact_withdrawn", "slot": slot, "id": fact["id"],
                            "reason": f"{_slot_label(slot)} is no longer in force (\u201c{fact['value']}\u201d)."})
    old_quotes = {q["symbol"]: q for q in previous.quotes}
    for quote in current.quotes:
        before = old_quotes.get(quote["symbol"])
        if before and before["price"] and quote["price"] and before["price"] != quote["price"]:
            move = round(100.0 * (quote["price"] - before["price"]) / before["price"], 1)
            changes.append({"type": "price_moved", "symbol": quote["symbol"], "from": before["price"],
                            "to": quote["price"], "change_percent": move,
                            "reason": f"{quote['symbol']} moved from {before['price']:.2f} to {quote['price']:.2f} "
                                      f"({move:+.1f}%)."})
    old_views = {v["symbol"]: v["id"] for v in previous.viewpoint_ids}
    for view in current.viewpoint_ids:
        if old_views.get(view["symbol"]) not in (None, view["id"]) or view["symbol"] not in old_views:
            changes.append({"type": "viewpoint_changed", "symbol": view["symbol"], "id": view["id"],
                            "reason": f"A new analyst viewpoint on {view['symbol']} was published."})
    changes.extend(_item_changes(previous, current, changes))
    return {"advice_id": previous.id, "changes": changes}


def _item_changes(previous: Advice, current: Advice, context_changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    old = {i["key"]: i for i in previous.items if i["kind"] != "memory"}
    new = {i["key"]: i for i in current.items if i["kind"] != "memory"}
    changes = []
    for key, item in new.items():
        if key not in old:
            changes.append({"type": "item_new", "key": key, "kind": item["kind"],
                            "reason": _reason(item, context_changes) or "Not raised in the previous advice."})
        elif old[key]["text"] != item["text"]:
            changes.append({"type": "item_changed", "key": key, "kind": item["kind"], "was": old[key]["text"],
                            "reason": _reason(item, context_changes) or "Its figures changed."})
    if previous.kind == current.kind or current.kind == Advice.Kind.BRIEF:
        for key, item in old.items():
            if key not in new:
                changes.append({"type": "item_withdrawn", "key": key, "kind": item["kind"], "was": item["text"],
                                "reason": _reason(item, context_changes)
                                or "Its condition no longer holds on today's profile, holdings and prices."})
    return changes


def _reason(item: dict[str, Any], context_changes: list[dict[str, Any]]) -> str:
    """The context changes that touch an item's basis (its facts, securities or viewpoints)."""
    ids = {b["id"] for b in item["basis"]}
    symbols = {b.get("symbol") for b in item["basis"] if b.get("symbol")}
    touching = [c["reason"] for c in context_changes
                if c.get("id") in ids or c.get("superseded") in ids or (c.get("symbol") and c["symbol"] in symbols)]
    return " ".join(dict.fromkeys(touching))


def _slot_label(slot: str) -> str:
    return slot.replace("_", " ").replace(":", ": ").capitalize()


def cited_ids(advice: Advice) -> list[str]:
    """The memories the advice rests on (its citations and profile facts): its note cites them, so
    forgetting keeps what stored advice cites (memory/graph/lifecycle.py)."""
    return list(dict.fromkeys([c["id"] for c in advice.citations] + [f["id"] for f in advice.profile_facts]))


def memory_text(advice: Advice) -> str:
    """What the twin remembers of its own advice: when, what was asked, and the items it raised."""
    head = f"Twin {'answer' if advice.kind == 'ask' else 'meeting brief'} ({advice.as_of:%d %b %Y})"
    if advice.question:
        head += f" to \u201c{advice.question[:300]}\u201d"
    body = " ".join(i["text"] for i in advice.items if i["kind"] != "memory") or advice.answer
    return (head + ": " + body)[:MEMORY_TEXT_CHARS]

