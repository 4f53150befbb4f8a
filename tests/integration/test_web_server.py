"""The Procfile's web server, started as the Procfile starts it: config/gunicorn_conf.py preloads and warms
the application in the master and freezes it out of the garbage collector's reach before the workers fork;
the workers still open their own connections and serve."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _frozen_counts(error_log: Path) -> list[int]:
    return [int(n) for n in re.findall(r"worker \d+: (\d+) objects frozen", error_log.read_text())]


def test_the_served_app_is_frozen_in_each_worker_and_logs_the_time_per_request(tmp_path):
    port = _free_port()
    access_log, error_log = tmp_path / "access.log", tmp_path / "error.log"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "-c", "config/gunicorn_conf.py",
         "--bind", f"127.0.0.1:{port}", "--workers", "2", "--access-logfile", str(access_log),
         "--error-logfile", str(error_log), "--log-level", "info"],
        cwd=ROOT, env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        status = None
        while status != 200 and time.monotonic() < deadline:
            assert server.poll() is None, error_log.read_text()
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5).status
            except OSError:
                time.sleep(0.5)
        assert status == 200
        deadline = time.monotonic() + 60  # each worker logs once it has forked, whether or not it served
        while time.monotonic() < deadline and not ("GET /login/" in access_log.read_text()
                                                   and len(_frozen_counts(error_log)) == 2):
            time.sleep(0.2)
        frozen = _frozen_counts(error_log)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    assert len(frozen) == 2 and min(frozen) > 0, error_log.read_text()
    assert re.search(r'"GET /login/ HTTP/1\.1" 200 .* \d+ms$', access_log.read_text(), re.MULTILINE)
