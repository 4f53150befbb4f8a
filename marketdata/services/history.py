"""A bounded daily price history per security, kept by us for charts."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import pandas as pd
from django.conf import settings

from marketdata.models import PriceBar
from marketdata.providers import ProviderUnavailable, Quote, get_provider


def record_bars(quotes: Iterable[Quote]) -> None:
    """Today's bar per quoted symbol: the close moves with each refresh during the day.

    One upsert for the whole batch; the history is trimmed only for symbols that gained a day.
    """
    quotes = list(quotes)
    if not quotes:
        return
    known = set(PriceBar.objects.filter(symbol__in={q.symbol for q in quotes}, date__in={q.market_date for q in quotes})
                .values_list("symbol", "date"))
    PriceBar.objects.bulk_create(
        [PriceBar(symbol=q.symbol, date=q.market_date, close=q.price, source=q.source) for q in quotes],
        update_conflicts=True, unique_fields=["symbol", "date"], update_fields=["close", "source"],
    )
    for quote in quotes:
        if (quote.symbol, quote.market_date) not in known:
            _prune(quote.symbol)


def _prune(symbol: str) -> None:
    keep = PriceBar.objects.filter(symbol=symbol).order_by("-date").values_list("pk", flat=True)[
        : settings.PRICE_HISTORY_MAX_DAYS
    ]
    PriceBar.objects.filter(symbol=symbol).exclude(pk__in=list(keep)).delete()


def price_history(symbol: str, end: date, days: int = 365) -> pd.DataFrame:
    """Close prices for `days` up to `end`; backfilled from the provider when the start is missing."""
    start = end - timedelta(days=days)
    earliest = (PriceBar.objects.filter(symbol=symbol, date__gte=start, date__lte=end)
                .order_by("date").values_list("date", flat=True).first())
    if earliest is None or earliest > start + timedelta(days=7):  # a week covers weekends and holidays
        provider = get_provider()
        try:
            frame = provider.daily_history(symbol, start, end)
        except ProviderUnavailable:
            frame = pd.DataFrame()
        PriceBar.objects.bulk_create(
            [PriceBar(symbol=symbol, date=day, open=row.get("open"), high=row.get("high"), low=row.get("low"),
                      close=float(row["close"]), volume=int(row["volume"]) if pd.notna(row.get("volume")) else None,
                      source=provider.name)
             for day, row in frame.iterrows() if pd.notna(row.get("close"))],
            ignore_conflicts=True,
        )
        _prune(symbol)
    rows = list(PriceBar.objects.filter(symbol=symbol, date__gte=start, date__lte=end).values("date", "close", "source"))
    return pd.DataFrame(rows, columns=["date", "close", "source"])

