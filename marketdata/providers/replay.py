"""Real historical prices replayed on today's calendar: the offline default and a demo mode.

Two datasets that ship inside packages, read from their files (nothing is fetched):
- `bokeh-sampledata` (public domain, from Quandl WIKI): daily OHLCV of AAPL, FB, GOOG, IBM and MSFT,
  March 2000 to March 2013, as traded; we adjust them for the three splits in them (AAPL 2000 and
  2005, MSFT 2003), as Yahoo's close is, so a split is not a crash.
- `skfolio` (BSD-3): daily adjusted closes (splits and dividends) of 20 S&P 500 constituents and of
  the S&P 500 index, January 1990 to December 2022. It adds the 18 names bokeh lacks (JNJ, KO, XOM,
  PFE, JPM, ...; closes only) and the index as the benchmark, under Yahoo's symbol `^GSPC`
  (`BENCHMARK_SYMBOL`). skfolio is installed without its dependencies and never imported: only its
  CSV files are read.

The replay runs on the real calendar, `REPLAY_YEARS_BACK` years behind it (a whole number of weeks,
so a Monday replays a Monday): the price shown on 3 March 2026 is the close of early March 2011.
That keeps everything date-aligned: a price a client mentioned in a session three months ago and
the replayed price of that day sit on one chart, and drift since then is a real market move. When
the calendar runs past the end of the data (December 2022) the replay wraps around to its start
(January 1990); a symbol without data on the replayed day (bokeh's names outside 2000-2013, FB
before May 2012) gets an error saying so, never a made-up price.

Between two closes the price moves linearly with wall time, so it changes during a demo, as a
real quote would. Shown everywhere as "replayed prices".
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from importlib.metadata import distribution

import pandas as pd
from django.conf import settings

from marketdata.providers.base import Quote, QuoteBatch

CLOSE_TIME = time(21, 0)  # 16:00 in New York, as UTC: when a replayed trading day closes
COLUMNS = ["open", "high", "low", "close", "volume"]
BENCHMARK_SYMBOL = "^GSPC"  # the S&P 500 index, as Yahoo names it
SKFOLIO_FILES = ("skfolio/datasets/data/sp500_dataset.csv.gz", "skfolio/datasets/data/sp500_index.csv.gz")


@lru_cache(maxsize=1)
def _prices() -> pd.DataFrame:
    """Daily OHLCV per symbol, indexed by (ticker, date); skfolio's symbols have closes only."""
    bokeh = _bokeh_split_adjusted()
    closes = pd.concat([_skfolio_closes(path) for path in SKFOLIO_FILES], axis=1)
    closes = closes.rename(columns={"SP500": BENCHMARK_SYMBOL})
    closes = closes.drop(columns=[symbol for symbol in closes.columns if symbol in set(bokeh["ticker"])])
    skfolio = (closes.rename_axis(index="date", columns="ticker").stack().rename("close").reset_index()
               .reindex(columns=["ticker", "date", *COLUMNS]))
    frame = pd.concat([bokeh, skfolio], ignore_index=True)
    return frame.set_index(["ticker", "date"]).sort_index()


def _bokeh_split_adjusted() -> pd.DataFrame:
    """bokeh's five names, with the prices before each split divided by its ratio (volumes multiplied).

    A split shows as a jump of close / adj_close by its ratio from one day to the next (dividends move
    it by a few percent only), so the splits are read from the data rather than listed by hand.
    """
    from bokeh_sampledata import stocks

    frame = stocks.data[["ticker", "date", *COLUMNS, "adj_close"]].copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    frame = frame.sort_values(["ticker", "date"], ignore_index=True)
    ratio = frame["close"] / frame["adj_close"]
    jump = (ratio.groupby(frame["ticker"]).shift(1) / ratio).fillna(1.0)
    split = jump.where(jump > 1.4, 1.0).round()  # 2.0 on the first day after a 2:1 split
    # Divide each day by the splits that come after it: the reverse cumulative product within a ticker.
    later = split[::-1].groupby(frame["ticker"][::-1]).cumprod()[::-1] / split
    for column in ("open", "high", "low", "close"):
        frame[column] = frame[column] / later
    frame["volume"] = (frame["volume"] * later).round()
    return frame[["ticker", "date", *COLUMNS]]


def _skfolio_closes(path: str) -> pd.DataFrame:
    """One of skfolio's CSV files, read from the installed package without importing skfolio."""
    frame = pd.read_csv(distribution("skfolio").locate_file(path), index_col="Date")
    frame.index = pd.to_datetime(frame.index, format="%Y-%m-%d").date
    return frame


@lru_cache(maxsize=None)
def _closes(symbol: str) -> tuple[tuple[datetime, ...], tuple[float, ...]]:
    """(close instants, close prices) of one symbol, for bisecting by time."""
    series = _prices().loc[symbol]["close"]
    instants = tuple(datetime.combine(day, CLOSE_TIME, tzinfo=timezone.utc) for day in series.index)
    return instants, tuple(float(price) for price in series)


def available_symbols() -> list[str]:
    return sorted(_prices().index.get_level_values(0).unique())


class ReplayProvider:
    name = "replay"

    def __init__(self, now: Callable[[], datetime] | None = None, years_back: int | None = None) -> None:
        self._now = now or (lambda: datetime.now(timezone.utc))
        years = settings.REPLAY_YEARS_BACK if years_back is None else years_back
        self.shift = timedelta(weeks=round(years * 365.25 / 7))
        days = _prices().index.get_level_values(1)
        self._first = datetime.combine(days.min(), time(0), tzinfo=timezone.utc)
        # A whole number of weeks, so the wrap-around keeps weekdays too.
        self._period = timedelta(weeks=(days.max() - days.min()).days // 7)

    def historical(self, moment: datetime) -> datetime:
        """The moment of history that the replay shows at `moment` of the calendar."""
        return self._first + (moment - self.shift - self._first) % self._period

    def latest_quotes(self, symbols: list[str]) -> QuoteBatch:
        batch = QuoteBatch()
        known = set(available_symbols())
        now = self._now()
        then = self.historical(now)
        for symbol in symbols:
            if symbol not in known:
                batch.unknown.append(symbol)
                continue
            instants, prices = _closes(symbol)
            after = bisect_right(instants, then)  # index of the first close later than `then`
            if after == 0 or after == len(instants):
                batch.errors[symbol] = (f"the replayed history of {symbol} has no price for {then:%d %b %Y} "
                                        f"(it covers {instants[0]:%d %b %Y} to {instants[-1]:%d %b %Y})")
                continue
            start, end = instants[after - 1], instants[after]
            fraction = (then - start) / (end - start)
            price = round(prices[after - 1] + (prices[after] - prices[after - 1]) * fraction, 2)
            # The trading day the price is heading into, on today's calendar.
            market_date = (now + (end - then)).date()
            batch.quotes[symbol] = Quote(symbol, price, "USD", now, self.name, market_date)
        return batch

    def daily_history(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        """Daily bars on today's calendar: the bar for day D is the replayed trading day behind it."""
        if symbol not in set(available_symbols()) or end < start:
            return pd.DataFrame(columns=COLUMNS)
        calendar = pd.date_range(start, end, freq="D").date
        behind = [self.historical(datetime.combine(day, CLOSE_TIME, tzinfo=timezone.utc)).date() for day in calendar]
        frame = _prices().loc[symbol].reindex(behind)
        frame.index = calendar
        frame = frame.dropna(subset=["close"])
        return frame.astype(object).where(frame.notna(), None)  # skfolio's bars: a close, no open or volume

