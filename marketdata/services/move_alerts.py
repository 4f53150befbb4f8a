"""Market moves joined to remembered prices: a significant move since a client discussed a security
becomes a memory in that client's memory, which the twin and digests cite.

A move is a fact about a security on a day: it is written once per security and trading day, shared
by every client who saw it, and each client's link to it carries their own sentence, reference price
and drift (memory/graph/securities.py `record_move_events`), so a cycle's cost grows with securities.

The rules, named here (docs/architecture.md, "a quote's way"): a move is measured from the price the
client discussed, or from the last alert's price once an alert was raised after that discussion
(`memory.graph.securities.tracked_moves` applies that reference inside its query, so an all-moved
cycle reads only the pairs that moved); it is significant at the client's threshold, else the
firm's, else `SIGNIFICANT_MOVE_PERCENT`; each shared event has importance MARKET_MOVE_IMPORTANCE.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from django.conf import settings
from django.utils import timezone

from marketdata.services.drift import drift_percent
from memory.embeddings import embed_texts
from memory.graph import securities as graph_securities
from memory.scope import market_scope

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
    """One shared event per security and day, one link per client who saw the move (their words, their
    drift); the alert price becomes the next move's reference. Returns the clients' moves recorded."""
    if not symbols:
        return 0
    thresholds = thresholds or MoveThresholds()
    securities = []
    for quote in graph_securities.tracked_moves(symbols, thresholds.smallest()):
        symbol = quote.symbol
        day = quote.as_of.date().isoformat()
        label = " (replayed prices)" if quote.source == "replay" else ""
        links = []
        for move in quote.moves:
            threshold = thresholds.for_client(move["firm_id"], move["client_id"])
            if abs(move["move"]) < threshold:
                continue
            links.append({
                "client_node": move["client_node"], "text": _move_text(symbol, quote.price, move) + f"{label}.",
                "discussed_price": move["discussed_price"], "discussed_on": move["discussed_on"],
                "alerted_price": move["alerted_price"], "move_percent": round(move["move"], 2),
                "drift_percent": round(drift_percent(move["discussed_price"], quote.price), 2),
                "threshold_percent": threshold,
            })
        if links:
            securities.append({"symbol": symbol, "price": quote.price, "as_of": quote.as_of,
                               "source": f"market:{quote.source}", "day": day,
                               "event_id": graph_securities.move_event_id(symbol, day),
                               "text": f"{symbol} moved significantly for clients who discussed it: "
                                       f"{quote.price:.2f} on {_long_date(day)}{label}.",
                               "links": links})
    if securities:
        embeddings = _move_embeddings({security["symbol"] for security in securities})
        for security in securities:
            security["embedding"] = embeddings[security["symbol"]]
        graph_securities.record_move_events(securities, timezone.now(), importance=MARKET_MOVE_IMPORTANCE,
                                            scope=market_scope())
    return sum(len(security["links"]) for security in securities)


def _move_text(symbol: str, price: float, move: dict) -> str:
    """What moved, from which reference: the price discussed, or the last alert's when there was one."""
    who = move["client_name"] or "the client"
    discussed = f"{who} discussed it at {move['discussed_price']:.2f} on {_long_date(move['discussed_on'])}"
    if move["alerted_price"] is None:
        return f"{symbol} moved {move['move']:+.1f}% since {discussed} (now {price:.2f})"
    since_discussed = drift_percent(move["discussed_price"], price)
    return (f"{symbol} moved {move['move']:+.1f}% since the last alert at {move['alerted_price']:.2f} "
            f"(now {price:.2f}); {since_discussed:+.1f}% since {discussed}")


@lru_cache(maxsize=4096)
def _long_date(iso_date: str) -> str:
    """'2024-03-03' -> '3 March 2024' (many moves share the day they were discussed)."""
    return f"{date.fromisoformat(iso_date):%-d %B %Y}"


def _move_embeddings(symbols: set[str]) -> dict[str, list[float]]:
    """One vector per security that moved, embedded once from words a question about it would use (its
    clients' moves may differ in direction: each measures from their own reference)."""
    ordered = sorted(symbols)
    texts = [f"{symbol} price moved sharply since the client discussed it" for symbol in ordered]
    return dict(zip(ordered, embed_texts(texts), strict=True))
