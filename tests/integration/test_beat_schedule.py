"""Beat, a real worker and Redis together: scheduled sweeps turn a recorded session into memory and
keep the prices it mentions quoted, with no call from the test."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from advisor.models import Client, ConversationSession, Firm
from advisor.services.importer import import_sessions
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
from memory.graph import driver as graph_driver
from memory.models import OutboxEntry
from tests.conftest import REPO, TEST_OUTPUT, _worker_env

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def beat_process(celery_worker_process, tmp_path):
    env = {**_worker_env(), "OUTBOX_SWEEP_SECONDS": "2", "QUOTE_REFRESH_SECONDS": "3"}
    log = open(TEST_OUTPUT / "celery-beat.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO", "-s", str(tmp_path / "beat-schedule")],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    process.wait(timeout=20)
    log.close()


def aapl() -> dict | None:
    record = graph_driver.read(lambda tx: tx.run(
        "MATCH (s:Security {symbol: 'AAPL'}) RETURN s.last_price AS price, s.quote_status AS status, "
        "s.quote_source AS source").single())
    return record.data() if record else None


def test_beat_drains_the_outbox_and_refreshes_remembered_quotes(clean_graph, beat_process):
    firm = Firm.objects.create(slug="beat-firm", name="Beat")
    client = Client.objects.create(firm=firm, external_id="bea", name="Bea Client")
    record_session(client=client, draft=SessionDraft(
        session_id="bs1", channel="call", started_at=datetime(2024, 6, 1, 9, tzinfo=timezone.utc),
        participants={"Bea Client": "client"},
        turns=(TurnDraft("bs1-1", "Bea Client", "I bought Apple at $150.00 last week."),),
    ))

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        quote = aapl()
        if quote and quote["status"] == "fresh":
            break
        time.sleep(1)

    assert ConversationSession.objects.get().memory_status == "stored"
    assert quote and quote["status"] == "fresh" and quote["source"] == "replay" and quote["price"] > 0


SWEEP_CLIENTS, SWEEP_SESSIONS, SWEEP_TURNS = 8, 30, 12  # 240 sessions: drains of 200 outlast a 1 s sweep


@pytest.fixture
def partitioned_sweep(celery_worker_process, redis_client, tmp_path):
    """Beat sweeping every second in 2 partitions, and a worker of 2 more processes next to the suite's
    worker: drains of the same partition arrive while the last one still runs."""
    env = {**_worker_env(), "OUTBOX_SWEEP_SECONDS": "1", "OUTBOX_DRAIN_PARTITIONS": "2"}
    results_before = set(redis_client.scan_iter("celery-task-meta-*"))
    worker_log = open(TEST_OUTPUT / "celery-worker-partitioned.log", "w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO", "--concurrency=2",
         "--pool=prefork", "-Q", "ingest", "-n", f"pytest-partitioned-{os.getpid()}@%h"],
        cwd=REPO, env=env, stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True)
    beat_log = open(TEST_OUTPUT / "celery-beat-partitioned.log", "w")
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO", "-s", str(tmp_path / "beat")],
        cwd=REPO, env=env, stdout=beat_log, stderr=subprocess.STDOUT)
    yield lambda: [redis_client.get(key) for key in set(redis_client.scan_iter("celery-task-meta-*")) - results_before]
    beat.terminate()
    beat.wait(timeout=20)
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=60)
    worker_log.close()
    beat_log.close()


def test_the_sweep_drains_each_partition_in_one_worker_at_a_time_so_each_record_is_written_once(
        clean_graph, partitioned_sweep):
    lines = [json.dumps({
        "client_id": f"p{client}", "session_id": f"p{client}-s{session}", "channel": "meeting",
        "started_at": "2024-05-01T10:00:00Z", "participants": {f"Pat {client}": "client"},
        "turns": [{"turn_id": f"t{turn}", "speaker": f"Pat {client}", "text": f"Point {turn} of session {session}."}
                  for turn in range(SWEEP_TURNS)]})
        for client in range(SWEEP_CLIENTS) for session in range(SWEEP_SESSIONS)]
    import_sessions(lines, "sweep-firm", drain=False)  # recorded, not drained: only the sweep writes them

    deadline = time.monotonic() + 240
    while OutboxEntry.objects.filter(status="pending").exists() and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(3)  # drains still running or queued finish and store their results

    # A drain's result has exactly these keys (beat also runs consolidation, whose result counts sessions too).
    drains = [json.loads(raw)["result"] for raw in partitioned_sweep() if raw]
    drains = [result for result in drains if isinstance(result, dict)
              and {"sessions", "turns", "remaining"} <= set(result) <= {"sessions", "turns", "remaining", "skipped"}]
    assert OutboxEntry.objects.filter(status="stored").count() == SWEEP_CLIENTS * SWEEP_SESSIONS
    # Every stored record was written by exactly one drain: the drains' session counts add up to the records.
    assert sum(result["sessions"] for result in drains) == SWEEP_CLIENTS * SWEEP_SESSIONS, drains
    census = graph_driver.read(lambda tx: tx.run(
        "MATCH (s:Session)-[:HAS_TURN]->(t:Turn) RETURN count(DISTINCT s) AS sessions, count(t) AS turns").single())
    assert (census["sessions"], census["turns"]) == (SWEEP_CLIENTS * SWEEP_SESSIONS,
                                                      SWEEP_CLIENTS * SWEEP_SESSIONS * SWEEP_TURNS)


def test_a_drain_meeting_a_running_drain_of_its_partition_returns_skipped_and_writes_nothing(clean_graph):
    import redis
    from django.conf import settings

    from memory.tasks import drain_memory_outbox

    import_sessions([json.dumps({
        "client_id": "solo", "session_id": "solo-1", "channel": "meeting", "started_at": "2024-05-01T10:00:00Z",
        "participants": {"Sam Solo": "client"}, "turns": [{"turn_id": "t0", "speaker": "Sam Solo", "text": "Hello."}]})],
        "lock-firm", drain=False)
    running = redis.Redis.from_url(settings.REDIS_URL).lock("memory.drain_outbox:0/1", timeout=60)
    assert running.acquire(blocking=False)
    try:
        assert drain_memory_outbox(partition=[0, 1]) == {"sessions": 0, "turns": 0, "remaining": -1, "skipped": 1}
        assert OutboxEntry.objects.filter(status="pending").count() == 1
    finally:
        running.release()
    assert drain_memory_outbox(partition=[0, 1])["sessions"] == 1
    assert OutboxEntry.objects.filter(status="stored").count() == 1
