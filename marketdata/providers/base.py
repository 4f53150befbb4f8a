"""What every quote provider answers, and the one error it raises when it cannot."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

import pandas as pd


class ProviderUnavailable(Exception):
    """The provider could not answer (timeout, rate limit after retries, no network)."""


@dataclass(frozen=True)
class Quote:
    symbol: str
    price: float
    currency: str
    as_of: datetime  # aware; when this price was the market price
    source: str  # "replay" | "yfinance"
    market_date: date


@dataclass
class QuoteBatch:
    quotes: dict[str, Quote] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)  # the provider has no such symbol
    errors: dict[str, str] = field(default_factory=dict)  # symbol -> why it could not be quoted now


class QuoteProvider(Protocol):
    name: str

    def latest_quotes(self, symbols: list[str]) -> QuoteBatch: ...

    def daily_history(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        """Columns open, high, low, close, volume; index of dates. Empty when there is no data."""
        ...
