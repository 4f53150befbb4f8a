"""Market moves joined to remembered prices: a significant move since a client discussed a security
becomes a memory event in that client's memory, which the twin and digests cite.

The rules, named here (docs/architecture.md, "a quote's way"): a move is measured from the price the
client discussed, or from the last alert's price once an alert was raised after that discussion
(`memory.graph.securities.tracked_moves` applies that reference inside its query, so an all-moved
cycle reads only the pairs that moved); it is significant at the client's threshold, else the
firm's, else `SIGNIFICANT_MOVE_PERCENT`; each event has importance MARKET_MOVE_IMPORTANCE.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from django.conf import settings
from django.utils import timezone

from memory.embeddings import embed_texts
from memory.graph import securities as graph_securities
from memory.ids import stable_id

MARKET_MOVE_IMPORTANCE = 0.6


@dataclass(frozen=True)
class MoveThresholds:
    """Percent moves that count, by client and by firm; the caller (who knows the people) supplies them."""

    by_client: dict[tuple[str, str], float] = field(default_factory=dict)  # (firm_id, client_id) -> percent
    by_firm: dict[str, float] = field(default_factory=dict)

    def for_client(self, firm_id: str, client_id: str) -> float:
        return self.by_client.get((firm_id, client_id),
                                  self.by_firm.get(firm_id, settings.SIGNIFICANT_MOVE_PERCENT))

    def smallest(self) -> float:
        return min([settings.SIGNIFICANT_MOVE_PERCENT, *self.by_client.values(), *self.by_firm.values()])


def record_significant_moves(symbols: list[str], thresholds: MoveThresholds | None = None) -> int:
    """One event per client and move: the alert price becomes the next move's reference."""
    if not symbols:
        return 0
    thresholds = thresholds or MoveThresholds()
    securities = []
    for quote in graph_securities.tracked_moves(symbols, thresholds.smallest()):
        symbol = quote.symbol
        day = quote.as_of.date().isoformat()
        label = " (replayed prices)" if quote.source == "replay" else ""
        events = []
        for move in quote.moves:
            if abs(move["move"]) < thresholds.for_client(move["firm_id"], move["client_id"]):
                continue
            text = _move_text(symbol, quote.price, move) + f"{label}."
            events.append({
                "id": stable_id("market_move", move["client_node"], symbol, day),
                "client_node": move["client_node"], "firm_id": move["firm_id"], "client_id": move["client_id"],
                "text": text, "move_percent": round(move["move"], 2),
                "embedding_key": f"{symbol} {'up' if move['move'] > 0 else 'down'}",
            })
        if events:
            securities.append({"symbol": symbol, "price": quote.price, "as_of": quote.as_of,
                               "source": f"market:{quote.source}", "events": events})
    keys = {event["embedding_key"] for security in securities for event in security["events"]}
    if keys:
        graph_securities.record_move_events(securities, timezone.now(), _move_embeddings(keys),
                                            importance=MARKET_MOVE_IMPORTANCE)
    return sum(len(security["events"]) for security in securities)


def _move_text(symbol: str, price: float, move: dict) -> str:
    """What moved, from which reference: the price discussed, or the last alert's when there was one."""
    who = move["client_name"] or "the client"
    discussed = f"{who} discussed it at {move['discussed_price']:.2f} on {_long_date(move['discussed_on'])}"
    if move["alerted_price"] is None:
        return f"{symbol} moved {move['move']:+.1f}% since {discussed} (now {price:.2f})"
    since_discussed = 100.0 * (price - move["discussed_price"]) / move["discussed_price"]
    return (f"{symbol} moved {move['move']:+.1f}% since the last alert at {move['alerted_price']:.2f} "
            f"(now {price:.2f}); {since_discussed:+.1f}% since {discussed}")


@lru_cache(maxsize=4096)
def _long_date(iso_date: str) -> str:
    """'2024-03-03' -> '3 March 2024' (many moves share the day they were discussed)."""
    return f"{date.fromisoformat(iso_date):%-d %B %Y}"


def _move_embeddings(keys: set[str]) -> dict[str, list[float]]:
    """One vector per security and direction, embedded from words a question about it would use."""
    ordered = sorted(keys)
    texts = [f"{key.split()[0]} price moved sharply {key.split()[1]} since the client discussed it" for key in ordered]
    return dict(zip(ordered, embed_texts(texts), strict=True))
