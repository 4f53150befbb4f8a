"""Realised risk of a weighted portfolio from our price history: volatility and maximum drawdown.

The twin compares these with a client's stated risk tolerance, so they are plain, reproducible
numbers: daily simple returns of the closes, the portfolio rebalanced to its weights every day,
volatility the sample standard deviation of those returns times sqrt(252), maximum drawdown the
deepest fall of the portfolio's value from its running peak (its start included). The benchmark
(the S&P 500 index) gets the same volatility, from its own closes over the same days.

`window_days` counts trading days (return observations), as sqrt(252) does. The closes come from
`price_history` (the replay offline, which the README documents, or yfinance), which backfills from
the provider what it does not hold yet.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from marketdata.providers.replay import BENCHMARK_SYMBOL
from marketdata.services.history import price_history

TRADING_DAYS_PER_YEAR = 252
# A symbol whose last close is more than this before the window's last trading day has no history
# for the window (a week covers holidays, as in price_history).
COVERAGE_SLACK = timedelta(days=7)


class RiskInputError(ValueError):
    """Weights or window that cannot describe a portfolio."""


@dataclass(frozen=True)
class RiskFigures:
    volatility: float | None  # annualised, 0.23 = 23%
    max_drawdown: float | None  # -0.31 = a 31% fall from a peak; 0.0 when it never fell
    benchmark_volatility: float | None
    benchmark_symbol: str
    days: int  # daily returns the portfolio figures rest on
    missing: list[str] = field(default_factory=list)  # no history over the window: left out, weights renormalised
    source: str = ""  # where the closes came from: "replay", "yfinance" (joined with "+" if mixed), "" if none


def portfolio_risk(*, weights: dict[str, float], as_of: date, window_days: int = TRADING_DAYS_PER_YEAR,
                   benchmark: str = BENCHMARK_SYMBOL) -> RiskFigures:
    """Realised volatility and maximum drawdown of `weights` over the `window_days` trading days to `as_of`."""
    _check(weights, window_days)
    calendar_days = math.ceil(window_days * 365 / TRADING_DAYS_PER_YEAR) + COVERAGE_SLACK.days
    histories = {symbol: _closes(price_history(symbol, as_of, days=calendar_days))
                 for symbol, weight in weights.items() if weight}
    trading_days = sorted(set().union(*(series.index for series, _ in histories.values())))[-(window_days + 1):]
    covered = {symbol: series for symbol, (series, _) in histories.items() if _covers(series, trading_days)}
    closes = pd.DataFrame(covered).reindex(trading_days).dropna()
    volatility, max_drawdown, days = risk_from_closes(closes, {symbol: weights[symbol] for symbol in covered})
    bench, bench_sources = _closes(price_history(benchmark, as_of, days=calendar_days))
    if trading_days:
        bench = bench[bench.index >= trading_days[0]]
    sources = set(bench_sources).union(*(histories[symbol][1] for symbol in covered))
    return RiskFigures(volatility, max_drawdown, _annualised(bench.tail(window_days + 1).pct_change().dropna()),
                       benchmark, days, sorted(set(histories) - set(covered)), "+".join(sorted(sources)))


def risk_from_closes(closes: pd.DataFrame, weights: dict[str, float]) -> tuple[float | None, float | None, int]:
    """(annualised volatility, maximum drawdown, return days) of daily closes, one column per symbol."""
    if closes.empty or not weights:
        return None, None, 0
    normalised = pd.Series(weights, dtype=float) / sum(weights.values())
    returns = (closes[list(normalised.index)].pct_change().dropna() * normalised).sum(axis=1)
    if returns.empty:
        return None, None, 0
    value = pd.concat([pd.Series([1.0]), (1 + returns).cumprod()], ignore_index=True)
    max_drawdown = float((value / value.cummax() - 1).min())
    return _annualised(returns), max_drawdown, len(returns)


def _annualised(returns: pd.Series) -> float | None:
    if len(returns) < 2:
        return None  # one return has no spread
    return float(returns.std(ddof=1) * math.sqrt(TRADING_DAYS_PER_YEAR))


def _closes(frame: pd.DataFrame) -> tuple[pd.Series, set[str]]:
    """(closes by date, their sources) of a price_history frame."""
    series = pd.Series(frame["close"].astype(float).to_numpy(), index=list(frame["date"]), dtype=float)
    return series.sort_index(), set(frame["source"])


def _covers(closes: pd.Series, trading_days: list[date]) -> bool:
    """History over the whole window: a partial one would shorten every other symbol's window too."""
    if closes.empty or not trading_days:
        return False
    return closes.index.min() <= trading_days[0] and closes.index.max() >= trading_days[-1] - COVERAGE_SLACK


def _check(weights: dict[str, float], window_days: int) -> None:
    if window_days < 2:
        raise RiskInputError(f"window_days must be at least 2 trading days (got {window_days}): "
                             "volatility needs two daily returns")
    negative = sorted(symbol for symbol, weight in weights.items() if weight < 0)
    if negative:
        raise RiskInputError(f"weights must not be negative (short positions are not modelled): {', '.join(negative)}")
    if not any(weights.values()):
        raise RiskInputError("weights must include at least one security with a positive weight")
