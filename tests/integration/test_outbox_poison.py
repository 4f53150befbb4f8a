"""A record that fails on its own never blocks memory: it is isolated, retried with backoff, marked
failed with its error for the advisor, and retried by an advisor after a fix. Real Neo4j and SQLite."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from advisor.models import Client, ConversationSession, Firm, SessionMemoryState, User
from advisor.services.importer import import_sessions
from advisor.services.sessions import retry_session_memory
from memory.graph import driver as graph_driver
from memory.models import OutboxEntry
from memory.services import ingest, outbox
from memory.services.ingest import drain_outbox

pytestmark = pytest.mark.django_db


def line(session_id: str, text: str, client_id: str = "pia") -> str:
    return json.dumps({"client_id": client_id, "session_id": session_id, "channel": "meeting",
                       "started_at": "2024-05-01T10:00:00Z", "participants": {"Pia Lund": "client"},
                       "turns": [{"turn_id": f"{session_id}-1", "speaker": "Pia Lund", "text": text}]})


def turns_in_graph() -> set[str]:
    return set(graph_driver.read(lambda tx: [r["id"] for r in tx.run(
        "MATCH (t:Turn {client_id: 'pia'}) RETURN t.turn_id AS id")]))


class ExtractorBug:
    """A fault injected into our own extractor: it raises on one session, like a parsing bug would."""

    def __init__(self, real, poisoned_session: str) -> None:
        self.real, self.poisoned_session = real, poisoned_session

    def extract(self, session):  # noqa: ANN001, ANN201
        if session.session_id == self.poisoned_session:
            raise ValueError("the extractor tripped over this session")
        return self.real.extract(session)


@pytest.fixture
def poisoned_extractor(monkeypatch):
    real = ingest.get_extractor()
    bug = ExtractorBug(real, "p2")
    monkeypatch.setattr(ingest, "get_extractor", lambda: bug)
    return bug


def test_a_failing_session_is_isolated_and_the_sessions_around_it_reach_memory(clean_graph, poisoned_extractor):
    import_sessions([line("p1", "I want to retire in 2031."), line("p2", "Poisoned."), line("p3", "I hold Apple.")],
                    "acme", drain=False)

    report = drain_outbox()

    assert (report.sessions, report.failed) == (2, 1)
    assert turns_in_graph() == {"p1-1", "p3-1"}
    poisoned = OutboxEntry.objects.get(payload__session_id="p2")
    assert poisoned.status == "pending" and poisoned.attempts == 1
    assert "tripped over this session" in poisoned.last_error
    assert poisoned.next_attempt_at > timezone.now()  # backed off: the next sweep does not retry it at once
    session = ConversationSession.objects.get(external_id="p2")
    assert session.memory_status == "pending" and "tripped" in session.memory_error
    assert drain_outbox().sessions == 0  # nothing due: the others are stored, the poisoned one waits


def test_a_session_failing_every_attempt_is_marked_failed_and_shown_to_the_advisor(clean_graph, poisoned_extractor,
                                                                                  client):
    import_sessions([line("p2", "Poisoned.")], "acme", drain=False)
    for _ in range(outbox.MAX_ATTEMPTS):
        OutboxEntry.objects.filter(status="pending").update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        drain_outbox()

    entry = OutboxEntry.objects.get()
    assert (entry.status, entry.attempts, entry.next_attempt_at) == ("failed", outbox.MAX_ATTEMPTS, None)
    assert ConversationSession.objects.get().memory_status == "failed"

    firm = Firm.objects.get(slug="acme")
    advisor = User.objects.create_user("adv", password="pw-123456", role="advisor", firm=firm)
    Client.objects.filter(external_id="pia").update(advisor=advisor)
    client.force_login(advisor)
    home = client.get("/").content.decode()
    page = client.get("/clients/pia/").content.decode()
    assert "1 memory failed" in home
    assert "Memory failed" in page and "tripped over this session" in page and "Retry memory" in page


def test_an_advisor_retries_a_failed_session_after_the_fix_and_it_reaches_memory(clean_graph, poisoned_extractor):
    import_sessions([line("p2", "Poisoned, then fixed.")], "acme", drain=False)
    OutboxEntry.objects.update(status="failed", attempts=outbox.MAX_ATTEMPTS)
    SessionMemoryState.objects.update(status="failed")
    poisoned_extractor.poisoned_session = None  # the extractor bug is fixed
    advisor = User.objects.create_user("adv", password="pw-123456", role="advisor", firm=Firm.objects.get(slug="acme"))

    assert retry_session_memory(session=ConversationSession.objects.get(), actor=advisor)
    drain_outbox()

    assert turns_in_graph() == {"p2-1"}
    assert ConversationSession.objects.get().memory_status == "stored"
    assert not retry_session_memory(session=ConversationSession.objects.get(), actor=advisor)  # nothing failed now


def test_data_neo4j_rejects_fails_only_its_own_record(clean_graph):
    import_sessions([line("p1", "I want to retire in 2031."), line("z1", "Fine text, broken record.", "zed")],
                    "acme", drain=False)
    broken = OutboxEntry.objects.get(payload__session_id="z1")
    broken.payload["client_name"] = {"first": "Pia"}  # a map: Neo4j refuses it as a property value
    OutboxEntry.objects.filter(pk=broken.pk).update(payload=broken.payload)

    report = drain_outbox()

    assert (report.sessions, report.failed) == (1, 1)
    assert turns_in_graph() == {"p1-1"}
    assert OutboxEntry.objects.get(pk=broken.pk).last_error
