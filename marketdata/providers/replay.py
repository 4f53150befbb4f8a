"""Real historical prices replayed on a market clock: the offline default and a demo mode.

The data are the daily prices of AAPL, FB, GOOG, IBM and MSFT from 2000 to 2013 that ship in the
`bokeh-sampledata` package (public domain, from Quandl WIKI). One trading day passes every
`REPLAY_SECONDS_PER_DAY` seconds of wall time, counted from a fixed epoch so every process agrees,
and prices move between closes during the day so a demo visibly changes. Shown as "replayed".
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timezone
from functools import lru_cache

import pandas as pd
from django.conf import settings

from marketdata.providers.base import Quote, QuoteBatch

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


@lru_cache(maxsize=1)
def _closes() -> pd.DataFrame:
    """Daily OHLCV per symbol, indexed by (ticker, date)."""
    from bokeh_sampledata import stocks

    frame = stocks.data[["ticker", "date", "open", "high", "low", "close", "volume"]].copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame.set_index(["ticker", "date"]).sort_index()


def available_symbols() -> list[str]:
    return sorted(_closes().index.get_level_values(0).unique())


class ReplayProvider:
    name = "replay"

    def __init__(self, now: Callable[[], datetime] | None = None, seconds_per_day: float | None = None,
                 start: date | None = None) -> None:
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._seconds_per_day = seconds_per_day or settings.REPLAY_SECONDS_PER_DAY
        self._start = start or date.fromisoformat(settings.REPLAY_START_DATE)

    def _position(self, days: list[date]) -> tuple[int, float]:
        """Index of the replayed trading day among `days`, and how far through it we are."""
        elapsed = (self._now() - EPOCH).total_seconds() / self._seconds_per_day
        first = next((i for i, d in enumerate(days) if d >= self._start), 0)
        span = len(days) - first - 1
        offset = int(elapsed) % span
        return first + offset, elapsed - int(elapsed)

    def latest_quotes(self, symbols: list[str]) -> QuoteBatch:
        batch = QuoteBatch()
        data = _closes()
        known = set(available_symbols())
        as_of = self._now()
        for symbol in symbols:
            if symbol not in known:
                batch.unknown.append(symbol)
                continue
            series = data.loc[symbol]["close"]
            days = list(series.index)
            index, fraction = self._position(days)
            today, tomorrow = float(series.iloc[index]), float(series.iloc[index + 1])
            price = round(today + (tomorrow - today) * fraction, 2)
            batch.quotes[symbol] = Quote(symbol, price, "USD", as_of, self.name, days[index])
        return batch

    def daily_history(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        if symbol not in set(available_symbols()):
            return pd.DataFrame(columns=["open", "high", "low", "close", "volume"])
        frame = _closes().loc[symbol]
        return frame[(frame.index >= start) & (frame.index <= end)]

    def replay_date(self) -> date:
        days = list(_closes().loc[available_symbols()[0]].index)
        return days[self._position(days)[0]]
