"""The twin's advice rules on hand-built contexts, with hand-computed numbers (no services involved)."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

from marketdata.services.risk import RiskFigures
from memory.extraction.securities import SecurityInfo
from twin.services.context import (
    AnalystView,
    ClientContext,
    Policy,
    Position,
    ProfileFact,
    Recalled,
    RememberedPrice,
)
from twin.services.rules import (
    ITEM_KINDS,
    analyst_views,
    apply_rules,
    concentration,
    exclusion_breaches,
    goals_due,
    in_client_words,
    life_event_reviews,
    price_moves,
    profile_gaps,
    risk_mismatch,
    ungrounded_numbers,
    viewpoint_reversals,
)

NOW = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)
QUOTED = datetime(2026, 11, 25, 11, 30, tzinfo=timezone.utc)


def at(year: int, month: int, day: int = 1) -> datetime:
    return datetime(year, month, day, 10, tzinfo=timezone.utc)


JUNE_2026 = at(2026, 6, 1)


def fact(attribute: str, slot: str, value: str, when: datetime = JUNE_2026, **extra) -> ProfileFact:
    return ProfileFact(id=f"fact:{slot}", attribute=attribute, slot=slot, value=value,
                       text=f"Client fact {slot}: \u201c{value}\u201d", valid_from=when, sources=(f"turn-{slot}",), **extra)


PROFILE = (
    fact("risk_tolerance", "risk_tolerance", "conservative"),
    fact("time_horizon", "time_horizon", "10 years"),
    fact("goal", "goal:retirement", "target 2033", target_date=date(2033, 1, 1)),
)
SECURITIES = {
    "AAPL": SecurityInfo("AAPL", "Apple Inc.", ("Technology", "Phones & Handheld Devices"), "Technology", None, ()),
    "KO": SecurityInfo("KO", "The Coca-Cola Company", ("Beverages", "Non-Alcoholic Beverages"), "Consumer Staples", None, ()),
    "XOM": SecurityInfo("XOM", "ExxonMobil", ("Energy", "Fossil Fuels", "Oil & Gas"), "Energy", None, ()),
    "MO": SecurityInfo("MO", "Altria", ("Consumer Staples", "Food & Tobacco", "Tobacco"), "Consumer Staples", None, ()),
    "OIL": SecurityInfo("OIL", "Oil Paintings Inc.", ("Retail",), "Consumer Discretionary", None, ()),
    "GM": SecurityInfo("GM", "General Motors", ("Automotive", "Food & Tobacco"), "Consumer Discretionary", None, ()),
    "TSLA": SecurityInfo("TSLA", "Tesla Inc.", ("Automotive",), "Consumer Discretionary", None, ()),
}


def position(symbol: str, quantity: float, price: float) -> Position:
    return Position(symbol, quantity, price, QUOTED, "replay", "fresh")


# AAPL 50 x 200 = 10,000; KO 100 x 50 = 5,000; XOM 50 x 100 = 5,000; total 20,000.
POSITIONS = (position("AAPL", 50, 200.0), position("KO", 100, 50.0), position("XOM", 50, 100.0))


def context(**changes) -> ClientContext:
    base = ClientContext(client_id="ann", client_name="Ann", as_of=NOW, facts=PROFILE, positions=POSITIONS,
                         securities=SECURITIES, policy=Policy())
    return replace(base, **changes)


def test_a_complete_recent_profile_is_not_declined():
    missing, item = profile_gaps(context())
    assert missing == [] and item is None


def test_missing_risk_tolerance_declines_and_names_what_is_missing():
    outcome = apply_rules(context(facts=PROFILE[1:]))
    assert outcome.declined and outcome.missing == ("risk tolerance",)
    assert outcome.items[0].kind == "decline"
    assert "no risk tolerance on record" in outcome.items[0].text


def test_a_profile_fact_older_than_the_firm_limit_declines_with_its_date():
    old_horizon = fact("time_horizon", "time_horizon", "10 years", when=at(2024, 1, 10))
    missing, item = profile_gaps(context(facts=(PROFILE[0], old_horizon, PROFILE[2])))
    assert missing == ["horizon (last stated 10 January 2024)"]
    assert "older than the firm's 365-day limit" in item.text and item.basis[0]["id"] == "fact:time_horizon"


def test_a_longer_firm_age_limit_accepts_the_same_old_fact():
    old_horizon = fact("time_horizon", "time_horizon", "10 years", when=at(2024, 1, 10))
    missing, _ = profile_gaps(context(facts=(PROFILE[0], old_horizon, PROFILE[2]),
                                      policy=Policy(profile_max_age_days=1100)))
    assert missing == []  # 10 Jan 2024 -> 25 Nov 2026 is 366 + 365 + 319 = 1,050 days


def test_exclusion_breach_uses_the_industry_classification_not_the_ticker():
    tobacco = fact("exclusion", "exclusion:tobacco", "no tobacco")
    fossil = fact("exclusion", "exclusion:fossil_fuels", "no fossil fuels")
    positions = (position("MO", 10, 50.0), position("OIL", 10, 20.0), position("XOM", 5, 100.0),
                 position("GM", 3, 40.0))
    items = exclusion_breaches(context(facts=PROFILE + (tobacco, fossil), positions=positions))
    # GM carries the master's "Food & Tobacco" label too, but it is a carmaker: only "Tobacco" itself counts.
    assert [i.key for i in items] == ["exclusion_breach:tobacco:MO", "exclusion_breach:fossil_fuels:XOM"]
    assert "classified under \u201cTobacco\u201d" in items[0].text
    assert items[1].basis[1] == {"type": "quote", "id": f"quote:XOM@{QUOTED.isoformat()}", "symbol": "XOM",
                                 "price": 100.0, "quantity": 5, "value": 500.0, "as_of": QUOTED.isoformat(),
                                 "source": "replay", "status": "fresh"}


def test_exclusion_of_a_named_company_flags_that_holding():
    named = fact("exclusion", "exclusion:weapons", "no weapons", securities=("TSLA",))
    items = exclusion_breaches(context(facts=PROFILE + (named,), positions=(position("TSLA", 1, 300.0),)))
    assert len(items) == 1 and "the client named this company" in items[0].text


def test_concentration_flags_a_security_and_a_sector_above_the_firm_share():
    items = concentration(context())
    assert [i.key for i in items] == ["concentration:AAPL", "concentration:sector:Technology"]
    assert items[0].text == ("AAPL is 50.0% of the holdings' live value (10,000.00 of 20,000.00), "
                             "above the firm's 25% limit for one security.")
    assert items[1].figures["share_percent"] == 50.0


def test_a_share_exactly_at_the_limit_is_not_flagged():
    items = concentration(context(policy=Policy(concentration_limit_percent=50.0, sector_limit_percent=50.0)))
    assert items == []


def test_risk_mismatch_when_volatility_exceeds_a_conservative_tolerance():
    risk = RiskFigures(volatility=0.184, max_drawdown=-0.227, benchmark_volatility=None, benchmark_symbol="",
                       days=252, missing=[], source="replay")
    items = risk_mismatch(context(risk=risk))
    assert len(items) == 1
    assert "realised volatility of 18.4% a year and a worst fall of -22.7%" in items[0].text
    assert "at most 12% volatility and a -15% fall" in items[0].text


def test_the_same_risk_fits_a_moderate_tolerance():
    risk = RiskFigures(0.184, -0.227, None, "", 252, [], "replay")
    moderate = (fact("risk_tolerance", "risk_tolerance", "moderate"),) + PROFILE[1:]
    assert risk_mismatch(context(facts=moderate, risk=risk)) == []


def test_a_goal_inside_the_window_is_due_and_set_against_the_horizon():
    house = fact("goal", "goal:house", "target June 2027", target_date=date(2027, 6, 1))
    items = goals_due(context(facts=PROFILE + (house,)))
    assert [i.key for i in items] == ["goal_due:goal:house"]  # retirement in 2033 is 74 months away: not due
    assert items[0].text.startswith("The house goal (target June 2027) is 7 months away.")
    assert "sooner than the stated horizon of 10 years" in items[0].text


def test_a_cash_need_with_a_date_is_due_like_a_goal():
    cash = fact("liquidity_need", "liquidity_need:2027-03-01", "40,000 USD", target_date=date(2027, 3, 1))
    items = goals_due(context(facts=PROFILE + (cash,)))
    # 25 Nov 2026 -> March 2027: (2027 - 2026) * 12 + 3 - 11 = 4 months
    assert items[0].text.startswith("The cash need of 40,000 USD (by March 2027) is 4 months away.")
    assert ungrounded_numbers(items[0].text, items[0].basis, items[0].figures) == []


def test_a_goal_whose_date_has_passed_asks_to_confirm_it():
    car = fact("goal", "goal:car", "target March 2026", target_date=date(2026, 3, 1))
    items = goals_due(context(facts=PROFILE + (car,)))
    assert items[0].text.startswith("The car goal (target March 2026) was due 8 months ago")


def test_a_recent_new_child_raises_a_review_and_an_old_move_does_not():
    baby = fact("life_event", "life_event:new_child:2026-08", "new child", when=at(2026, 9, 10))
    old = fact("life_event", "life_event:inheritance:2023-02", "inheritance", when=at(2023, 2, 10))
    moved = fact("life_event", "life_event:relocation:2026-09", "relocation", when=at(2026, 9, 10))
    items = life_event_reviews(context(facts=PROFILE + (baby, old, moved)))
    assert [i.text for i in items] == [
        "Life event: new child (August 2026). It changes what the client needs: review the emergency fund, "
        "insurance and saving for education."]


def mention(symbol: str, price: float, current: float, said: datetime, text: str, **extra) -> RememberedPrice:
    return RememberedPrice(id=f"price:{symbol}:{price}", symbol=symbol, price=price, said_at=said,
                           text=f"{symbol} at {price:.2f} USD (said {said:%d %b %Y}): {text}", current_price=current,
                           as_of=QUOTED, source="replay", sources=(f"t-{symbol}",), **extra)


def test_a_price_move_past_the_threshold_is_told_in_the_clients_words():
    prices = (mention("AAPL", 300.0, 367.68, at(2023, 5, 1), "Apple was at 300 then."),
              mention("AAPL", 325.47, 367.68, at(2024, 3, 3), "Last spring I bought Apple at $325.47. Nice."),
              mention("MSFT", 400.0, 410.0, at(2024, 3, 3), "Microsoft is at 400."))
    items = price_moves(context(prices=prices))
    # (367.68 - 325.47) / 325.47 = 12.97%: past 5%; MSFT (410 - 400) / 400 = 2.5%: not.
    assert [i.text for i in items] == [
        "Last spring you bought Apple at $325.47; it is 367.68 now, +13.0% since 3 March 2024, replayed prices."]
    assert items[0].basis[0]["sources"] == ["t-AAPL"] and items[0].basis[1]["price"] == 367.68


def test_a_stale_quote_is_said_to_be_stale():
    prices = (mention("AAPL", 100.0, 90.0, at(2024, 3, 3), "We paid 100 for Apple.", status="stale"),)
    items = price_moves(context(prices=prices))
    assert items[0].text.startswith("You paid 100 for Apple; it is 90.00 now, -10.0% since 3 March 2024")
    assert "That quote is stale" in items[0].text


def test_first_person_becomes_second_person():
    said = mention("AAPL", 150.0, 150.0, at(2024, 1, 1), "I'm glad my Apple shares we bought at 150 did well.")
    assert in_client_words(said) == "You're glad your Apple shares you bought at 150 did well"


def view(symbol: str, stance: str, target: float | None, published: datetime, rationale: str = "Reasons.") -> AnalystView:
    return AnalystView(id=f"viewpoint:{symbol}:{published:%Y%m}", symbol=symbol, stance=stance, target_price=target,
                       published_at=published, analyst="Priya", rationale=rationale)


def test_analyst_target_is_set_against_the_live_price_of_held_names():
    views = (view("AAPL", "buy", 230.0, at(2026, 11, 3)), view("KO", "sell", 45.0, at(2026, 10, 1)),
             view("NFLX", "buy", 900.0, at(2026, 10, 1)))
    items = analyst_views(context(viewpoints=views))
    assert [i.key for i in items] == ["analyst_view:AAPL", "analyst_view:KO"]  # NFLX is not held
    # (230 - 200) / 200 = +15.0%; (45 - 50) / 50 = -10.0%
    assert "target of 230.00 against 200.00 now: the target is 15.0% above the live price" in items[0].text
    assert "10.0% below the live price" in items[1].text and "rates SELL: discuss it" in items[1].text


def test_a_newer_viewpoint_that_reverses_the_older_one_is_reported():
    views = (view("KO", "buy", 60.0, at(2026, 3, 1)), view("KO", "sell", 45.0, at(2026, 10, 1), "Sugar taxes."),
             view("AAPL", "buy", 230.0, at(2026, 11, 3)), view("AAPL", "buy", 240.0, at(2026, 11, 20)))
    items = viewpoint_reversals(context(viewpoints=views))
    assert [i.text for i in items] == [
        "The analyst view on KO changed from BUY (1 March 2026) to SELL (1 October 2026): Sugar taxes."]
    assert [b["id"] for b in items[0].basis] == ["viewpoint:KO:202610", "viewpoint:KO:202603"]


def test_every_number_in_every_item_comes_from_its_basis():
    facts = PROFILE + (fact("exclusion", "exclusion:fossil_fuels", "no fossil fuels"),
                       fact("goal", "goal:house", "target June 2027", target_date=date(2027, 6, 1)),
                       fact("life_event", "life_event:new_child:2026-08", "new child", when=at(2026, 9, 10)))
    ctx = context(facts=facts, risk=RiskFigures(0.184, -0.227, None, "", 252, [], "replay"),
                  prices=(mention("AAPL", 325.47, 367.68, at(2024, 3, 3), "I bought Apple at $325.47."),),
                  viewpoints=(view("KO", "buy", 60.0, at(2026, 3, 1)), view("KO", "sell", 45.0, at(2026, 10, 1))),
                  recalled=(Recalled("obs:1", "Ann said she retires in 2033.", "fact", ("t1",)),))
    items = apply_rules(ctx).items
    assert {i.kind for i in items} == set(ITEM_KINDS) - {"decline"}
    assert {i.key: ungrounded_numbers(i.text, i.basis, i.figures) for i in items} == {i.key: [] for i in items}


def test_the_grounding_check_catches_an_invented_number():
    assert ungrounded_numbers("Apple is 367.68 now, +14.2%.", [{"price": 367.68}], {"drift_percent": 13.0}) == ["14.2"]
