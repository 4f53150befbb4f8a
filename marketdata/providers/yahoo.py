"""Live quotes from Yahoo through yfinance, with failures made explicit.

Each symbol is fetched with `yf.Ticker(symbol).history()`, one chart request per symbol. That is
what `yf.download` runs internally too, but `yf.download` catches every per-symbol exception,
rate limits and timeouts included, logs it and returns an empty column. A rate-limited symbol then
looked just like an unknown one, and the retry never ran. With `hide_exceptions` off, `history()`
raises, and the outcomes can be told apart:

- Yahoo does not know the symbol (404, "possibly delisted"): it goes into `unknown`.
- Rate limit (429), network failure or timeout: retried with exponential backoff and jitter. If
  it is still failing after the last attempt, the batch stops, because more requests will not
  help. Quotes already fetched are kept and the remaining symbols go into `errors`. If nothing
  was quoted, ProviderUnavailable is raised.
- Any other failure for one symbol: that symbol goes into `errors` and the batch carries on.

An empty answer or a NaN close never becomes a price.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pandas as pd
import yfinance as yf
from yfinance.exceptions import YFRateLimitError, YFTickerMissingError

from marketdata.providers.base import ProviderUnavailable, Quote, QuoteBatch

if TYPE_CHECKING:
    from curl_cffi.requests import Session

logger = logging.getLogger(__name__)

COLUMNS = ["open", "high", "low", "close", "volume"]
# Exception class names, matched anywhere in the class's MRO, so that both of yfinance's HTTP backends
# (curl_cffi and requests) count: curl_cffi's DNSError and SSLError are ConnectionErrors, for example.
TRANSIENT_NAMES = {"Timeout", "TimeoutError", "ConnectionError", "ChunkedEncodingError"}


def _http_status(error: BaseException) -> int | None:
    return getattr(getattr(error, "response", None), "status_code", None)


def _is_unknown_symbol(error: BaseException) -> bool:
    # yfinance raises YFPricesMissingError or YFTzMissingError for a symbol it cannot find. The
    # first two such symbols in a process go through its `info` fallback first, which fails
    # with an HTTP 404 error rather than one of yfinance's own exceptions.
    return isinstance(error, YFTickerMissingError) or _http_status(error) == 404


def _is_transient(error: BaseException) -> bool:
    status = _http_status(error)
    return (isinstance(error, YFRateLimitError) or status == 429 or (status is not None and status >= 500)
            or any(cls.__name__ in TRANSIENT_NAMES for cls in type(error).__mro__))


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class _UnknownSymbol(Exception):
    """Yahoo has no such symbol."""


class _SymbolFailed(ProviderUnavailable):
    """One symbol failed in a way that retrying will not fix. Other symbols may still work."""


class YahooProvider:
    name = "yfinance"

    def __init__(self, session: Session | None = None, sleep: Callable[[float], None] = time.sleep,
                 attempts: int = 4, base_delay: float = 1.0, timeout: float = 10.0) -> None:
        """`session` is handed to yfinance (a curl_cffi Session); None lets yfinance make its own.
        Tests pass one that plays back recorded Yahoo responses.

        `timeout` bounds the price request. Two other requests have timeouts fixed inside yfinance:
        the time zone lookup (10 s, once per symbol, then cached on disk) and the cookie and crumb
        fetch (30 s, until a crumb is held)."""
        yf.config.debug.hide_exceptions = False
        self._session = session
        self._sleep = sleep
        self._attempts = attempts
        self._base_delay = base_delay
        self._timeout = timeout

    def _history(self, symbol: str, **span: str) -> tuple[pd.DataFrame, Mapping]:
        """Daily bars and chart metadata for one symbol, retrying rate limits and network failures."""
        for attempt in range(1, self._attempts + 1):
            try:
                ticker = yf.Ticker(symbol, session=self._session)
                bars = ticker.history(interval="1d", auto_adjust=False, actions=False, timeout=self._timeout, **span)
                return bars, ticker.history_metadata
            except Exception as error:
                if _is_unknown_symbol(error):
                    raise _UnknownSymbol(str(error)) from error
                if not _is_transient(error):
                    raise _SymbolFailed(f"yfinance failed for {symbol}: {_describe(error)}") from error
                if attempt == self._attempts:
                    raise ProviderUnavailable(
                        f"yfinance is unavailable after {attempt} attempts: {_describe(error)}"
                    ) from error
                delay = self._base_delay * 2 ** (attempt - 1) * (1 + random.random())
                logger.warning("yfinance %s for %s; retrying in %.1fs", type(error).__name__, symbol, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")

    def latest_quotes(self, symbols: list[str]) -> QuoteBatch:
        batch = QuoteBatch()
        for position, symbol in enumerate(symbols):
            try:
                bars, meta = self._history(symbol, period="5d")
            except _UnknownSymbol:
                batch.unknown.append(symbol)
                continue
            except _SymbolFailed as error:
                batch.errors[symbol] = str(error)
                continue
            except ProviderUnavailable as error:
                if not batch.quotes:
                    raise
                batch.errors.update({s: str(error) for s in symbols[position:]})
                return batch
            quote = self._quote(symbol, bars, meta)
            if quote is None:
                batch.errors[symbol] = f"Yahoo returned no close for {symbol} in the last 5 days"
            else:
                batch.quotes[symbol] = quote
        return batch

    def _quote(self, symbol: str, bars: pd.DataFrame, meta: Mapping) -> Quote | None:
        closes = bars["Close"].dropna() if "Close" in bars.columns else pd.Series(dtype=float)
        if closes.empty:
            return None
        day = pd.Timestamp(closes.index[-1])  # midnight of the trading day, in the exchange's time zone
        traded = meta.get("regularMarketTime")
        # When this price was the market price: Yahoo's time of the last regular-session trade if it
        # belongs to this bar, else the bar's own time stamp. Same-day refreshes then get a later as_of.
        as_of = traded if isinstance(traded, pd.Timestamp) and traded.date() == day.date() else day
        return Quote(symbol, round(float(closes.iloc[-1]), 4), meta.get("currency") or "USD",
                     _utc(as_of), self.name, day.date())

    def daily_history(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        """Bars from `start` to `end`, both included (yfinance's `end` is exclusive, hence the extra day)."""
        try:
            bars, _ = self._history(symbol, start=start.isoformat(), end=(end + timedelta(days=1)).isoformat())
        except _UnknownSymbol:
            return pd.DataFrame(columns=COLUMNS)
        history = bars.rename(columns=str.lower).reindex(columns=COLUMNS).dropna(subset=["close"])
        history.index = [pd.Timestamp(i).date() for i in history.index]
        return history


def _utc(stamp: pd.Timestamp) -> datetime:
    stamp = stamp if stamp.tzinfo else stamp.tz_localize(timezone.utc)
    return stamp.tz_convert(timezone.utc).to_pydatetime()
