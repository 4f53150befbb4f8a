"""Faults that really happen, against real processes: Neo4j stopped during ingestion and during a quote
refresh, Redis stopped while tasks are queued, a worker killed (SIGKILL) mid-task, the quote provider timing
out and answering garbage. After recovery every session, turn and move is in Neo4j exactly once, and what
could not be refreshed says so (stale with the reason; a failed run), never silently old.

Neo4j is this run's own instance (`bin/neo4j-local`, see tests/conftest.py). Redis is a private
`redis-server` on a loopback port started by the test (never the shared one on 6379), with an append-only
file so its queue survives a stop like a production Redis with persistence.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.test import override_settings

from advisor.models import Client, ConversationSession, Firm, User
from advisor.services.importer import import_sessions
from advisor.services.quotes import refresh_client_quotes
from advisor.services.sessions import record_session_notes
from marketdata.models import QuoteRefreshRun
from marketdata.providers.base import Quote, QuoteBatch
from memory.graph import driver as graph_driver
from memory.graph.driver import GraphUnavailable
from memory.models import OutboxEntry
from memory.services import ingest
from memory.services.ingest import drain_outbox
from tests.conftest import REPO, TEST_OUTPUT, database_url, local_neo4j_command, uses_local_neo4j, wait_until
from tests.integration.test_failures import redis_at
from tests.unit.test_yahoo_provider import provider as yahoo_provider
from tests.unit.test_yahoo_provider import yahoo  # noqa: F401  (the recorded-Yahoo fixture)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# A port of this run's own: with a fixed one, runs in parallel worktrees shared (and stopped) one Redis.
PRIVATE_REDIS_PORT = free_port()
PRIVATE_REDIS = f"redis://127.0.0.1:{PRIVATE_REDIS_PORT}/0"
WAIT_SECONDS = 90  # any wait for a process or a drain; a test never hangs past it


def session_line(session_id: str, client_id: str = "fay", turns: int = 2, text: str = "I want to retire in 2031.") -> str:
    return json.dumps({"client_id": client_id, "session_id": session_id, "channel": "meeting",
                       "started_at": "2024-05-01T10:00:00Z", "participants": {"Fay Lin": "client"},
                       "turns": [{"turn_id": f"{session_id}-{n}", "speaker": "Fay Lin", "text": f"{text} ({n})"}
                                 for n in range(1, turns + 1)]})


def graph_census(client_id: str) -> dict[str, int]:
    """Sessions and turns in the graph, and how many distinct ones: equal counts mean exactly once."""
    return graph_driver.read(lambda tx: tx.run(
        "OPTIONAL MATCH (s:Session {client_id: $c}) WITH count(s) AS sessions, count(DISTINCT s.session_id) AS ds "
        "OPTIONAL MATCH (t:Turn {client_id: $c}) "
        "RETURN sessions, ds AS distinct_sessions, count(t) AS turns, "
        "count(DISTINCT t.session_id + '/' + t.turn_id) AS distinct_turns", c=client_id).single().data())


def restart_neo4j() -> None:
    graph_driver.close_driver()
    assert local_neo4j_command("start").returncode == 0
    assert local_neo4j_command("wait").returncode == 0
    graph_driver.close_driver()


@pytest.fixture
def local_neo4j(clean_graph) -> Iterator[None]:
    assert uses_local_neo4j(), "these tests stop and start this run's own Neo4j: run them with `make test`"
    yield
    if local_neo4j_command("status").returncode != 0:  # a failed test must not leave Neo4j down
        restart_neo4j()


# --- Neo4j stopped ------------------------------------------------------------------------------------

class StopsNeo4jAt:
    """Our real extractor, which stops Neo4j (for real) the first time it reaches one session: mid-ingestion."""

    def __init__(self, real, session_id: str) -> None:
        self.real, self.session_id, self.stopped = real, session_id, False

    def extract(self, session):  # noqa: ANN001, ANN201
        if session.session_id == self.session_id and not self.stopped:
            self.stopped = True
            assert local_neo4j_command("stop").returncode == 0
        return self.real.extract(session)


@pytest.mark.disruptive
@pytest.mark.django_db
def test_neo4j_stopped_mid_ingestion_loses_nothing_and_after_restart_each_session_is_in_the_graph_once(
        local_neo4j, monkeypatch):
    import_sessions([session_line(f"n{i}") for i in range(1, 6)], "faulty", drain=False)
    monkeypatch.setattr(ingest, "DRAIN_BATCH_TURNS", 1)  # one session per graph transaction
    stopper = StopsNeo4jAt(ingest.get_extractor(), "n3")
    monkeypatch.setattr(ingest, "get_extractor", lambda: stopper)

    with override_settings(NEO4J_CONNECTION_TIMEOUT=1.0), pytest.raises(GraphUnavailable):
        drain_outbox()
    stored_before = set(OutboxEntry.objects.filter(status="stored").values_list("payload__session_id", flat=True))
    restart_neo4j()
    report = drain_outbox()

    # n2 is written while n3 is extracted (memory.services.ingest._ingest_pipelined), so Neo4j stops
    # during n2's write or after it committed: n2 is stored now or by the next drain, never lost.
    assert stored_before in ({"n1"}, {"n1", "n2"})
    assert (report.sessions, report.remaining) == (5 - len(stored_before), 0)
    assert graph_census("fay") == {"sessions": 5, "distinct_sessions": 5, "turns": 10, "distinct_turns": 10}
    assert set(ConversationSession.objects.values_list("memory_state__status", flat=True)) == {"stored"}
    assert drain_outbox().sessions == 0


class StopsNeo4jWhileQuoting:
    """A provider that answers, but Neo4j stops (for real) while it is being asked: mid-refresh."""

    name = "fixed"

    def __init__(self, prices: dict[str, float], as_of: datetime, stop: bool = True) -> None:
        self.prices, self.as_of, self.stop = prices, as_of, stop

    def latest_quotes(self, symbols: list[str]) -> QuoteBatch:
        if self.stop:
            assert local_neo4j_command("stop").returncode == 0
        return QuoteBatch(quotes={s: Quote(s, self.prices[s], "USD", self.as_of, self.name, self.as_of.date())
                                  for s in symbols if s in self.prices})


def security(symbol: str) -> dict:
    return graph_driver.read(lambda tx: tx.run(
        "MATCH (s:Security {symbol: $s}) RETURN s.last_price AS price, s.quote_status AS status, "
        "s.last_price_as_of AS as_of", s=symbol).single().data())


def move_events(symbol: str) -> tuple[int, int]:
    """(shared move events of the security, clients' links to them)."""
    return graph_driver.read(lambda tx: tuple(tx.run(
        "MATCH (e:Event {kind: 'market_move'})-[:ABOUT]->(:Security {symbol: $s}) "
        "RETURN count(DISTINCT e) AS events, COUNT { ()-[:SAW_MOVE]->(:Event)-[:ABOUT]->(:Security {symbol: $s}) } AS links",
        s=symbol).single()))


@pytest.mark.disruptive
@pytest.mark.django_db
def test_neo4j_stopped_mid_quote_refresh_fails_the_run_visibly_and_the_next_refresh_moves_once(local_neo4j):
    import_sessions([json.dumps({"client_id": "fay", "session_id": "q1", "channel": "meeting",
                                 "started_at": "2024-03-03T10:00:00Z", "participants": {"Fay Lin": "client"},
                                 "turns": [{"turn_id": "q1-1", "speaker": "Fay Lin",
                                            "text": "I bought Apple at $100.00 last week."}]})], "faulty")
    t0 = datetime(2026, 3, 2, 15, tzinfo=timezone.utc)

    with override_settings(NEO4J_CONNECTION_TIMEOUT=1.0), pytest.raises(GraphUnavailable):
        refresh_client_quotes(provider=StopsNeo4jWhileQuoting({"AAPL": 120.0}, t0), now=t0)
    failed_run = QuoteRefreshRun.objects.get()
    restart_neo4j()
    first = refresh_client_quotes(provider=StopsNeo4jWhileQuoting({"AAPL": 120.0}, t0, stop=False), now=t0)
    again = refresh_client_quotes(provider=StopsNeo4jWhileQuoting({"AAPL": 120.0}, t0, stop=False), now=t0)

    assert failed_run.status == "failed" and "Neo4j became unavailable" in failed_run.errors["graph"]
    assert failed_run.finished_at is not None
    assert (first.updated, first.events, again.events) == (["AAPL"], 1, 0)
    aapl = security("AAPL")
    assert (aapl["price"], aapl["status"]) == (120.0, "fresh")
    assert move_events("AAPL") == (1, 1)  # +20% since it was discussed at 100.00: one event and link, not one per try


# --- Redis stopped, a worker killed --------------------------------------------------------------------

class PrivateRedis:
    """A redis-server of the test's own on a loopback port, with an append-only file in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.process = directory, None
        self.client = redis.Redis(host="127.0.0.1", port=PRIVATE_REDIS_PORT, socket_timeout=2)

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(PRIVATE_REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"redis-server on {PRIVATE_REDIS_PORT} exited (port taken?)"
            try:
                if self.client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.1)
        raise AssertionError(f"redis-server on {PRIVATE_REDIS_PORT} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: redis writes its append-only file and exits
            self.process.wait(timeout=WAIT_SECONDS)
        self.client.connection_pool.disconnect()

    def queued(self, queue: str) -> int:
        return self.client.llen(queue)


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def start_worker(name: str) -> subprocess.Popen:
    """A real Celery worker on the private Redis, in its own process group (so SIGKILL takes it all)."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", REDIS_URL=PRIVATE_REDIS,
               DATABASE_URL=database_url(settings.DATABASES["default"]))  # SQLite or PostgreSQL, as this run
    log = open(TEST_OUTPUT / f"fault-worker-{name}.log", "w")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO", "--concurrency=1",
         "--pool=prefork", "-Q", "ingest", "-n", f"fault-{name}-{os.getpid()}@%h"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)


