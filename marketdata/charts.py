"""Plotly charts of price history with the moments a client talked about the security."""
from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from django.conf import settings

from marketdata.services.drift import PriceDrift
from marketdata.services.history import price_history


def price_history_figure(symbol: str, history: pd.DataFrame, mentions: list[PriceDrift], *, through: date
                         ) -> go.Figure:
    """Close prices up to `through` (today), plus each remembered mention: a marker at its date when the
    chart's period covers it, otherwise (replayed history from another era) a dashed line at the price
    that was discussed.

    The period runs from the first bar to `through`, not to the last bar: a day without a bar of its own
    (a weekend, a market holiday, today before its first quote, or a replayed day that was one of these)
    still has its mentions marked, with their words on hover.
    """
    replayed = not history.empty and (history["source"] == "replay").any()
    # Plotly reads labels as a little HTML (<b>, <a href>) and decodes entities: what people said, and
    # a symbol from the URL, are escaped so that they show as typed.
    symbol = escape(symbol, quote=False)
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=history["date"], y=history["close"], mode="lines", name=f"{symbol} close"))
    start = history["date"].min() if not history.empty else None
    inside = [m for m in mentions if start is not None and start <= _day(m.mentioned_at) <= through]
    if inside:
        figure.add_trace(go.Scatter(
            x=[_day(m.mentioned_at) for m in inside], y=[m.price for m in inside], mode="markers",
            marker={"size": 11, "symbol": "diamond", "color": "#d9480f"}, name="discussed with client",
            text=[escape(m.text, quote=False) for m in inside], hovertemplate="%{text}<extra></extra>",
        ))
    for mention in (m for m in mentions if m not in inside):
        figure.add_hline(y=mention.price, line_dash="dash", line_color="#d9480f",
                         annotation_text=f"discussed at {mention.price:.2f} on {_day(mention.mentioned_at):%-d %b %Y}")
    title = f"{symbol} close" + (" (replayed prices)" if replayed else "")
    figure.update_layout(title=title, margin={"l": 40, "r": 20, "t": 50, "b": 40}, height=420,
                         legend={"orientation": "h", "y": -0.15})
    return figure


def mentions_chart(symbol: str, mentions: list[PriceDrift], today: date) -> str:
    """The chart of a security as discussed with one client: history reaching back past the first
    mention (a year at least, within the history we keep), with every mention marked."""
    earliest = min((_day(m.mentioned_at) for m in mentions), default=today)
    days = max(365, min((today - earliest).days + 30, settings.PRICE_HISTORY_MAX_DAYS))
    return render_chart_div(price_history_figure(symbol, price_history(symbol, end=today, days=days), mentions,
                                                   through=today))


def render_chart_div(figure: go.Figure) -> str:
    """An HTML fragment; the page loads plotly.js from our own server (no CDN)."""
    return figure.to_html(full_html=False, include_plotlyjs=False, config={"responsive": True})


def _day(value: Any) -> date:
    return value.date() if hasattr(value, "date") else value
