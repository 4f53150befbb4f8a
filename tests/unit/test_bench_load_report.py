"""The load report's split of each endpoint's time into the workers' own (gunicorn's access log) and the rest."""
from __future__ import annotations

from datetime import datetime, timezone

from tests.bench.load import ASK, CHAT_PAGE, PAGE, SAY, _percentile, served_times

WINDOW = {"since": datetime(2026, 11, 26, 11, 0, 0, 400_000, tzinfo=timezone.utc),
          "until": datetime(2026, 11, 26, 11, 1, 0, tzinfo=timezone.utc)}
AGENT = '"-" "python-requests/2.32.3"'


def line(at: str, request: str, status: int, ms: int) -> str:
    return f'127.0.0.1 - - [26/Nov/2026:{at} +0000] "{request} HTTP/1.1" {status} 5120 {AGENT} {ms}ms'


def test_served_times_are_grouped_by_endpoint_for_the_requests_that_ended_in_the_window(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("\n".join([
        line("10:59:59", "GET /clients/ld00001/", 200, 999),  # before the window
        line("11:00:00", "GET /clients/ld00001/", 200, 41),  # the window's first second (opened at .4)
        line("11:00:05", "GET /clients/ld00002/", 200, 63),
        line("11:00:06", "GET /chat/ld00002/", 200, 30),
        line("11:00:07", "POST /chat/ld00002/say", 302, 190),
        line("11:00:08", "POST /api/clients/ld00002/ask", 201, 120),
        line("11:00:09", "GET /chat/ld00002/?before=21", 200, 25),  # an earlier page is the chat page too
        line("11:00:10", "GET /login/", 200, 4),  # not an endpoint of the report
        "[2026-11-26 11:00:11 +0000] [123] [INFO] Booting worker with pid: 123",  # the error log's lines
        line("11:01:01", "POST /api/clients/ld00002/ask", 201, 888),  # after the window
    ]) + "\n")

    assert served_times(log, **WINDOW) == {PAGE: [41, 63], CHAT_PAGE: [30, 25], SAY: [190], ASK: [120]}


def test_served_times_of_a_missing_log_are_empty(tmp_path):
    assert served_times(tmp_path / "access.log", **WINDOW) == {}


def test_percentiles_are_nearest_rank_as_locust_reports_them():
    times = list(range(1, 21))  # 1..20 ms
    assert (_percentile(times, 0.5), _percentile(times, 0.95), _percentile([7], 0.95)) == (10, 19, 7)