def queue_drain() -> None:
    """What the beat sweep (or a portal's nudge) sends: one drain task on the ingest queue."""
    from memory.tasks import drain_memory_outbox

    drain_memory_outbox.apply_async(kwargs={"max_sessions": 100_000}, ignore_result=True)


@pytest.mark.disruptive
@pytest.mark.django_db(transaction=True)
def test_redis_stopped_with_drains_queued_keeps_them_and_a_worker_takes_every_session_in_once(
        local_neo4j, private_redis):
    firm = Firm.objects.create(slug="faulty", name="Faulty")
    advisor = User.objects.create_user("f-adv", password="pw-123456789", role="advisor", firm=firm)
    fay = Client.objects.create(firm=firm, external_id="fay", name="Fay Lin", advisor=advisor)
    when = datetime(2024, 5, 1, 10, tzinfo=timezone.utc)

    with redis_at(PRIVATE_REDIS):
        for year in (2031, 2032):  # each portal save nudges a drain: two tasks wait in Redis, no worker yet
            record_session_notes(client=fay, author=advisor, notes=f"Fay Lin: I want to retire in {year}.",
                                 channel="meeting", started_at=when)
        queued_before = private_redis.queued("ingest")
        private_redis.stop()
        record_session_notes(client=fay, author=advisor, notes="Fay Lin: I want to retire in 2033.",
                             channel="meeting", started_at=when)  # Redis down: saved, nudge logged, not raised
        private_redis.start()
        queued_after = private_redis.queued("ingest")
        worker = start_worker("redis")
        try:
            wait_until(lambda: not OutboxEntry.objects.filter(status="pending").exists(), "the outbox to drain",
                       seconds=WAIT_SECONDS)
            wait_until(lambda: private_redis.queued("ingest") == 0, "the queued drains to run",
                       seconds=WAIT_SECONDS)
        finally:
            stop_worker(worker)

    assert (queued_before, queued_after) == (2, 2)  # the queued tasks survived the stop
    assert graph_census("fay") == {"sessions": 3, "distinct_sessions": 3, "turns": 3, "distinct_turns": 3}
    assert set(ConversationSession.objects.values_list("memory_state__status", flat=True)) == {"stored"}


