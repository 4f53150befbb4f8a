"""A bounded daily price history per security, kept by us for charts."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import pandas as pd
from django.conf import settings

from marketdata.models import PriceBar
from marketdata.providers import ProviderUnavailable, Quote, get_provider


def record_bars(quotes: Iterable[Quote]) -> None:
    """Today's bar per quoted symbol: the close moves with each refresh during the day."""
    for quote in quotes:
        PriceBar.objects.update_or_create(
            symbol=quote.symbol, date=quote.market_date, defaults={"close": quote.price, "source": quote.source}
        )
        _prune(quote.symbol)


def _prune(symbol: str) -> None:
    keep = PriceBar.objects.filter(symbol=symbol).order_by("-date").values_list("pk", flat=True)[
        : settings.PRICE_HISTORY_MAX_DAYS
    ]
    PriceBar.objects.filter(symbol=symbol).exclude(pk__in=list(keep)).delete()


def price_history(symbol: str, end: date, days: int = 365) -> pd.DataFrame:
    """Close prices up to `end`; backfilled from the provider the first time a chart asks."""
    start = end - timedelta(days=days)
    bars = PriceBar.objects.filter(symbol=symbol, date__gte=start, date__lte=end)
    if bars.count() < 20:
        try:
            frame = get_provider().daily_history(symbol, start, end)
        except ProviderUnavailable:
            frame = pd.DataFrame()
        source = get_provider().name
        PriceBar.objects.bulk_create(
            [PriceBar(symbol=symbol, date=day, open=row.get("open"), high=row.get("high"), low=row.get("low"),
                      close=float(row["close"]), volume=int(row["volume"]) if pd.notna(row.get("volume")) else None,
                      source=source)
             for day, row in frame.iterrows() if pd.notna(row.get("close"))],
            ignore_conflicts=True,
        )
        _prune(symbol)
    rows = list(PriceBar.objects.filter(symbol=symbol, date__gte=start, date__lte=end).values("date", "close", "source"))
    return pd.DataFrame(rows, columns=["date", "close", "source"])


def market_today() -> date:
    """Today on the market clock: the replayed trading day in replay mode, else the calendar day."""
    provider = get_provider()
    if hasattr(provider, "replay_date"):
        return provider.replay_date()
    return date.today()
