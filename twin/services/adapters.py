"""The two outside services the twin leans on, behind one function each.

`memory.extraction.securities.security_info` (the securities master) and
`marketdata.services.risk.portfolio_risk` are delivered on another branch; until they are merged the
functions below read the same real sources themselves (pytickersymbols, our price history), with the
same return shapes, so only this module changes at the merge.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SecurityInfo:
    symbol: str
    name: str
    industries: tuple[str, ...]
    sector: str | None
    isin: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class RiskFigures:
    volatility: float | None  # annualised, 0.23 = 23%
    max_drawdown: float | None  # -0.31 = a 31% fall from a peak
    benchmark_volatility: float | None
    benchmark_symbol: str
    days: int
    missing: list[str] = field(default_factory=list)
    source: str = "price history"


def security_info(symbol: str) -> SecurityInfo | None:
    """Name, industries and sector of a listed security, from the securities master."""
    try:
        from memory.extraction.securities import security_info as master_info
    except ImportError:
        return _pytickersymbols_info(symbol.upper())
    return master_info(symbol)


def portfolio_risk(*, weights: dict[str, float], as_of: date, window_days: int = 252) -> RiskFigures:
    """Realised volatility and drawdown of a weighted portfolio over the window before `as_of`."""
    try:
        from marketdata.services.risk import portfolio_risk as market_risk
    except ImportError:
        return _risk_from_history(weights=weights, as_of=as_of, window_days=window_days)
    return market_risk(weights=weights, as_of=as_of, window_days=window_days)


@lru_cache(maxsize=1)
def _pytickersymbols_table() -> dict[str, dict]:
    from pytickersymbols import PyTickerSymbols

    table: dict[str, dict] = {}
    for stock in PyTickerSymbols().get_all_stocks():
        for listing in stock.get("symbols", []):
            ticker = (listing.get("yahoo") or "").upper()
            if ticker and "." not in ticker:
                table.setdefault(ticker, stock)
    return table


def _pytickersymbols_info(symbol: str) -> SecurityInfo | None:
    from memory.extraction.securities import sector_of

    stock = _pytickersymbols_table().get(symbol)
    if stock is None:
        return None
    isins = stock.get("isins") or []
    return SecurityInfo(symbol=symbol, name=stock.get("name") or symbol,
                        industries=tuple(stock.get("industries") or ()), sector=sector_of(symbol),
                        isin=isins[0] if isins else None)


def _risk_from_history(*, weights: dict[str, float], as_of: date, window_days: int) -> RiskFigures:
    from marketdata.services.history import price_history

    closes: dict[str, pd.Series] = {}
    missing: list[str] = []
    for symbol in weights:
        frame = price_history(symbol, as_of, days=int(window_days * 365 / 252) + 7)
        if len(frame) < 20:
            missing.append(symbol)
            continue
        closes[symbol] = frame.set_index("date")["close"].astype(float)
    if not closes:
        return RiskFigures(None, None, None, "", 0, missing)
    prices = pd.DataFrame(closes).sort_index().ffill().dropna().tail(window_days + 1)
    total = sum(weights[s] for s in closes)
    returns = prices.pct_change().dropna()
    portfolio = returns.mul(pd.Series({s: weights[s] / total for s in closes})).sum(axis=1)
    growth = (1 + portfolio).cumprod()
    drawdown = float((growth / growth.cummax() - 1).min()) if len(growth) else None
    volatility = float(portfolio.std(ddof=1) * np.sqrt(252)) if len(portfolio) > 1 else None
    return RiskFigures(volatility, drawdown, None, "", len(portfolio), missing)
