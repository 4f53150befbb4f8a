"""The LLM extractor's contract, with a scripted stand-in for the vendor's chat model."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from memory.extraction import ExtractionUnavailable
from memory.extraction.llm import LLMExtraction, LLMExtractor, LLMFact, LLMObservation
from memory.extraction.types import SessionInput, TurnInput

AT = datetime(2024, 3, 3, 10, tzinfo=timezone.utc)
SESSION = SessionInput("s1", "ann", AT, "meeting", (
    TurnInput("t1", "Ann", "client", "I'd call myself conservative. I bought Apple at $182.10.", AT),
    TurnInput("t2", "Ann", "client", "We had a baby last month.", AT),
))


class ScriptedModel:
    """Answers `with_structured_output(schema).invoke(prompt)` with a scripted answer or error."""

    def __init__(self, answer) -> None:
        self.answer, self.prompts = answer, []

    def with_structured_output(self, schema):
        assert schema is LLMExtraction
        return self

    def invoke(self, prompt):
        self.prompts.append(prompt)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_llm_facts_keep_their_real_turns_and_rules_supply_prices():
    model = ScriptedModel(LLMExtraction(
        facts=[LLMFact(attribute="risk_tolerance", value="conservative", statement="Ann is conservative.", turn_ids=["t1"]),
               LLMFact(attribute="goal", key="retirement", value="2033", statement="Ann retires in 2033.", turn_ids=["t9"])],
        observations=[LLMObservation(kind="event", statement="Ann had a baby.", turn_ids=["t2", "t7"])],
    ))

    extraction = LLMExtractor(model).extract(SESSION)

    assert [(f.slot, f.value, f.turn_ids) for f in extraction.facts] == [("risk_tolerance", "conservative", ("t1",))]
    assert [(o.kind, o.turn_ids) for o in extraction.observations] == [("event", ("t2",))]
    assert [(p.symbol, p.price) for p in extraction.price_mentions] == [("AAPL", 182.1)]
    assert "[t1] Ann (client)" in model.prompts[0]


def test_provider_failure_becomes_extraction_unavailable():
    with pytest.raises(ExtractionUnavailable, match="TimeoutError"):
        LLMExtractor(ScriptedModel(TimeoutError("vendor timed out"))).extract(SESSION)
