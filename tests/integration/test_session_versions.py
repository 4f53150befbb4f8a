"""Sessions and turns are books and records: never changed, corrected by versions that memory follows.
Real SQLite triggers and the real Neo4j."""
from __future__ import annotations

import json

import pytest
from django.db import DatabaseError, connection, transaction

from advisor.models import Client, ConversationSession, ConversationTurn, Firm, User
from advisor.services.importer import import_sessions
from advisor.services.sessions import SessionRejected, correct_session
from audit.models import AppendOnlyError, AuditEntry
from audit.triggers import maintenance_window
from memory import selectors as memory_selectors
from memory.graph import driver as graph_driver
from memory.scope import Reader
from memory.services.ingest import drain_outbox

pytestmark = pytest.mark.django_db

LINE = json.dumps({"client_id": "pia", "session_id": "s1", "channel": "meeting",
                   "started_at": "2024-05-01T10:00:00Z", "participants": {"Pia Lund": "client"},
                   "turns": [{"turn_id": "t1", "speaker": "Pia Lund", "text": "I want to retire in 2031."}]})


@pytest.fixture
def recorded(clean_graph):
    import_sessions([LINE], "acme")
    firm = Firm.objects.get(slug="acme")
    advisor = User.objects.create_user("adv", password="pw-123456789", role="advisor", firm=firm)
    Client.objects.filter(external_id="pia").update(advisor=advisor)
    return {"advisor": advisor, "session": ConversationSession.objects.get(), "firm": firm}


def test_the_model_layer_refuses_to_change_or_delete_a_session_or_turn(recorded):
    session = recorded["session"]
    session.channel = "call"
    with pytest.raises(AppendOnlyError):
        session.save()
    with pytest.raises(AppendOnlyError):
        session.delete()
    with pytest.raises(AppendOnlyError):
        ConversationSession.objects.filter(pk=session.pk).update(channel="call")
    with pytest.raises(AppendOnlyError):
        ConversationTurn.objects.all().delete()
    with pytest.raises(AppendOnlyError, match="maintenance window"):
        ConversationTurn.objects.all().purge()


@pytest.mark.parametrize("statement", [
    "UPDATE advisor_conversationsession SET channel = 'call'",
    "DELETE FROM advisor_conversationsession",
    "UPDATE advisor_conversationturn SET text = 'rewritten'",
    "DELETE FROM advisor_conversationturn",
])
def test_the_database_trigger_refuses_raw_sql_changes_to_sessions_and_turns(recorded, statement):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert ConversationTurn.objects.get().text == "I want to retire in 2031."
    assert ConversationSession.objects.get().channel == "meeting"


def test_memory_state_changes_beside_the_record_which_stays_as_recorded(recorded):
    session = ConversationSession.objects.select_related("memory_state").get()
    assert session.memory_status == "stored" and session.memory_state.error == ""
    assert session.content_hash == recorded["session"].content_hash


def test_a_correction_is_a_new_version_with_who_when_why_linked_to_the_original(recorded):
    corrected = correct_session(session=recorded["session"], author=recorded["advisor"],
                                notes="Pia Lund: I want to retire in 2034.", reason="wrong retirement year")

    original = ConversationSession.objects.get(version=1)
    assert (corrected.version, corrected.original_id, corrected.previous_id) == (2, original.pk, original.pk)
    assert corrected.recorded_by == recorded["advisor"] and corrected.correction_reason == "wrong retirement year"
    assert corrected.created_at >= original.created_at
    assert [t.text for t in original.turns.all()] == ["I want to retire in 2031."]  # the original is untouched
    assert [(t.speaker, t.role, t.text) for t in corrected.turns.all()] == [("Pia Lund", "client",
                                                                             "I want to retire in 2034.")]
    assert corrected.memory_session_id == "s1@v2" and corrected.memory_status == "pending"
    entry = AuditEntry.objects.get(action="session.corrected")
    assert (entry.actor, entry.target, entry.detail) == ("adv", "session:s1",
                                                          {"version": 2, "replaces_version": 1, "turns": 1})


def test_a_correction_needs_a_reason_and_a_change(recorded):
    with pytest.raises(SessionRejected, match="Say why"):
        correct_session(session=recorded["session"], author=recorded["advisor"], notes="Pia Lund: 2034.", reason=" ")
    with pytest.raises(SessionRejected, match="same as the current version"):
        correct_session(session=recorded["session"], author=recorded["advisor"],
                        notes="Pia Lund: I want to retire in 2031.", reason="no change")
    assert ConversationSession.objects.count() == 1


