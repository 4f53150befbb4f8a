"""The live yfinance provider, run through yfinance's real code against recorded Yahoo responses.

Nothing in yfinance is replaced: `yf.Ticker(...).history()` does its own cookie and crumb fetching,
time zone lookup, chart request and parsing. The one stand-in is the HTTP session: a real
curl_cffi Session whose `request` answers from the files in tests/fixtures/yfinance/ instead of
the network. The timeout test goes one step further and lets real libcurl time out against a
local socket that never answers.
"""
from __future__ import annotations

import http.cookiejar
import json
import socket
import time
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import yfinance.base
from curl_cffi import requests as curl_requests
from yfinance import cache as yf_cache
from yfinance.data import SingletonMeta, YfData

from marketdata.providers.base import ProviderUnavailable
from marketdata.providers.yahoo import YahooProvider

RECORDED = Path(__file__).resolve().parent.parent / "fixtures" / "yfinance"
JSON = "application/json;charset=utf-8"
REASONS = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}


class UnrecordedRequest(AssertionError):
    """yfinance asked for something the fixtures do not hold."""


class RecordedYahoo(curl_requests.Session):
    """A curl_cffi Session that answers Yahoo's endpoints from recorded responses, never the network.

    `rate_limited` answers every finance.yahoo.com request with 429 while set, and
    `rate_limit_after_prices` sets it once that many price charts have been answered. `hang_price_requests`
    sends the price request (the 5-day or date-range chart, not the 1-day time zone lookup) through
    real curl to a local socket that never answers, so curl's own timeout fires.
    """

    def __init__(self, silent_port: int) -> None:
        super().__init__()
        self.calls: list[dict] = []
        self.unrecorded: list[str] = []
        self.rate_limited = False
        self.hang_price_requests = False
        self.rate_limit_after_prices: int | None = None
        self.edited: dict[str, bytes] = {}  # recording name -> body a test changed
        self._silent_port = silent_port

    def request(self, method: str, url: str, params: dict | None = None, timeout: float | None = None,
                **kwargs: object) -> curl_requests.Response:
        parts = urlsplit(url)
        params = dict(params or {})
        self.calls.append({"host": parts.hostname, "path": parts.path, "params": params, "timeout": timeout})
        full_url = f"{url}?{urlencode(params)}" if params else url
        if self.rate_limited and parts.hostname.endswith("finance.yahoo.com"):
            return _response(full_url, 429, (RECORDED / "too_many_requests.429.txt").read_bytes(), "text/plain")
        if parts.hostname == "fc.yahoo.com":  # only there to set Yahoo's A3 cookie; the page itself is a 404
            self.cookies.jar.set_cookie(_a3_cookie())
            return _response(full_url, 404, b"<!doctype html><html><body>404 Not Found</body></html>", "text/html")
        if parts.path == "/v1/test/getcrumb":
            return _response(full_url, 200, (RECORDED / "getcrumb.txt").read_bytes(), "text/plain;charset=utf-8")
        if parts.hostname == "guce.yahoo.com":  # consent page; outside the EU there is no form on it
            return _response(full_url, 200, b"<!doctype html><html><body>Yahoo</body></html>", "text/html")
        if parts.path.startswith("/v8/finance/chart/"):
            return self._chart(method, full_url, parts.path.rsplit("/", 1)[1], params, timeout)
        if parts.path == "/v10/finance/quoteSummary/NOPE":
            return _response(full_url, 404, (RECORDED / "quoteSummary_NOPE.404.json").read_bytes(), JSON)
        self.unrecorded.append(full_url)
        raise UnrecordedRequest(f"no recorded response for {method} {full_url}")

    def recorded(self, name: str) -> bytes:
        return self.edited.get(name) or (RECORDED / name).read_bytes()

    def _chart(self, method: str, url: str, symbol: str, params: dict, timeout: float | None) -> curl_requests.Response:
        if "range" in params:
            span = f"range={params['range']}"
        else:
            span = "_to_".join(datetime.fromtimestamp(params[k], timezone.utc).date().isoformat()
                               for k in ("period1", "period2"))
        if self.hang_price_requests and span != "range=1d":
            return super().request(method, f"http://127.0.0.1:{self._silent_port}/", timeout=timeout)
        name = f"chart_{symbol}_{span}.json"
        if name in self.edited or (RECORDED / name).exists():
            if span != "range=1d" and self.rate_limit_after_prices is not None:
                self.rate_limit_after_prices -= 1
                self.rate_limited = self.rate_limit_after_prices <= 0
            return _response(url, 200, self.recorded(name), JSON)
        return _response(url, 404, (RECORDED / "chart_not_found.404.json").read_bytes(), JSON)

    def chart_calls(self, span: str = "range") -> list[tuple[str, dict]]:
        """(symbol, params) of the price requests: `range` ones, or `period1` ones for date ranges."""
        return [(c["path"].rsplit("/", 1)[1], c["params"]) for c in self.calls
                if c["path"].startswith("/v8/finance/chart/") and span in c["params"]
                and c["params"].get("range") != "1d"]


