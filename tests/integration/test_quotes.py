"""Remembered prices kept true: refresh against the real Neo4j with offline and failing providers."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from django.conf import settings

from advisor.models import Client, Firm
from marketdata.models import QuoteRefreshRun
from marketdata.providers.base import ProviderUnavailable, Quote, QuoteBatch
from marketdata.providers.replay import ReplayProvider
from marketdata.services.drift import remembered_prices_for
from advisor.services.quotes import refresh_client_quotes
from marketdata.services.refresh import refresh_remembered_quotes
from advisor.services.importer import import_sessions
from memory import api
from memory.graph import driver as graph_driver
from memory.scope import Reader

pytestmark = pytest.mark.django_db

SESSION = json.dumps({
    "client_id": "ann", "session_id": "q1", "channel": "meeting", "started_at": "2024-03-03T10:00:00Z",
    "participants": {"Ann Carter": "client"},
    "turns": [
        {"turn_id": "q1-1", "speaker": "Ann Carter", "text": "I bought Apple at $100.00 and IBM at $200.00."},
        {"turn_id": "q1-2", "speaker": "Ann Carter", "text": "Microsoft was trading at 50 when I looked."},
    ],
})
T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


class FixedProvider:
    """Answers instantly with given prices: the world we control in a test."""

    name = "fixed"

    def __init__(self, prices: dict[str, float], as_of: datetime, unknown: tuple[str, ...] = ()) -> None:
        self.prices, self.as_of, self.unknown = prices, as_of, unknown

    def latest_quotes(self, symbols: list[str]) -> QuoteBatch:
        return QuoteBatch(
            quotes={s: Quote(s, self.prices[s], "USD", self.as_of, self.name, self.as_of.date())
                    for s in symbols if s in self.prices},
            unknown=[s for s in symbols if s in self.unknown or s not in self.prices],
        )


class FailingProvider:
    name = "failing"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def latest_quotes(self, symbols: list[str]) -> QuoteBatch:
        raise self.error


def security(symbol: str) -> dict:
    return graph_driver.read(lambda tx: tx.run(
        "MATCH (s:Security {symbol: $s}) RETURN s.last_price AS price, s.quote_status AS status, "
        "s.quote_error AS error, s.last_price_as_of AS as_of", s=symbol).single().data())


@pytest.fixture
def remembered(clean_graph):
    import_sessions([SESSION], "acme")
    return Reader("acme", "ann")


def test_replay_refresh_updates_securities_and_every_drift_value(remembered):
    shift = ReplayProvider(years_back=14).shift
    # 09:00 UTC on the calendar day that replays 4 January 2012: halfway from the close of the 3rd to the 4th.
    now = datetime(2012, 1, 4, 9, tzinfo=timezone.utc) + shift
    provider = ReplayProvider(now=lambda: now, years_back=14)
    expected = provider.latest_quotes(["AAPL", "IBM", "MSFT"]).quotes

    report = refresh_remembered_quotes(provider=provider, now=T0)

    assert sorted(report.updated) == ["AAPL", "IBM", "MSFT"]
    # Halfway between the closes of 3 and 4 January 2012 (AAPL 411.23 -> 413.44 in the shipped data),
    # heading into the close of the calendar day that replays the 4th.
    assert shift.days % 7 == 0 and 13 < shift.days / 365.25 < 15
    assert expected["AAPL"].market_date == (datetime(2012, 1, 4, tzinfo=timezone.utc) + shift).date()
    assert expected["AAPL"].price == pytest.approx(round((411.23 + 413.44) / 2, 2))
    drifts = {row.symbol: row for row in remembered_prices_for(remembered)}
    assert drifts["AAPL"].current_price == expected["AAPL"].price
    assert drifts["AAPL"].drift_pct == pytest.approx(100 * (expected["AAPL"].price - 100) / 100)
    assert drifts["IBM"].drift_pct == pytest.approx(100 * (expected["IBM"].price - 200) / 200)
    assert drifts["MSFT"].drift_pct == pytest.approx(100 * (expected["MSFT"].price - 50) / 50)
    assert "when discussed on 3 March 2024" in drifts["AAPL"].summary
    assert "replayed prices" in drifts["AAPL"].summary


@pytest.mark.parametrize("error", [
    ProviderUnavailable("yfinance is unavailable after 4 attempts: YFRateLimitError: Too Many Requests"),
    ProviderUnavailable("yfinance is unavailable after 4 attempts: Timeout: read timed out"),
    ProviderUnavailable("yfinance returned no data at all for 3 symbols (network or outage?)"),
])
def test_provider_failure_marks_prices_stale_keeps_them_and_records_the_error(remembered, error):
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 120.0, "IBM": 210.0, "MSFT": 55.0}, T0), now=T0)

    report = refresh_remembered_quotes(provider=FailingProvider(error), now=T0 + timedelta(minutes=1))

    aapl = security("AAPL")
    assert (aapl["price"], aapl["status"]) == (120.0, "stale")
    assert str(error) in aapl["error"]
    assert report.updated == [] and set(report.errors) == {"AAPL", "IBM", "MSFT"}
    run = QuoteRefreshRun.objects.order_by("-started_at").first()
    assert run.status == "failed" and str(error) in run.errors["AAPL"]
    row = next(r for r in remembered_prices_for(remembered) if r.symbol == "AAPL")
    assert "STALE" in row.summary and row.current_price == 120.0


def test_a_late_task_does_not_overwrite_a_newer_price(remembered):
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 130.0, "IBM": 1, "MSFT": 1}, T0 + timedelta(hours=1)))

    late = refresh_remembered_quotes(provider=FixedProvider({"AAPL": 90.0, "IBM": 1, "MSFT": 1}, T0))

    assert security("AAPL")["price"] == 130.0
    assert late.updated == []


def test_an_unknown_symbol_is_reported_and_does_not_stop_the_batch(remembered):
    Firm.objects.get(slug="acme")
    Client.objects.get(external_id="ann").holdings.create(symbol="ZZZZ", quantity=1)

    report = refresh_client_quotes(provider=FixedProvider({"AAPL": 101.0, "IBM": 201.0, "MSFT": 51.0}, T0), now=T0)

    assert report.unknown == ["ZZZZ"]
    assert sorted(report.updated) == ["AAPL", "IBM", "MSFT"]
    assert security("ZZZZ")["status"] == "unknown"
    assert QuoteRefreshRun.objects.get().status == "partial"


def test_a_significant_move_becomes_exactly_one_memory_event(remembered):
    provider = FixedProvider({"AAPL": 114.0, "IBM": 201.0, "MSFT": 50.5}, T0)

    first = refresh_remembered_quotes(provider=provider, now=T0)
    second = refresh_remembered_quotes(provider=FixedProvider({"AAPL": 115.0, "IBM": 201.0, "MSFT": 50.5},
                                                              T0 + timedelta(minutes=1)))

    assert (first.events, second.events) == (1, 0)
    events = graph_driver.read(lambda tx: [r.data() for r in tx.run(
        "MATCH (e:Event {kind: 'market_move'})-[:ABOUT]->(:Security {symbol: 'AAPL'}) "
        "RETURN e.text AS text, e.scope AS scope, size(e.embedding) AS dimensions")])
    assert len(events) == 1
    assert events[0]["dimensions"] == settings.MEMORY_EMBEDDING_DIMENSIONS
    assert events[0]["text"].startswith("AAPL moved +14.0% since Ann Carter discussed it at 100.00 on 3 March 2024")
    found = api.search(firm_id="acme", client_id="ann", query="Apple moved since discussed", k=10)
    move = next(r for r in found if r.kind == "market_move")
    assert move.origin == "market:fixed" and move.sources == []


def test_a_move_after_an_alert_is_measured_from_the_alert_and_says_so(remembered):
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 120.0, "IBM": 201.0, "MSFT": 50.5}, T0), now=T0)
    next_day = T0 + timedelta(days=1)

    later = refresh_remembered_quotes(provider=FixedProvider({"AAPL": 108.0, "IBM": 201.0, "MSFT": 50.5}, next_day),
                                      now=next_day)

    assert later.events == 1
    texts = graph_driver.read(lambda tx: [r["text"] for r in tx.run(
        "MATCH (e:Event {kind: 'market_move', symbol: 'AAPL'}) RETURN e.text AS text ORDER BY e.recorded_at")])
    assert texts[1] == ("AAPL moved -10.0% since the last alert at 120.00 (now 108.00); +8.0% since Ann Carter "
                        "discussed it at 100.00 on 3 March 2024.")


def test_the_twins_price_tool_reports_drift_and_staleness_for_this_client_only(remembered):
    from twin.tools import memory_tools

    import_sessions([json.dumps({
        "client_id": "ben", "session_id": "b1", "channel": "call", "started_at": "2024-05-01T10:00:00Z",
        "participants": {"Ben Okafor": "client"},
        "turns": [{"turn_id": "b1-1", "speaker": "Ben Okafor", "text": "I bought Google at $300.00."}],
    })], "acme")
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 120.0, "IBM": 210.0, "MSFT": 55.0, "GOOG": 310.0}, T0), now=T0)
    refresh_remembered_quotes(provider=FailingProvider(ProviderUnavailable("Timeout: read timed out")),
                              now=T0 + timedelta(minutes=1))
    tool = next(t for t in memory_tools(Reader("acme", "ann"), actor="twin") if t.name == "remembered_prices")

    everything = json.loads(tool.invoke({}))
    apple = json.loads(tool.invoke({"symbol": "aapl"}))

    assert sorted(row["symbol"] for row in everything) == ["AAPL", "IBM", "MSFT"]  # not Ben's GOOG
    bens = next(t for t in memory_tools(Reader("acme", "ben"), actor="twin") if t.name == "remembered_prices")
    assert [row["symbol"] for row in json.loads(bens.invoke({}))] == ["GOOG"]
    assert len(apple) == 1
    assert apple[0]["price_when_discussed"] == 100.0 and apple[0]["current_price"] == 120.0
    assert apple[0]["drift_pct"] == 20.0
    assert apple[0]["quote_status"] == "stale" and "read timed out" in apple[0]["quote_error"]
    assert apple[0]["discussed_at"].startswith("2024-03-03")
    assert "STALE" in apple[0]["summary"]


def test_the_price_history_keeps_one_bar_a_day_with_the_latest_close_and_stays_bounded(remembered, settings):
    from marketdata.models import PriceBar

    settings.PRICE_HISTORY_MAX_DAYS = 2

    def refresh(day: int, hour: int, price: float) -> list:
        at = T0 + timedelta(days=day, hours=hour)
        refresh_remembered_quotes(provider=FixedProvider({"AAPL": price, "IBM": 200.0, "MSFT": 50.0}, at), now=at)
        return list(PriceBar.objects.filter(symbol="AAPL").order_by("date").values_list("date", "close"))

    refresh(0, 0, 101.0)
    assert refresh(0, 1, 102.5) == [(T0.date(), 102.5)]
    assert refresh(1, 0, 103.0) == [(T0.date(), 102.5), ((T0 + timedelta(days=1)).date(), 103.0)]
    assert refresh(2, 0, 104.0) == [((T0 + timedelta(days=1)).date(), 103.0), ((T0 + timedelta(days=2)).date(), 104.0)]
    assert PriceBar.objects.filter(symbol="IBM").count() == 2