def memories_of(session_id: str) -> list[dict]:
    return graph_driver.read(lambda tx: [r.data() for r in tx.run(
        "MATCH (m:Memory {session_id: $sid}) OPTIONAL MATCH (m)-[:DERIVED_FROM]->(t:Turn) "
        "RETURN m.level AS level, m.status AS status, m.corrected_reason AS reason, m.corrected_by AS by, "
        "m.text AS text, t.turn_id AS source ORDER BY level", sid=session_id)])


def test_memory_follows_the_current_version_and_keeps_the_old_one_with_its_reason(recorded):
    reader = Reader("acme", "pia")
    assert [f.value for f in memory_selectors.client_facts(reader) if f.slot == "goal:retirement"] == ["target 2031"]

    correct_session(session=recorded["session"], author=recorded["advisor"],
                    notes="Pia Lund: I want to retire in 2034.", reason="wrong retirement year")
    report = drain_outbox()

    assert report.sessions == 1
    current = [f for f in memory_selectors.client_facts(reader) if f.slot == "goal:retirement"]
    assert [(f.value, f.valid_to) for f in current] == [("target 2034", None)]
    old = memories_of("s1")
    assert old and {m["status"] for m in old} == {"corrected"}
    assert {m["reason"] for m in old} == {"wrong retirement year"} and {m["by"] for m in old} == {"s1@v2"}
    assert any(m["level"] == "fact" and "2031" in m["text"] and m["source"] == "t1" for m in old)  # provenance kept
    assert {m["status"] for m in memories_of("s1@v2")} == {"active"}
    assert ConversationSession.objects.get(version=2).memory_status == "stored"
    assert drain_outbox().sessions == 0  # exactly once


def test_the_session_page_shows_the_original_and_each_version_and_takes_a_correction(client, recorded):
    client.force_login(recorded["advisor"])

    response = client.post("/clients/pia/sessions/s1/correct",
                           {"notes": "Pia Lund: I want to retire in 2034.", "reason": "wrong retirement year"})
    assert response.status_code == 302
    page = client.get("/clients/pia/sessions/s1/").content.decode()

    assert "Original (version 1)" in page and "I want to retire in 2031." in page
    assert "Version 2: correction" in page and "I want to retire in 2034." in page
    assert "why: wrong retirement year" in page and "by adv" in page
    listing = client.get("/clients/pia/").content.decode()
    assert "corrected (version 2)" in listing and listing.count("/clients/pia/sessions/s1/") == 1


def test_a_correction_without_a_reason_is_refused_on_the_page_and_nothing_is_recorded(client, recorded):
    client.force_login(recorded["advisor"])
    response = client.post("/clients/pia/sessions/s1/correct", {"notes": "Pia Lund: 2034.", "reason": ""})
    assert response.status_code == 400 and "This field is required" in response.content.decode()
    assert ConversationSession.objects.count() == 1


def test_erasure_deletes_every_version_inside_a_maintenance_window(recorded):
    from advisor.services.erasure import erase_client

    correct_session(session=recorded["session"], author=recorded["advisor"],
                    notes="Pia Lund: I want to retire in 2034.", reason="wrong retirement year")
    report = erase_client(Client.objects.get(external_id="pia"), actor="chris", reason="GDPR request")

    assert report.sessions == 1 and ConversationSession.objects.count() == 0 and ConversationTurn.objects.count() == 0
    detail = AuditEntry.objects.get(action="records.erase").detail
    assert (detail["sessions"], detail["session_versions"], detail["maintenance_window"]) == (1, 2, True)
    with maintenance_window():  # the window closes after its block: the trigger refuses again
        pass
    import_sessions([LINE], "acme", drain=False)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM advisor_conversationturn")


def test_a_correction_reaching_memory_before_the_original_still_retires_the_original(clean_graph):
    from datetime import timedelta

    from django.utils import timezone

    from memory.models import OutboxEntry

    import_sessions([LINE], "acme", drain=False)
    firm = Firm.objects.get(slug="acme")
    advisor = User.objects.create_user("adv", password="pw-123456789", role="advisor", firm=firm)
    correct_session(session=ConversationSession.objects.get(), author=advisor,
                    notes="Pia Lund: I want to retire in 2034.", reason="wrong retirement year")
    original = OutboxEntry.objects.get(payload__session_id="s1")
    OutboxEntry.objects.filter(pk=original.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    assert drain_outbox().sessions == 1  # the correction alone: the original waits out a backoff

    OutboxEntry.objects.filter(pk=original.pk).update(next_attempt_at=None)
    assert drain_outbox().sessions == 1

    reader = Reader("acme", "pia")
    assert [f.value for f in memory_selectors.client_facts(reader) if f.slot == "goal:retirement"] == ["target 2034"]
    assert {m["status"] for m in memories_of("s1")} == {"corrected"}
    assert {m["reason"] for m in memories_of("s1")} == {"wrong retirement year"}