def _response(url: str, status: int, body: bytes, content_type: str) -> curl_requests.Response:
    response = curl_requests.Response()
    response.url, response.status_code, response.reason = url, status, REASONS[status]
    response.ok = status < 400
    response.headers["Content-Type"] = content_type
    response.content = body
    return response


def _a3_cookie() -> http.cookiejar.Cookie:
    return http.cookiejar.Cookie(
        version=0, name="A3", value="d=AQABBLx5l2UCEJ7s&S=AQAAAk9rVQ", port=None, port_specified=False,
        domain=".yahoo.com", domain_specified=True, domain_initial_dot=True, path="/", path_specified=True,
        secure=True, expires=int(time.time()) + 365 * 86400, discard=False, comment=None, comment_url=None,
        rest={"SameSite": "None"},
    )


@pytest.fixture
def yahoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordedYahoo]:
    """Recorded Yahoo, and yfinance's process-wide state started afresh so tests cannot leak into each other.

    yfinance keeps a singleton holding the session, cookie and crumb; sqlite caches of time zones
    and cookies under the user's cache dir; and a counter of `info` fallbacks for symbols without a
    time zone. All of it is reset here, and the caches live in tmp_path.
    """
    previous_location = yf_cache._TzDBManager.get_location()
    yf_cache.set_cache_location(str(tmp_path))
    for manager, attribute in ((yf_cache._TzCacheManager, "_tz_cache"), (yf_cache._CookieCacheManager, "_Cookie_cache"),
                               (yf_cache._ISINCacheManager, "_isin_cache")):
        monkeypatch.setattr(manager, attribute, None)
    monkeypatch.delitem(SingletonMeta._instances, YfData, raising=False)
    monkeypatch.setattr(yfinance.base, "_tz_info_fetch_ctr", 0)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never answers
        session = RecordedYahoo(silent_port=silent.getsockname()[1])
        yield session
        session.close()
    yf_cache.set_cache_location(previous_location)
    assert session.unrecorded == []


def provider(yahoo: RecordedYahoo, **options) -> YahooProvider:
    return YahooProvider(session=yahoo, **{"sleep": lambda seconds: None, **options})


def test_batched_quotes_are_each_symbols_last_close_from_the_chart_api(yahoo):
    batch = provider(yahoo, timeout=7.5).latest_quotes(["AAPL", "MSFT", "IBM"])

    assert {s: q.price for s, q in batch.quotes.items()} == {"AAPL": 170.73, "MSFT": 406.22, "IBM": 195.95}
    assert (batch.unknown, batch.errors) == ([], {})
    aapl = batch.quotes["AAPL"]
    assert (aapl.currency, aapl.source, aapl.market_date) == ("USD", "yfinance", date(2024, 3, 8))
    # Yahoo's regularMarketTime of the last trade, 16:00:01 in New York.
    assert aapl.as_of == datetime(2024, 3, 8, 21, 0, 1, tzinfo=timezone.utc)
    assert [(symbol, params["range"], params["interval"]) for symbol, params in yahoo.chart_calls()] == [
        ("AAPL", "5d", "1d"), ("MSFT", "5d", "1d"), ("IBM", "5d", "1d")]
    assert {c["timeout"] for c in yahoo.calls if c["params"].get("range") == "5d"} == {7.5}


@pytest.mark.parametrize("info_fallbacks_used", [0, 2], ids=["404-from-info-fallback", "YFPricesMissingError"])
def test_unknown_symbol_is_reported_unknown_and_the_batch_goes_on(yahoo, monkeypatch, info_fallbacks_used):
    # yfinance looks a symbol with no time zone up in `info` (a 404 for NOPE) for the first two such
    # symbols in a process; later ones reach the chart request and fail with "possibly delisted".
    monkeypatch.setattr(yfinance.base, "_tz_info_fetch_ctr", info_fallbacks_used)

    batch = provider(yahoo).latest_quotes(["AAPL", "NOPE", "IBM"])

    assert batch.unknown == ["NOPE"]
    assert {s: q.price for s, q in batch.quotes.items()} == {"AAPL": 170.73, "IBM": 195.95}
    assert batch.errors == {}


def test_rate_limit_is_retried_after_backoff_then_quotes(yahoo):
    yahoo.rate_limited = True
    sleeps: list[float] = []

    def wait(seconds: float) -> None:
        sleeps.append(seconds)
        yahoo.rate_limited = False  # Yahoo lets us back in after the wait

    batch = YahooProvider(session=yahoo, sleep=wait, base_delay=1.0).latest_quotes(["AAPL", "MSFT"])

    assert {s: q.price for s, q in batch.quotes.items()} == {"AAPL": 170.73, "MSFT": 406.22}
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 2.0
    assert (batch.unknown, batch.errors) == ([], {})


