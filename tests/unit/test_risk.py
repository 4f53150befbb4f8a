"""Realised portfolio risk: hand-computed on tiny price series, and plausible on the replayed market."""
from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from marketdata.models import PriceBar
from marketdata.providers.replay import BENCHMARK_SYMBOL, SKFOLIO_FILES, ReplayProvider, _skfolio_closes
from marketdata.services.risk import RiskFigures, RiskInputError, portfolio_risk

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 3, 4)  # a Wednesday; the bars below sit on Monday to Wednesday


def bars(symbol: str, closes: list[float], source: str = "fixed") -> None:
    start = AS_OF - timedelta(days=len(closes) - 1)
    PriceBar.objects.bulk_create([PriceBar(symbol=symbol, date=start + timedelta(days=i), close=close, source=source)
                                  for i, close in enumerate(closes)])


def test_volatility_and_drawdown_of_a_three_day_portfolio_match_the_hand_computation():
    bars("AAA", [100, 110, 99])
    bars("BBB", [50, 50, 55])
    bars("IDX", [1000, 1010, 1000])

    figures = portfolio_risk(weights={"AAA": 0.6, "BBB": 0.4}, as_of=AS_OF, window_days=2, benchmark="IDX")

    # AAA returns +0.10, -0.10; BBB 0.00, +0.10. Portfolio: 0.6*0.10 + 0.4*0 = 0.06, then
    # 0.6*(-0.10) + 0.4*0.10 = -0.02. Mean 0.02, deviations +-0.04, sample variance 2 * 0.0016 / 1 = 0.0032,
    # annualised sqrt(0.0032 * 252) = sqrt(0.8064) = 0.89800.
    # Value 1 -> 1.06 -> 1.06 * 0.98 = 1.0388: the drawdown from the 1.06 peak is 1.0388 / 1.06 - 1 = -0.02.
    # Benchmark returns 0.01 and 1000/1010 - 1 = -1/101; mean m = (0.01 - 1/101) / 2;
    # deviations +-(0.01 + 1/101) / 2 = +-0.0099505, so sqrt(252 * 2 * 0.0099505^2) = 0.223388.
    assert figures.volatility == pytest.approx(0.898, abs=5e-4)
    assert figures.volatility == pytest.approx(math.sqrt(0.8064), rel=1e-9)
    assert figures.max_drawdown == pytest.approx(-0.02, rel=1e-9)
    m = (0.01 - 1 / 101) / 2
    assert figures.benchmark_volatility == pytest.approx(math.sqrt(252 * ((0.01 - m) ** 2 + (-1 / 101 - m) ** 2)))
    assert figures.benchmark_volatility == pytest.approx(0.223388, abs=1e-6)
    assert (figures.days, figures.missing, figures.benchmark_symbol, figures.source) == (2, [], "IDX", "fixed")


def test_a_symbol_without_history_is_listed_as_missing_and_the_other_weights_renormalised():
    bars("AAA", [100, 110, 99])
    bars("BBB", [50, 50, 55])

    figures = portfolio_risk(weights={"AAA": 0.3, "BBB": 0.2, "ZZZZ": 0.5}, as_of=AS_OF, window_days=2,
                             benchmark="NOIDX")

    # AAA 0.3 and BBB 0.2 of the 0.5 that has history: 0.6 and 0.4, the portfolio of the test above.
    assert figures.missing == ["ZZZZ"]
    assert figures.volatility == pytest.approx(math.sqrt(0.8064), rel=1e-9)
    assert figures.max_drawdown == pytest.approx(-0.02, rel=1e-9)
    assert figures.benchmark_volatility is None  # a benchmark without history


