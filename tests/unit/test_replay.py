"""The offline replay: real prices of 2000-2013 on today's calendar, consistent between quotes and bars."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from marketdata.providers.replay import ReplayProvider

AAPL_CLOSES_2012 = {date(2012, 1, 3): 411.23, date(2012, 1, 4): 413.44}


def calendar_day_replaying(day: date, provider: ReplayProvider) -> date:
    return day + provider.shift


def test_the_replay_keeps_weekdays_and_shows_the_close_of_the_replayed_day_at_its_close():
    provider = ReplayProvider(years_back=14)
    day = calendar_day_replaying(date(2012, 1, 4), provider)
    at_close = datetime(day.year, day.month, day.day, 21, tzinfo=timezone.utc)

    quote = ReplayProvider(now=lambda: at_close, years_back=14).latest_quotes(["AAPL"]).quotes["AAPL"]

    assert day.weekday() == date(2012, 1, 4).weekday()
    assert quote.price == AAPL_CLOSES_2012[date(2012, 1, 4)]
    assert quote.source == "replay" and quote.as_of == at_close


def test_daily_bars_sit_on_the_calendar_days_that_replay_them_and_agree_with_quotes():
    provider = ReplayProvider(years_back=14)
    first, second = (calendar_day_replaying(d, provider) for d in AAPL_CLOSES_2012)

    bars = provider.daily_history("AAPL", first - timedelta(days=3), second)

    assert list(bars.index[-2:]) == [first, second]
    assert list(bars["close"].iloc[-2:]) == [411.23, 413.44]
    assert all(day <= second for day in bars.index)


def test_prices_move_between_closes_so_a_demo_sees_them_change():
    provider = ReplayProvider(years_back=14)
    day = calendar_day_replaying(date(2012, 1, 4), provider)
    morning = datetime(day.year, day.month, day.day, 3, tzinfo=timezone.utc)

    early = ReplayProvider(now=lambda: morning, years_back=14).latest_quotes(["AAPL"]).quotes["AAPL"].price
    later = ReplayProvider(now=lambda: morning + timedelta(hours=12), years_back=14).latest_quotes(["AAPL"]).quotes["AAPL"].price

    assert 411.23 < early < later < 413.44
    assert early == pytest.approx(411.23 + (413.44 - 411.23) * 6 / 24, abs=0.01)


def test_past_the_end_of_the_data_the_replay_wraps_to_its_start_and_unknown_symbols_are_reported():
    provider = ReplayProvider(years_back=0)  # today lies after March 2013: it must wrap into the data
    batch = ReplayProvider(now=lambda: datetime(2026, 11, 25, 12, tzinfo=timezone.utc), years_back=0).latest_quotes(
        ["AAPL", "NOPE"])

    assert date(2000, 3, 1) <= provider.historical(datetime(2026, 11, 25, tzinfo=timezone.utc)).date() <= date(2013, 3, 1)
    assert batch.quotes["AAPL"].price > 0 and batch.unknown == ["NOPE"]


def test_a_symbol_not_yet_listed_on_the_replayed_day_is_an_error_not_a_price():
    provider = ReplayProvider(years_back=14)
    day = calendar_day_replaying(date(2011, 6, 1), provider)  # FB's history starts in May 2012

    batch = ReplayProvider(now=lambda: datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc),
                           years_back=14).latest_quotes(["FB", "MSFT"])

    assert "FB" not in batch.quotes and "no price" in batch.errors["FB"]
    assert batch.quotes["MSFT"].price > 0
