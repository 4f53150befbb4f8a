"""How remembered prices read today: "182.10 when discussed on 3 March 2024, now 207.45 (+13.9%)"."""
from __future__ import annotations

from typing import Any

from memory.graph import securities as graph_securities
from memory.scope import Reader


def describe(row: dict[str, Any]) -> str:
    said = row["mentioned_at"].to_native() if hasattr(row["mentioned_at"], "to_native") else row["mentioned_at"]
    text = f"{row['price']:.2f} when discussed on {said:%-d %B %Y}"
    if row["current_price"] is None:
        return text + ", no quote yet"
    text += f", now {row['current_price']:.2f} ({row['drift_pct']:+.1f}%)"
    if row["source"] == "replay":
        text += " [replayed prices]"
    if row["status"] == "stale":
        checked = row["checked_at"].to_native() if hasattr(row["checked_at"], "to_native") else row["checked_at"]
        text += f"; STALE since {checked:%-d %b %H:%M}: {row['error']}"
    elif row["status"] == "unknown":
        text += "; the provider does not know this symbol"
    return text


def remembered_prices_for(reader: Reader, symbol: str | None = None) -> list[dict[str, Any]]:
    rows = graph_securities.remembered_prices(reader.scopes, symbol)
    for row in rows:
        row["summary"] = describe(row)
    return rows
