"""Beat, a real worker and Redis together: scheduled sweeps turn a recorded session into memory and
keep the prices it mentions quoted, with no call from the test."""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from advisor.models import Client, ConversationSession, Firm
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
from memory.graph import driver as graph_driver
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