@pytest.mark.disruptive
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_drain_loses_nothing_and_the_next_drain_leaves_each_session_once(
        local_neo4j, private_redis):
    # 240 sessions of 12 turns: two graph transactions (2,000 turns per batch), so a kill lands mid-task.
    import_sessions([session_line(f"k{i}", turns=12) for i in range(240)], "faulty", drain=False)

    with redis_at(PRIVATE_REDIS):
        worker = start_worker("killed")
        try:
            queue_drain()
            wait_until(lambda: OutboxEntry.objects.filter(status="stored").exists(), "the first batch to be stored",
                       seconds=WAIT_SECONDS)
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
        finally:
            stop_worker(worker)
        pending_at_kill = OutboxEntry.objects.filter(status="pending").count()
        replacement = start_worker("replacement")
        try:
            queue_drain()  # the beat sweep's next tick
            wait_until(lambda: not OutboxEntry.objects.filter(status="pending").exists(), "the outbox to drain",
                       seconds=WAIT_SECONDS)
        finally:
            stop_worker(replacement)

    assert 0 < pending_at_kill < 240, "the kill must land between the two batches of one task"
    assert graph_census("fay") == {"sessions": 240, "distinct_sessions": 240, "turns": 2880, "distinct_turns": 2880}
    assert OutboxEntry.objects.filter(status="stored").count() == 240


