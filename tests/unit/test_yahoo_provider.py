"""The live yfinance provider against a frame in the shape `yf.download(group_by="ticker")` returns."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from yfinance.exceptions import YFRateLimitError

from marketdata.providers.base import ProviderUnavailable
from marketdata.providers.yahoo import YahooProvider

RECORDED = Path(__file__).resolve().parent.parent / "fixtures" / "yfinance" / "download_AAPL_MSFT_IBM_5d.csv"


def recorded_frame() -> pd.DataFrame:
    frame = pd.read_csv(RECORDED, header=[0, 1], index_col=0)
    frame.index = pd.to_datetime(frame.index, utc=True)
    return frame


class ScriptedDownload:
    """Plays back a scripted sequence of answers (frames or exceptions) for `yf.download`."""

    def __init__(self, *answers) -> None:
        self.answers, self.calls = list(answers), []

    def __call__(self, symbols, **kwargs):
        self.calls.append((list(symbols), kwargs))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_batch_download_gives_each_symbols_last_close():
    download = ScriptedDownload(recorded_frame())

    batch = YahooProvider(download=download, sleep=lambda s: None).latest_quotes(["AAPL", "MSFT", "IBM"])

    assert {s: q.price for s, q in batch.quotes.items()} == {"AAPL": 170.73, "MSFT": 406.22, "IBM": 195.95}
    assert batch.quotes["AAPL"].as_of.isoformat() == "2024-03-08T05:00:00+00:00"
    assert download.calls[0][1]["group_by"] == "ticker" and download.calls[0][1]["threads"] is False


def test_symbol_missing_from_the_frame_is_unknown_not_a_price():
    frame = recorded_frame()
    frame[("IBM", "Close")] = float("nan")

    batch = YahooProvider(download=ScriptedDownload(frame), sleep=lambda s: None).latest_quotes(["AAPL", "IBM", "NOPE"])

    assert set(batch.quotes) == {"AAPL"}
    assert batch.unknown == ["IBM", "NOPE"]


def test_rate_limit_is_retried_with_backoff_then_succeeds():
    sleeps = []
    download = ScriptedDownload(YFRateLimitError(), recorded_frame())

    batch = YahooProvider(download=download, sleep=sleeps.append, base_delay=1.0).latest_quotes(["AAPL"])

    assert batch.quotes["AAPL"].price == 170.73
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 2.0


def test_persistent_rate_limit_becomes_provider_unavailable():
    sleeps = []
    download = ScriptedDownload(*[YFRateLimitError() for _ in range(3)])

    with pytest.raises(ProviderUnavailable, match="after 3 attempts: YFRateLimitError"):
        YahooProvider(download=download, sleep=sleeps.append, attempts=3).latest_quotes(["AAPL"])
    assert len(sleeps) == 2 and sleeps[1] >= 2.0


def test_timeout_is_transient_and_empty_frame_is_a_failure_not_zero():
    download = ScriptedDownload(TimeoutError("read timed out"), pd.DataFrame())

    with pytest.raises(ProviderUnavailable, match="no data at all"):
        YahooProvider(download=download, sleep=lambda s: None).latest_quotes(["AAPL", "MSFT"])
