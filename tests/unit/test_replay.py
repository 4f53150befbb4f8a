"""The offline replay: real prices of 1990-2022 on today's calendar, consistent between quotes and bars."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from marketdata.providers.replay import BENCHMARK_SYMBOL, ReplayProvider, available_symbols

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
    provider = ReplayProvider(years_back=0)  # today lies after December 2022: it must wrap into the data
    now = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)
    batch = ReplayProvider(now=lambda: now, years_back=0).latest_quotes(["KO", "NOPE"])

    assert date(1990, 1, 2) <= provider.historical(now).date() <= date(2022, 12, 28)
    assert batch.quotes["KO"].price > 0 and batch.unknown == ["NOPE"]


def test_outside_bokehs_years_its_names_get_an_error_naming_the_dates_they_cover():
    # 25 Nov 2026 wraps to December 1993: skfolio's KO has a price there, bokeh's AAPL (2000-2013) has not.
    now = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)
    batch = ReplayProvider(now=lambda: now, years_back=0).latest_quotes(["AAPL", "KO"])

    assert "AAPL" not in batch.quotes and "01 Mar 2000 to 01 Mar 2013" in batch.errors["AAPL"]
    assert "KO" in batch.quotes


def test_skfolio_adds_real_closes_of_more_large_caps_and_the_sp500_index_as_benchmark():
    provider = ReplayProvider(years_back=14)
    first, second = (calendar_day_replaying(d, provider) for d in (date(2012, 1, 3), date(2012, 1, 4)))

    bars = {symbol: provider.daily_history(symbol, first, second) for symbol in ("KO", "XOM", BENCHMARK_SYMBOL)}

    assert {"JNJ", "KO", "XOM", "PFE", "JPM", BENCHMARK_SYMBOL} <= set(available_symbols())
    # The closes of 3 and 4 January 2012 in skfolio's files (adjusted for splits and dividends).
    assert list(bars["KO"]["close"]) == [24.526, 24.372]
    assert list(bars["XOM"]["close"]) == [54.028, 54.041]
    assert list(bars[BENCHMARK_SYMBOL]["close"]) == [1277.06, 1277.3]
    assert bars["KO"]["open"].tolist() == [None, None] and bars["KO"]["volume"].tolist() == [None, None]


def test_bokehs_prices_are_adjusted_for_splits_so_a_split_is_not_a_crash():
    provider = ReplayProvider(years_back=14)
    friday, monday = (calendar_day_replaying(d, provider) for d in (date(2005, 2, 25), date(2005, 2, 28)))

    closes = list(provider.daily_history("AAPL", friday, monday)["close"])

    # As traded: 88.99 on Friday, 44.86 on Monday after the 2:1 split of 28 February 2005.
    assert closes == [88.99 / 2, 44.86]
    # Before both of AAPL's splits (June 2000 and February 2005): divided by 4.
    day = calendar_day_replaying(date(2000, 3, 1), provider)
    assert provider.daily_history("AAPL", day, day)["close"].iloc[0] == pytest.approx(130.31 / 4)


def test_a_symbol_not_yet_listed_on_the_replayed_day_is_an_error_not_a_price():
    provider = ReplayProvider(years_back=14)
    day = calendar_day_replaying(date(2011, 6, 1), provider)  # FB's history starts in May 2012

    batch = ReplayProvider(now=lambda: datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc),
                           years_back=14).latest_quotes(["FB", "MSFT"])

    assert "FB" not in batch.quotes and "no price" in batch.errors["FB"]
    assert batch.quotes["MSFT"].price > 0
