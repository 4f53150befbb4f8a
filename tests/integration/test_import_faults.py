"""Faults during an in-process import (`import_sessions` with its drain), each session its own graph write
so that writes are in flight around the fault (memory.services.ingest._ingest_pipelined). Real Neo4j and
SQLite; the faults are a statement Neo4j really rejects and an extractor that is down."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from advisor.models import ConversationSession
from advisor.services.importer import import_sessions
from memory.extraction import ExtractionUnavailable
from memory.graph import driver as graph_driver
from memory.models import OutboxEntry
from memory.services import ingest
from memory.services.ingest import drain_outbox
from memory.signals import records_stored

pytestmark = pytest.mark.django_db


def line(session_id: str) -> str:
    return json.dumps({"client_id": "pia", "session_id": session_id, "channel": "meeting",
                       "started_at": "2024-05-01T10:00:00Z", "participants": {"Pia Lund": "client"},
                       "turns": [{"turn_id": f"{session_id}-1", "speaker": "Pia Lund",
                                  "text": f"I want to retire in 2031 ({session_id})."}]})


def turns_in_graph() -> set[str]:
    return set(graph_driver.read(lambda tx: [r["id"] for r in tx.run(
        "MATCH (t:Turn {client_id: 'pia'}) RETURN t.turn_id AS id")]))


def statuses() -> dict[str, str]:
    return dict(ConversationSession.objects.values_list("external_id", "memory_state__status"))


@pytest.fixture
def one_session_per_step(monkeypatch):
    """Each session its own graph write: the next one is extracted while the one before is written."""
    monkeypatch.setattr(ingest, "DRAIN_BATCH_TURNS", 1)


@pytest.fixture
def stored_announcements():
    announced: Counter[int] = Counter()

    def count(sender, kind, object_ids, **_):  # noqa: ANN001
        announced.update(object_ids)

    records_stored.connect(count, dispatch_uid="test_import_pipeline")
    yield announced
    records_stored.disconnect(dispatch_uid="test_import_pipeline")


def test_a_later_write_neo4j_rejects_fails_only_its_record_and_the_writes_around_it_are_stored_once(
        clean_graph, one_session_per_step, stored_announcements, monkeypatch):
    write = ingest._write_with_supersession

    def rejecting_p3(tx, builder):  # noqa: ANN001
        write(tx, builder)
        if any(session["session_id"] == "p3" for session in builder.written_sessions):
            tx.run("RETURN 1 / 0").consume()  # Neo4j refuses the transaction that holds p3 (/ by zero)

    monkeypatch.setattr(ingest, "_write_with_supersession", rejecting_p3)

    report = import_sessions([line(f"p{n}") for n in range(1, 5)], "acme")

    assert (report.sessions, report.pending) == (4, 1)
    assert turns_in_graph() == {"p1-1", "p2-1", "p4-1"}  # p3's transaction rolled back whole
    assert statuses() == {"p1": "stored", "p2": "stored", "p3": "pending", "p4": "stored"}
    rejected = OutboxEntry.objects.get(payload__session_id="p3")
    assert (rejected.status, rejected.attempts) == ("pending", 1) and "by zero" in rejected.last_error
    # Each stored session announced once, p3 not at all.
    stored_ids = set(ConversationSession.objects.exclude(external_id="p3").values_list("pk", flat=True))
    assert dict(stored_announcements) == {pk: 1 for pk in stored_ids}


class ExtractorDownAt:
    """Our real extractor, whose service goes down at one session and stays down."""

    def __init__(self, real, session_id: str) -> None:
        self.real, self.session_id, self.down = real, session_id, False

    def extract(self, session):  # noqa: ANN001, ANN201
        self.down = self.down or session.session_id == self.session_id
        if self.down:
            raise ExtractionUnavailable("the extraction service is not answering")
        return self.real.extract(session)


def test_an_outage_mid_import_still_records_every_line_and_the_rest_reach_memory_after_it(
        clean_graph, one_session_per_step, monkeypatch):
    extractor = ExtractorDownAt(ingest.get_extractor(), "p3")
    monkeypatch.setattr(ingest, "get_extractor", lambda: extractor)

    with pytest.raises(ExtractionUnavailable):
        import_sessions([line(f"p{n}") for n in range(1, 6)], "acme")

    assert statuses() == {"p1": "stored", "p2": "stored", "p3": "pending", "p4": "pending", "p5": "pending"}
    assert turns_in_graph() == {"p1-1", "p2-1"}
    assert OutboxEntry.objects.get(payload__session_id="p3").attempts == 1  # an outage: no backoff, not isolated
    assert OutboxEntry.objects.get(payload__session_id="p4").attempts == 0  # never tried while the service was down

    extractor.down, extractor.session_id = False, None  # the service is back
    after = drain_outbox()

    assert (after.sessions, after.remaining) == (3, 0)
    assert turns_in_graph() == {f"p{n}-1" for n in range(1, 6)}
    assert set(statuses().values()) == {"stored"}
