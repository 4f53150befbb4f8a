"""Extraction through a langchain chat model (TWIN_LLM), producing the same types as the rules.

The model reads the numbered turns and returns structured facts and observations. Securities and
prices still come from the rules: ticker tables and number parsing are exact where a model may
round or invent, and they keep price drift working whichever extractor runs.
"""
from __future__ import annotations

from datetime import date

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, Field

from memory.extraction.rules import RuleExtractor
from memory.extraction.types import EntityRef, ExtractedFact, ExtractedObservation, Extraction, SessionInput

ATTRIBUTES = ("goal", "risk_tolerance", "time_horizon", "liquidity_need", "preference", "exclusion", "concern",
              "life_event", "holding")
SINGLE_SLOT = {"risk_tolerance", "time_horizon"}


class LLMFact(BaseModel):
    attribute: str = Field(description=f"one of {', '.join(ATTRIBUTES)}")
    key: str = Field(default="", description="short snake_case subject, e.g. 'retirement', 'tobacco', 'AAPL'")
    value: str = Field(description="normalised value, e.g. 'conservative', '2033', 'no tobacco'")
    statement: str = Field(description="one standalone sentence about the client")
    turn_ids: list[str] = Field(description="ids of the turns that state it")
    importance: float = Field(default=0.6, ge=0, le=1)
    amount: float | None = None
    currency: str | None = None
    target_date: date | None = None


class LLMObservation(BaseModel):
    kind: str = Field(description="'event' for something that happened, else 'observation'")
    statement: str
    turn_ids: list[str]
    sentiment: float = Field(default=0.0, ge=-1, le=1)
    importance: float = Field(default=0.4, ge=0, le=1)


class LLMExtraction(BaseModel):
    facts: list[LLMFact] = Field(default_factory=list)
    observations: list[LLMObservation] = Field(default_factory=list)


PROMPT = (
    "You extract long-term memory for a financial advisor about their client from one session. "
    "Only record what the client said about themselves (or the advisor reported about them). "
    "Cite the exact turn ids. Session date: {date}.\n\n{turns}"
)


class LLMExtractor:
    def __init__(self, model: BaseChatModel, rules: RuleExtractor | None = None) -> None:
        self._structured = model.with_structured_output(LLMExtraction)
        self._rules = rules or RuleExtractor()

    def extract(self, session: SessionInput) -> Extraction:
        from memory.extraction import ExtractionUnavailable

        turns = "\n".join(f"[{t.turn_id}] {t.speaker} ({t.role or 'unknown'}): {t.text}" for t in session.turns)
        try:
            answer = self._structured.invoke(PROMPT.format(date=session.started_at.date().isoformat(), turns=turns))
        except Exception as error:  # any provider failure: the session stays in the outbox
            raise ExtractionUnavailable(f"the language model could not extract memory: {type(error).__name__}: {error}") from error
        if not isinstance(answer, LLMExtraction):
            raise ExtractionUnavailable("the language model returned no structured extraction")
        known = {t.turn_id: t for t in session.turns}
        rules = self._rules.extract(session)
        facts = []
        for item in answer.facts:
            turn_ids = tuple(t for t in item.turn_ids if t in known)
            if not turn_ids or item.attribute not in ATTRIBUTES:
                continue  # a fact without a real source is not remembered
            said_at = max(known[t].at for t in turn_ids)
            key = item.key.strip().lower().replace(" ", "_") or item.value.strip().lower().replace(" ", "_")
            slot = item.attribute if item.attribute in SINGLE_SLOT else f"{item.attribute}:{key}"
            entities = (EntityRef("goal", key, key.replace("_", " ")),) if item.attribute == "goal" else ()
            facts.append(ExtractedFact(
                attribute=item.attribute, slot=slot, value=item.value.strip(), text=item.statement.strip(),
                turn_ids=turn_ids, valid_from=said_at, importance=item.importance, entities=entities,
                amount=item.amount, currency=item.currency, target_date=item.target_date,
            ))
        observations = []
        for item in answer.observations:
            turn_ids = tuple(t for t in item.turn_ids if t in known)
            if not turn_ids:
                continue
            observations.append(ExtractedObservation(
                kind="event" if item.kind == "event" else "observation", text=item.statement.strip(),
                turn_ids=turn_ids, at=max(known[t].at for t in turn_ids), importance=item.importance,
                sentiment=item.sentiment,
            ))
        return Extraction(facts=tuple(facts), observations=tuple(observations),
                          price_mentions=rules.price_mentions, turn_entities=rules.turn_entities)
