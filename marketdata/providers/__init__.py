"""Quote providers: offline replay of real history (default) or live yfinance, chosen by setting."""
from __future__ import annotations

from django.conf import settings

from marketdata.providers.base import ProviderUnavailable, Quote, QuoteBatch, QuoteProvider

__all__ = ["ProviderUnavailable", "Quote", "QuoteBatch", "QuoteProvider", "get_provider"]


def get_provider() -> QuoteProvider:
    if settings.QUOTE_PROVIDER == "yfinance":
        from marketdata.providers.yahoo import YahooProvider

        return YahooProvider()
    if settings.QUOTE_PROVIDER == "replay":
        from marketdata.providers.replay import ReplayProvider

        return ReplayProvider()
    raise ValueError(f"QUOTE_PROVIDER must be 'replay' or 'yfinance', not {settings.QUOTE_PROVIDER!r}")
