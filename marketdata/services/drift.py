"""How remembered prices read today: "182.10 when discussed on 3 March 2024, now 207.45 (+13.9%)"."""
from __future__ import annotations

from dataclasses import dataclass

from memory.graph import securities as graph_securities
from memory.graph.securities import RememberedPrice
from memory.scope import Reader


def drift_percent(then: float, now: float | None) -> float | None:
    """The move since a price was discussed, in percent (unrounded: rounding happens once, when shown)."""
    if now is None or not then:
        return None
    return 100.0 * (now - then) / then


@dataclass(frozen=True)
class PriceDrift(RememberedPrice):
    """A remembered price with today's quote, the drift since, and a sentence a person can read."""

    drift_pct: float | None = None
    summary: str = ""


def describe(mention: RememberedPrice, drift_pct: float | None) -> str:
    text = f"{mention.price:.2f} when discussed on {mention.mentioned_at:%-d %B %Y}"
    if mention.current_price is None:
        return text + ", no quote yet"
    text += f", now {mention.current_price:.2f} ({drift_pct:+.1f}%)"
    if mention.source == "replay":
        text += " [replayed prices]"
    if mention.status == "stale":
        text += f"; STALE since {mention.checked_at:%-d %b %H:%M}: {mention.error}"
    elif mention.status == "unknown":
        text += "; the provider does not know this symbol"
    return text


def remembered_prices_for(reader: Reader, symbol: str | None = None) -> list[PriceDrift]:
    drifts = []
    for mention in graph_securities.remembered_prices(reader.scopes, symbol):
        drift = drift_percent(mention.price, mention.current_price)
        drifts.append(PriceDrift(**vars(mention), drift_pct=drift, summary=describe(mention, drift)))
    return drifts
