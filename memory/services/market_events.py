"""Significant moves of remembered securities become memory events the twin and digests can use."""
from __future__ import annotations

from datetime import date
from functools import lru_cache

from django.conf import settings
from django.utils import timezone

from advisor.models import Client, Firm
from memory.embeddings import embed_texts
from memory.graph import securities as graph_securities
from memory.ids import stable_id


def _thresholds() -> tuple[dict[tuple[str, str], float], dict[str, float]]:
    clients = {(c.firm.slug, c.external_id): c.significant_move_percent
               for c in Client.objects.filter(significant_move_percent__isnull=False).select_related("firm")}
    firms = dict(Firm.objects.filter(significant_move_percent__isnull=False).values_list("slug", "significant_move_percent"))
    return clients, firms


def record_significant_moves(symbols: list[str]) -> int:
    """One event per client and move: the alert price becomes the next move's reference."""
    if not symbols:
        return 0
    client_thresholds, firm_thresholds = _thresholds()
    floor = min([settings.SIGNIFICANT_MOVE_PERCENT, *client_thresholds.values(), *firm_thresholds.values()])
    securities = []
    for quote in graph_securities.tracked_moves(symbols, floor):
        symbol = quote["symbol"]
        as_of = quote["as_of"].to_native()
        day = as_of.date().isoformat()
        label = " (replayed prices)" if quote["source"] == "replay" else ""
        events = []
        for move in quote["moves"]:
            threshold = client_thresholds.get((move["firm_id"], move["client_id"]),
                                              firm_thresholds.get(move["firm_id"], settings.SIGNIFICANT_MOVE_PERCENT))
            if abs(move["move"]) < threshold:
                continue
            text = _move_text(symbol, quote["price"], move) + f"{label}."
            events.append({
                "id": stable_id("market_move", move["client_node"], symbol, day),
                "client_node": move["client_node"], "firm_id": move["firm_id"], "client_id": move["client_id"],
                "text": text, "move_percent": round(move["move"], 2),
                "embedding_key": f"{symbol} {'up' if move['move'] > 0 else 'down'}",
            })
        if events:
            securities.append({"symbol": symbol, "price": quote["price"], "as_of": as_of,
                               "source": f"market:{quote['source']}", "events": events})
    keys = {event["embedding_key"] for security in securities for event in security["events"]}
    if keys:
        graph_securities.record_move_events(securities, timezone.now(), _move_embeddings(keys))
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
