"""Nothing is lost when Neo4j goes away mid-flow: the outbox keeps the session until the graph is back."""
from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from neo4j.exceptions import CypherSyntaxError, Neo4jError

from advisor.models import ConversationSession
from advisor.services.importer import import_sessions
from memory.graph import driver as graph_driver
from memory.graph.driver import GraphUnavailable
from memory.models import OutboxEntry
from memory.services import ingest
from memory.services.ingest import drain_outbox
from tests.conftest import local_neo4j_command, uses_local_neo4j

LINE = json.dumps({
    "client_id": "olga", "session_id": "o1", "channel": "call", "started_at": "2024-04-01T12:00:00Z",
    "participants": {"Olga Petrova": "client"},
    "turns": [{"turn_id": "o1-1", "speaker": "Olga Petrova", "text": "I want to retire in 2031 and avoid tobacco."}],
})


def turn_count() -> int:
    return graph_driver.read(lambda tx: tx.run("MATCH (t:Turn {client_id: 'olga'}) RETURN count(t) AS n").single()["n"])


@pytest.mark.disruptive
@pytest.mark.django_db
def test_outbox_survives_neo4j_being_stopped_and_drains_after_it_returns(clean_graph, client):
    local = uses_local_neo4j()
    if local:
        assert local_neo4j_command("stop").returncode == 0
    graph_driver.close_driver()
    try:
        with override_settings(**({} if local else {"NEO4J_URI": "bolt://127.0.0.1:1"}), NEO4J_CONNECTION_TIMEOUT=1.0):
            report = import_sessions([LINE], "resilient", drain=False)
            with pytest.raises(GraphUnavailable):
                drain_outbox()
            entry = OutboxEntry.objects.get()
            assert entry.processed_at is None and entry.attempts == 1 and "unavailable" in entry.last_error
            assert ConversationSession.objects.get().memory_status == "pending"
            assert report.sessions == 1
            health = client.get("/healthz")
            assert health.status_code == 503 and "neo4j" in health.json()["down"]
            assert health.json()["parts"]["database"]["status"] == "up"
    finally:
        graph_driver.close_driver()
        if local:
            assert local_neo4j_command("start").returncode == 0
            assert local_neo4j_command("wait").returncode == 0

    drained = drain_outbox()

    assert drained.sessions == 1 and drained.remaining == 0
    assert turn_count() == 1
    assert ConversationSession.objects.get().memory_status == "stored"


@pytest.mark.django_db
def test_memory_import_command_says_sessions_are_kept_when_neo4j_is_down(tmp_path, graph):
    path = tmp_path / "one.jsonl"
    path.write_text(LINE + "\n")
    graph_driver.close_driver()
    try:
        with override_settings(NEO4J_URI="bolt://127.0.0.1:1", NEO4J_CONNECTION_TIMEOUT=1.0):
            with pytest.raises(CommandError) as raised:
                call_command("memory_import", str(path), "--firm", "resilient")
    finally:
        graph_driver.close_driver()
    assert "stay queued" in str(raised.value)
    assert OutboxEntry.objects.filter(processed_at__isnull=True).count() == 1


def refused_as_unavailable(tx, builder) -> None:  # noqa: ANN001
    """What Neo4j answers a write while it stops or starts (a retryable server error, not a DriverError)."""
    raise Neo4jError._hydrate_neo4j(code="Neo.TransientError.General.DatabaseUnavailable",
                                    message="The database is not currently available to serve your request.")


@pytest.mark.django_db
@pytest.mark.parametrize("session_ids", [["o1"], ["o1", "o2"]])
def test_neo4j_answering_database_unavailable_is_an_outage_that_counts_once_and_never_against_the_record(
        clean_graph, monkeypatch, session_ids):
    import_sessions([LINE.replace('"o1', f'"{sid}') for sid in session_ids], "resilient", drain=False)
    monkeypatch.setattr(ingest, "DRAIN_BATCH_TURNS", 1)  # one session per write: the next is prepared meanwhile
    monkeypatch.setattr(ingest, "_write_with_supersession", refused_as_unavailable)

    with pytest.raises(GraphUnavailable, match="DatabaseUnavailable"):
        drain_outbox()
    entries = {e.payload["session_id"]: e for e in OutboxEntry.objects.all()}
    monkeypatch.undo()
    drained = drain_outbox()

    # o1's write was refused (an attempt, no backoff, not failed), o2's never started; both stay due.
    assert {sid: (e.status, e.attempts, e.next_attempt_at) for sid, e in entries.items()} == {
        "o1": ("pending", 1, None), **({"o2": ("pending", 0, None)} if "o2" in session_ids else {})}
    assert (drained.sessions, drained.failed, drained.remaining) == (len(session_ids), 0, 0)
    assert set(ConversationSession.objects.values_list("memory_state__status", flat=True)) == {"stored"}


def test_a_query_neo4j_rejects_is_raised_as_it_is_and_not_taken_for_an_outage(graph):
    with pytest.raises(CypherSyntaxError):
        graph_driver.write(lambda tx: tx.run("RETURN $x +", x=1).consume())