def test_max_drawdown_is_the_deepest_fall_from_a_running_peak():
    bars("AAA", [100, 120, 90, 108])

    figures = portfolio_risk(weights={"AAA": 1.0}, as_of=AS_OF, window_days=3)

    # Value 1.00 -> 1.20 -> 0.90 -> 1.08: from the 1.20 peak down to 0.90 is 0.90 / 1.20 - 1 = -0.25.
    assert figures.max_drawdown == pytest.approx(-0.25)
    # Returns +0.20, -0.25, +0.20: mean 0.05, deviations 0.15, -0.30, 0.15,
    # sample variance (0.0225 + 0.09 + 0.0225) / 2 = 0.0675, annualised sqrt(0.0675 * 252) = 4.12432.
    assert figures.volatility == pytest.approx(math.sqrt(0.0675 * 252))
    assert figures.days == 3


def test_the_window_counts_trading_days_back_from_as_of():
    bars("AAA", [100, 120, 90, 108])

    figures = portfolio_risk(weights={"AAA": 1.0}, as_of=AS_OF, window_days=2)

    # Only the last three closes: 120 -> 90 -> 108, returns -0.25 and +0.20.
    assert figures.days == 2
    assert figures.max_drawdown == pytest.approx(-0.25)
    assert figures.volatility == pytest.approx(math.sqrt(252 * 2 * 0.225 ** 2))


def test_with_no_history_at_all_the_figures_are_none_not_zero():
    figures = portfolio_risk(weights={"ZZZZ": 1.0}, as_of=AS_OF, window_days=2, benchmark="NOIDX")

    assert figures == RiskFigures(None, None, None, "NOIDX", 0, ["ZZZZ"], "")


@pytest.mark.parametrize(("weights", "window", "message"), [
    ({"AAA": -0.5, "BBB": 1.5}, 252, "must not be negative"),
    ({"AAA": 0.0}, 252, "at least one security"),
    ({}, 252, "at least one security"),
    ({"AAA": 1.0}, 1, "at least 2 trading days"),
])
def test_bad_weights_or_window_get_a_clear_error(weights, window, message):
    with pytest.raises(RiskInputError, match=message):
        portfolio_risk(weights=weights, as_of=AS_OF, window_days=window)


def test_on_the_replayed_market_the_figures_are_plausible_deterministic_and_agree_with_the_data():
    provider = ReplayProvider()  # the settings' replay, as price_history uses it
    as_of = date(2012, 6, 29) + provider.shift  # the calendar day that replays 29 June 2012

    first = portfolio_risk(weights={"AAPL": 0.5, "KO": 0.3, "XOM": 0.2}, as_of=as_of)
    again = portfolio_risk(weights={"AAPL": 0.5, "KO": 0.3, "XOM": 0.2}, as_of=as_of)

    assert first == again
    assert first.days == 252 and first.missing == [] and first.source == "replay"
    assert 0.10 < first.volatility < 0.35 and -0.30 < first.max_drawdown < -0.03
    # The benchmark straight from skfolio's file: the 253 closes up to 29 June 2012.
    index = _skfolio_closes(SKFOLIO_FILES[1])["SP500"]
    closes = index[index.index <= date(2012, 6, 29)].tail(253)
    expected = closes.pct_change().dropna().std() * math.sqrt(252)
    assert first.benchmark_volatility == pytest.approx(expected, rel=1e-9)
    assert 0.12 < first.benchmark_volatility < 0.30  # the S&P 500 from mid-2011 (the August fall) to mid-2012


def test_on_the_replayed_market_a_name_listed_inside_the_window_is_missing():
    as_of = date(2012, 6, 29) + ReplayProvider().shift  # FB listed on 18 May 2012, inside the year

    figures = portfolio_risk(weights={"FB": 0.5, "IBM": 0.5}, as_of=as_of)

    assert figures.missing == ["FB"] and figures.days == 252
    assert figures.volatility == pytest.approx(
        portfolio_risk(weights={"IBM": 1.0}, as_of=as_of).volatility, rel=1e-12)
    assert type(figures.volatility) is float and figures.benchmark_symbol == BENCHMARK_SYMBOL == "^GSPC"
