"""An import records each chunk of sessions together, and drains running at once take different records."""
from __future__ import annotations

import json

import pytest
from django.utils import timezone

from advisor.models import ConversationSession, ConversationTurn, SessionMemoryState
from advisor.services.importer import import_sessions
from audit import services as audit
from audit.models import AuditEntry
from memory.graph import driver as graph_driver
from memory.graph import episodes
from memory.models import OutboxEntry
from memory.services import ingest, outbox
from memory.services.ingest import drain_outbox

pytestmark = pytest.mark.django_db


def line(session_id: str, text: str = "I want to retire in 2031.", client_id: str = "olga") -> str:
    return json.dumps({
        "client_id": client_id, "session_id": session_id, "channel": "call", "started_at": "2024-04-01T12:00:00Z",
        "participants": {"Olga Petrova": "client", "Sam": "advisor"},
        "turns": [{"turn_id": f"{session_id}-1", "speaker": "Olga Petrova", "text": text},
                  {"turn_id": f"{session_id}-2", "speaker": "Sam", "text": "Noted."}],
    })


def test_a_chunk_records_each_new_session_once_with_its_turns_outbox_entry_and_audit_entry_in_order():
    lines = [line("a1"), "not json", line("b1", client_id="piet"), line("a1"), line("b1", "Changed.", "piet")]

    report = import_sessions(lines, "batches", drain=False)

    assert (report.sessions, report.unchanged, report.turns) == (2, 1, 4)
    assert [error.split(":")[0] for error in report.errors] == ["line 2", "line 5"]
    assert "already recorded with different content" in report.errors[1]
    sessions = list(ConversationSession.objects.order_by("pk").values_list("client__external_id", "external_id"))
    assert sessions == [("olga", "a1"), ("piet", "b1")]
    assert list(ConversationTurn.objects.filter(session__external_id="a1").order_by("position")
                .values_list("external_id", "role", "text")) == [("a1-1", "client", "I want to retire in 2031."),
                                                                ("a1-2", "advisor", "Noted.")]
    assert SessionMemoryState.objects.filter(status="pending").count() == 2
    queued = list(OutboxEntry.objects.order_by("pk").values_list("client_id", "payload__session_id", "status"))
    assert queued == [("olga", "a1", "pending"), ("piet", "b1", "pending")]
    entries = list(AuditEntry.objects.order_by("pk").values_list("action", "actor", "client_id", "target", "detail"))
    assert entries == [("session.recorded", "import", "olga", "session:a1", {"turns": 2, "channel": "call"}),
                       ("session.recorded", "import", "piet", "session:b1", {"turns": 2, "channel": "call"})]
    assert audit.verify_chain().ok


def test_reimporting_a_chunk_records_nothing_new():
    lines = [line("a1"), line("a2")]
    import_sessions(lines, "batches", drain=False)

    again = import_sessions(lines, "batches", drain=False)

    assert (again.sessions, again.unchanged, again.errors) == (0, 2, [])
    assert (ConversationSession.objects.count(), OutboxEntry.objects.count(), AuditEntry.objects.count()) == (2, 2, 2)


def test_two_drains_at_once_claim_different_records_and_a_released_claim_is_due_again():
    import_sessions([line(f"s{n}") for n in range(5)], "batches", drain=False)

    first, first_lease = outbox.claim_due(3)
    second, _ = outbox.claim_due(10)

    assert [e.payload["session_id"] for e in first] == ["s0", "s1", "s2"]
    assert [e.payload["session_id"] for e in second] == ["s3", "s4"]
    assert outbox.claim_due(10)[0] == []
    assert outbox.pending_count() == 5  # claimed records stay pending until stored
    outbox.release(first, first_lease)
    assert [e.payload["session_id"] for e in outbox.claim_due(10)[0]] == ["s0", "s1", "s2"]


def test_chunks_written_while_the_next_is_extracted_still_isolate_a_failing_build_and_a_failing_write(
        clean_graph, monkeypatch):
    real_extractor, real_write = ingest.get_extractor(), episodes.write_batch

    class Extractor:
        def extract(self, session):  # noqa: ANN001, ANN201
            if session.session_id == "s2":
                raise ValueError("the extractor tripped over s2")
            return real_extractor.extract(session)

    def write_batch(tx, batch):  # noqa: ANN001, ANN202
        if any(row["props"]["session_id"] == "s4" for row in batch.sessions):
            raise ValueError("Neo4j refused s4")
        real_write(tx, batch)

    monkeypatch.setattr(ingest, "DRAIN_BATCH_TURNS", 2)  # one session per chunk: five chunks in a row
    monkeypatch.setattr(ingest, "get_extractor", lambda: Extractor())
    monkeypatch.setattr(episodes, "write_batch", write_batch)
    import_sessions([line(f"s{n}") for n in range(1, 6)], "batches", drain=False)

    report = drain_outbox()

    assert (report.sessions, report.turns, report.failed, report.remaining) == (3, 6, 2, 2)
    written = graph_driver.read(lambda tx: sorted(r["s"] for r in tx.run(
        "MATCH (t:Turn {client_id: 'olga'}) RETURN DISTINCT t.session_id AS s")))
    assert written == ["s1", "s3", "s5"]
    states = dict(OutboxEntry.objects.values_list("payload__session_id", "status"))
    assert states == {"s1": "stored", "s2": "pending", "s3": "stored", "s4": "pending", "s5": "stored"}
    held_back = OutboxEntry.objects.filter(status="pending")
    assert all(e.attempts == 1 and e.next_attempt_at > timezone.now() for e in held_back)
    assert {e.last_error for e in held_back} == {"the extractor tripped over s2", "Neo4j refused s4"}