# --- the quote provider times out, then answers garbage --------------------------------------------------

@pytest.mark.django_db
def test_a_provider_timing_out_then_answering_garbage_leaves_prices_stale_with_the_reason_never_wrong(
        clean_graph, yahoo):  # noqa: F811
    import_sessions([json.dumps({"client_id": "fay", "session_id": "y1", "channel": "meeting",
                                 "started_at": "2024-03-01T10:00:00Z", "participants": {"Fay Lin": "client"},
                                 "turns": [{"turn_id": "y1-1", "speaker": "Fay Lin",
                                            "text": "I bought Apple at $150.00."}]})], "faulty")
    now = datetime(2024, 3, 9, 12, tzinfo=timezone.utc)
    live = refresh_client_quotes(provider=yahoo_provider(yahoo, attempts=1, timeout=2), now=now)
    assert live.updated == ["AAPL"] and security("AAPL")["price"] == 170.73

    yahoo.hang_price_requests = True
    timed_out = refresh_client_quotes(provider=yahoo_provider(yahoo, attempts=1, timeout=0.2),
                                      now=now + timedelta(minutes=1))
    after_timeout = security("AAPL")
    yahoo.hang_price_requests = False
    yahoo.edited["chart_AAPL_range=5d.json"] = b'{"chart": {"result": [{"meta": "\x00garbage", "timestamp": "x"}]}}'
    garbage = refresh_client_quotes(provider=yahoo_provider(yahoo, attempts=1, timeout=2),
                                    now=now + timedelta(minutes=2))
    after_garbage = security("AAPL")

    assert timed_out.updated == [] and "timed out" in timed_out.errors["AAPL"]
    assert (after_timeout["price"], after_timeout["status"]) == (170.73, "stale")
    assert garbage.updated == [] and garbage.errors["AAPL"]
    assert (after_garbage["price"], after_garbage["status"]) == (170.73, "stale")
    runs = list(QuoteRefreshRun.objects.order_by("started_at").values_list("status", flat=True))
    assert runs == ["ok", "failed", "failed"]
    assert move_events("AAPL") == (1, 1)  # the one real move (150 -> 170.73), nothing from the failures