def test_persistent_rate_limit_ends_as_provider_unavailable(yahoo):
    yahoo.rate_limited = True
    sleeps: list[float] = []

    with pytest.raises(ProviderUnavailable, match="after 3 attempts: YFRateLimitError: Too Many Requests"):
        YahooProvider(session=yahoo, sleep=sleeps.append, attempts=3).latest_quotes(["AAPL", "MSFT"])
    assert len(sleeps) == 2 and 1.0 <= sleeps[0] <= 2.0 and 2.0 <= sleeps[1] <= 4.0
    assert not [c for c in yahoo.calls if c["path"].endswith("/MSFT")]  # the batch stopped: no request for MSFT


def test_rate_limit_midway_keeps_the_quotes_already_fetched_and_stops_the_batch(yahoo):
    yahoo.rate_limit_after_prices = 1  # AAPL is answered, then Yahoo throttles and does not let up

    batch = provider(yahoo, attempts=2).latest_quotes(["AAPL", "MSFT", "IBM"])

    assert {s: q.price for s, q in batch.quotes.items()} == {"AAPL": 170.73}
    assert batch.errors == dict.fromkeys(["MSFT", "IBM"], "yfinance is unavailable after 2 attempts: "
                                         "YFRateLimitError: Too Many Requests. Rate limited. Try after a while.")
    assert not [c for c in yahoo.calls if c["path"].endswith("/IBM")]  # no request sent for IBM


def test_bar_without_prices_is_skipped_and_the_last_real_close_is_the_quote(yahoo):
    # Before Monday's open Yahoo already lists Monday's bar, with nulls in it.
    body = json.loads(yahoo.recorded("chart_AAPL_range=5d.json"))
    result = body["chart"]["result"][0]
    result["timestamp"].append(1710163800)  # 11 Mar 2024 09:30 in New York
    for series in [*result["indicators"]["quote"][0].values(), result["indicators"]["adjclose"][0]["adjclose"]]:
        series.append(None)
    yahoo.edited["chart_AAPL_range=5d.json"] = json.dumps(body).encode()

    batch = provider(yahoo).latest_quotes(["AAPL"])

    assert (batch.quotes["AAPL"].price, batch.quotes["AAPL"].market_date) == (170.73, date(2024, 3, 8))


def test_symbol_without_any_close_is_an_error_not_unknown_and_not_a_price(yahoo):
    body = json.loads(yahoo.recorded("chart_IBM_range=5d.json"))  # as Yahoo answers for a suspended stock
    quote = body["chart"]["result"][0]["indicators"]["quote"][0]
    for series in [*quote.values(), body["chart"]["result"][0]["indicators"]["adjclose"][0]["adjclose"]]:
        series[:] = [None] * len(series)
    yahoo.edited["chart_IBM_range=5d.json"] = json.dumps(body).encode()

    batch = provider(yahoo).latest_quotes(["AAPL", "IBM"])

    assert set(batch.quotes) == {"AAPL"} and batch.unknown == []
    assert batch.errors == {"IBM": "Yahoo returned no close for IBM in the last 5 days"}


def test_chart_request_timeout_ends_as_provider_unavailable(yahoo):
    yahoo.hang_price_requests = True
    started = time.monotonic()

    with pytest.raises(ProviderUnavailable, match=r"after 2 attempts: Timeout: .*curl: \(28\) Operation timed out"):
        provider(yahoo, attempts=2, timeout=0.2).latest_quotes(["AAPL"])

    # curl gave up after the provider's 0.2 s, not yfinance's default of 10 s.
    assert time.monotonic() - started < 3
    assert [params["range"] for _, params in yahoo.chart_calls()] == ["5d", "5d"]


def test_daily_history_includes_the_end_day(yahoo):
    history = provider(yahoo).daily_history("AAPL", date(2024, 3, 4), date(2024, 3, 8))

    assert list(history.columns) == ["open", "high", "low", "close", "volume"]
    assert list(history.index) == [date(2024, 3, d) for d in (4, 5, 6, 7, 8)]
    assert history["close"].round(2).tolist() == [175.10, 170.12, 169.12, 169.00, 170.73]
    assert history.loc[date(2024, 3, 8), "volume"] == 76114600
    # yfinance's `end` is exclusive: asking it for 9 March is what brings 8 March in.
    [(_, params)] = yahoo.chart_calls("period1")
    assert (params["period1"], params["period2"]) == (1709528400, 1709960400)  # midnight in New York


def test_daily_history_of_unknown_symbol_is_empty(yahoo):
    history = provider(yahoo).daily_history("NOPE", date(2024, 3, 4), date(2024, 3, 8))

    assert history.empty and list(history.columns) == ["open", "high", "low", "close", "volume"]
