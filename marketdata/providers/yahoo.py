"""Live quotes from Yahoo through yfinance, with failures made explicit.

yfinance hides exceptions by default and returns empty frames instead; we switch that off and, as a
second guard, treat an empty frame or a NaN close as "no data", never as a price. Rate limits and
timeouts are retried with exponential backoff and jitter, then reported as ProviderUnavailable.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import date, timezone

import pandas as pd
import yfinance as yf
from yfinance.exceptions import YFRateLimitError

from marketdata.providers.base import ProviderUnavailable, Quote, QuoteBatch

logger = logging.getLogger(__name__)

BATCH_SIZE = 100
TRANSIENT_NAMES = ("Timeout", "ConnectionError", "ConnectError", "SSLError")


def _is_transient(error: BaseException) -> bool:
    return isinstance(error, (YFRateLimitError, TimeoutError, ConnectionError)) or any(
        name in type(error).__name__ for name in TRANSIENT_NAMES
    )


class YahooProvider:
    name = "yfinance"

    def __init__(self, download: Callable[..., pd.DataFrame] | None = None, sleep: Callable[[float], None] = time.sleep,
                 attempts: int = 4, base_delay: float = 1.0, timeout: float = 10.0) -> None:
        yf.config.debug.hide_exceptions = False
        self._download = download or yf.download
        self._sleep = sleep
        self._attempts = attempts
        self._base_delay = base_delay
        self._timeout = timeout

    def _fetch(self, symbols: list[str], **kwargs) -> pd.DataFrame:
        for attempt in range(1, self._attempts + 1):
            try:
                return self._download(symbols, group_by="ticker", threads=False, progress=False, auto_adjust=False,
                                      timeout=self._timeout, **kwargs)
            except Exception as error:
                if not _is_transient(error):
                    raise ProviderUnavailable(f"yfinance failed: {type(error).__name__}: {error}") from error
                if attempt == self._attempts:
                    raise ProviderUnavailable(
                        f"yfinance is unavailable after {attempt} attempts: {type(error).__name__}: {error}"
                    ) from error
                delay = self._base_delay * 2 ** (attempt - 1) * (1 + random.random())
                logger.warning("yfinance %s; retrying in %.1fs", type(error).__name__, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")

    def latest_quotes(self, symbols: list[str]) -> QuoteBatch:
        batch = QuoteBatch()
        for start in range(0, len(symbols), BATCH_SIZE):
            chunk = symbols[start:start + BATCH_SIZE]
            frame = self._fetch(chunk, period="5d", interval="1d")
            if frame is None or frame.empty:
                raise ProviderUnavailable(f"yfinance returned no data at all for {len(chunk)} symbols (network or outage?)")
            for symbol in chunk:
                closes = _column(frame, symbol, "Close")
                if closes is None or closes.dropna().empty:
                    batch.unknown.append(symbol)
                    continue
                closes = closes.dropna()
                stamp = pd.Timestamp(closes.index[-1])
                as_of = stamp.tz_convert(timezone.utc).to_pydatetime() if stamp.tzinfo else stamp.to_pydatetime().replace(tzinfo=timezone.utc)
                batch.quotes[symbol] = Quote(symbol, round(float(closes.iloc[-1]), 4), "USD", as_of, self.name, as_of.date())
        return batch

    def daily_history(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        frame = self._fetch([symbol], start=start.isoformat(), end=end.isoformat(), interval="1d")
        columns = {name.lower(): _column(frame, symbol, name) for name in ("Open", "High", "Low", "Close", "Volume")}
        if columns["close"] is None:
            return pd.DataFrame(columns=list(columns))
        history = pd.DataFrame(columns).dropna(subset=["close"])
        history.index = [pd.Timestamp(i).date() for i in history.index]
        return history


def _column(frame: pd.DataFrame, symbol: str, field: str) -> pd.Series | None:
    if isinstance(frame.columns, pd.MultiIndex):
        if (symbol, field) in frame.columns:
            return frame[(symbol, field)]
        if (field, symbol) in frame.columns:
            return frame[(field, symbol)]
        return None
    return frame[field] if field in frame.columns else None


