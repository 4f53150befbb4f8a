"""The deterministic extractor (no LLM): what it derives from plain sentences, with the turns behind it."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from memory.extraction.rules import RuleExtractor
from memory.extraction.types import SessionInput, TurnInput

SAID = datetime(2024, 3, 3, 10, tzinfo=timezone.utc)


def extract(*texts: str):
    session = SessionInput(session_id="s", client_id="c", started_at=SAID, channel="meeting",
                           turns=tuple(TurnInput(f"t{i}", "Ann", "client", text, SAID) for i, text in enumerate(texts)))
    return RuleExtractor().extract(session)


def facts(*texts: str) -> dict[str, tuple]:
    return {f.slot: (f.value, f.amount, f.currency, f.target_date, f.turn_ids) for f in extract(*texts).facts}


def test_goals_carry_amounts_with_currency_and_dates_resolved_against_the_session_date():
    found = facts("I want to retire in 5 years with about £800k saved.",
                  "We need a €50,000 deposit for a house by June 2025.")

    assert found["goal:retirement"][1:4] == (800000.0, "GBP", date(2029, 3, 1))
    assert found["goal:house"][1:5] == (50000.0, "EUR", date(2025, 6, 1), ("t1",))


@pytest.mark.parametrize(("sentence", "risk"), [
    ("My time horizon is about 20 years, I'm fairly aggressive.", "aggressive"),
    ("Honestly I can't stomach big losses any more; I'd call myself conservative now.", "conservative"),
    ("I'm fine with moderate risk.", "moderate"),
])
def test_risk_statements_become_the_risk_tolerance_slot(sentence, risk):
    assert facts(sentence)["risk_tolerance"][0] == risk


def test_horizon_exclusions_and_holdings():
    found = facts("My time horizon is about 20 years.", "I'd rather avoid oil companies and weapons makers.",
                  "I hold 100 shares of Microsoft bought at $310.")

    assert found["time_horizon"][0] == "20 years"
    assert {"exclusion:fossil_fuels", "exclusion:weapons"} <= set(found)
    assert found["holding:MSFT"][0] == "100 shares"


def test_prices_are_tied_to_the_security_named_by_company_or_ticker_and_to_their_turn():
    mentions = extract("I sold my Nvidia shares at 850 dollars last week.", "AAPL was 182.10 when I looked.").price_mentions

    assert {(m.symbol, m.price, m.currency, m.turn_id) for m in mentions} == {("NVDA", 850.0, "USD", "t0"),
                                                                              ("AAPL", 182.1, "USD", "t1")}


def test_life_events_and_worry_are_observed_with_negative_sentiment():
    result = extract("My mother passed away and I inherited $250k. I'm anxious about the market.")

    kinds = {(o.kind, o.turn_ids) for o in result.observations}
    assert ("event", ("t0",)) in kinds
    assert min(o.sentiment for o in result.observations) < 0
    assert "concern:market_drop" in {f.slot for f in result.facts}


@pytest.mark.parametrize(("sentence", "expected"), [
    ("Tesla is too risky for me, I sold my Nvidia shares last week.", {"holding:NVDA": "sold"}),
    ("I sold Tesla but I still hold 50 shares of Apple.", {"holding:TSLA": "sold", "holding:AAPL": "50 shares"}),
    ("I bought Apple last month and I also hold some Microsoft.", {"holding:AAPL": "held", "holding:MSFT": "held"}),
    ("Apple dipped so I bought some at $170.", {"holding:AAPL": "held"}),
    ("Apple and Microsoft, I own both.", {"holding:AAPL": "held", "holding:MSFT": "held"}),
])
def test_each_security_takes_the_holding_verb_before_it(sentence, expected):
    found = {slot: value[0] for slot, value in facts(sentence).items() if slot.startswith("holding:")}

    assert found == expected


@pytest.mark.parametrize(("sentence", "month"), [
    ("We had a baby last month, so things have changed.", "February 2024"),
    ("I inherited $250k in November.", "November 2023"),
    ("I got a new job in March 2022.", "March 2022"),
    ("We got married on Saturday!", "March 2024"),
])
def test_life_events_are_dated_to_when_they_happened_not_when_they_were_told(sentence, month):
    result = extract(sentence)

    life_events = [f for f in result.facts if f.attribute == "life_event"]
    assert len(life_events) == 1 and f"({month})" in life_events[0].text
    assert any(f"({month})" in o.text for o in result.observations if o.kind == "event")
