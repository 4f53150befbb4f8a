"""Every view of a client's record by a person is in the hash-chained audit trail; compliance sees the
trail, verifies the chain and exports the client's full record (JSON and CSV) for a date range.
Real SQLite, the real Neo4j."""
from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from advisor.models import User
from advisor.services.export import export_client_record, section_names
from advisor.services.sessions import correct_session
from audit.models import AuditEntry
from audit.triggers import maintenance_window
from tests.integration.twin_seed import MET, seed_client
from twin.services.advice import brief

pytestmark = pytest.mark.django_db

TURNS = [("t1", "I want to retire in 2031."), ("t2", "I hold 100 Apple shares.")]


@pytest.fixture
def ann(clean_graph):
    client = seed_client(turns=TURNS)
    compliance = User.objects.create_user("carla", password="pw-123456789", role="compliance", firm=client.firm)
    return {"client": client, "advisor": client.advisor, "compliance": compliance}


def views_logged() -> list[tuple[str, str, str, str | None]]:
    return [(e.actor, e.detail["page"], e.target, e.ip_address)
            for e in AuditEntry.objects.filter(action="record.viewed").order_by("id")]


def test_each_client_page_a_person_opens_is_logged_with_who_what_and_where(client, ann):
    client.force_login(ann["advisor"])
    pages = ["/clients/ann/", "/clients/ann/memory?q=retire", "/clients/ann/prices/AAPL",
             "/clients/ann/sessions/ann-s1/", "/clients/ann/advice/", "/api/clients/ann/advice"]
    for page in pages:
        assert client.get(page, REMOTE_ADDR="10.1.2.3").status_code == 200, page

    assert views_logged() == [
        ("alex", "client", "client", "10.1.2.3"), ("alex", "memory_search", "memory_search", "10.1.2.3"),
        ("alex", "price_chart", "security:AAPL", "10.1.2.3"), ("alex", "session", "session:ann-s1", "10.1.2.3"),
        ("alex", "advice_timeline", "advice_timeline", "10.1.2.3"),
        ("alex", "api_advice_history", "api_advice_history", "10.1.2.3")]
    assert "retire" not in json.dumps([e.detail for e in AuditEntry.objects.filter(action="record.viewed")])


def test_a_page_refused_to_a_person_is_not_logged_as_a_view(client, ann):
    other = User.objects.create_user("eve", password="pw-123456789", role="advisor", firm=ann["client"].firm)
    client.force_login(other)
    assert client.get("/clients/ann/").status_code == 404
    assert views_logged() == []


def test_compliance_sees_the_clients_trail_and_that_the_chain_verifies(client, ann):
    client.force_login(ann["compliance"])
    page = client.get("/clients/ann/audit/").content.decode()

    assert "The audit chain verifies" in page and "session.recorded" in page and "record.viewed" in page
    assert client.get("/clients/ann/").status_code == 200  # compliance reads the record (logged)
    client.force_login(ann["advisor"])
    assert client.get("/clients/ann/audit/").status_code == 403


def test_the_compliance_page_and_the_command_say_when_the_chain_was_tampered_with(client, ann):
    entry = AuditEntry.objects.filter(client_id="ann").first()
    with maintenance_window(), connection.cursor() as cursor:  # someone with the database's keys, round the trigger
        cursor.execute("UPDATE audit_auditentry SET actor = 'nobody' WHERE id = %s", [entry.pk])
    client.force_login(ann["compliance"])

    assert f"does NOT verify at entry {entry.pk}" in client.get("/clients/ann/audit/").content.decode()
    out = io.StringIO()
    with pytest.raises(CommandError, match=f"at entry {entry.pk}: its content was altered"):
        call_command("audit_verify", stdout=out)
    assert json.loads(out.getvalue())["ok"] is False


def test_audit_verify_prints_the_entry_count_when_the_chain_is_intact(ann):
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    result = json.loads(out.getvalue())
    assert result["ok"] is True and result["entries"] == AuditEntry.objects.count() and result["entries"] >= 1


def _range() -> tuple[datetime, datetime]:
    return MET - timedelta(days=1), datetime.now(timezone.utc) + timedelta(minutes=5)


def test_the_export_holds_sessions_with_versions_turns_memory_versions_advice_with_basis_and_audit(ann):
    session = ann["client"].sessions.get()
    correct_session(session=session, author=ann["advisor"], reason="wrong retirement year",
                    notes="Ann Carter: I want to retire in 2034.\nAnn Carter: I hold 100 Apple shares.")
    from memory.services.ingest import drain_outbox

    drain_outbox()
    advice = brief(client=ann["client"]).advice
    since, until = _range()

    record = export_client_record(client=ann["client"], since=since, until=until, actor="carla")

    sections = record["sections"]
    assert set(section_names()) == {"sessions", "turns", "memory", "audit", "advice", "chat", "digests"}
    assert [(s["session_id"], s["version"], s["correction_reason"]) for s in sections["sessions"]] == [
        ("ann-s1", 1, ""), ("ann-s1", 2, "wrong retirement year")]
    assert [(t["version"], t["text"]) for t in sections["turns"]] == [
        (1, "I want to retire in 2031."), (1, "I hold 100 Apple shares."),
        (2, "I want to retire in 2034."), (2, "I hold 100 Apple shares.")]
    retirement = {(m["value"], m["status"], m["status_reason"]) for m in sections["memory"]
                  if m["slot"] == "goal:retirement"}
    assert retirement == {("target 2031", "corrected", "wrong retirement year"), ("target 2034", "active", None)}
    assert [a["advice_id"] for a in sections["advice"]] == [advice.id]
    assert sections["advice"][0]["items"] and all("basis" in item for item in sections["advice"][0]["items"])
    assert {"session.recorded", "session.corrected"} <= {a["action"] for a in sections["audit"]}
    exported = AuditEntry.objects.get(action="record.exported")
    assert (exported.actor, exported.client_id, record["audit_entry"]) == ("carla", "ann", exported.pk)


def test_the_export_leaves_out_what_is_outside_the_range(ann):
    since = MET + timedelta(days=1)
    record = export_client_record(client=ann["client"], since=since, until=since + timedelta(days=1), actor="carla")
    assert {name: len(rows) for name, rows in record["sections"].items() if name != "audit"} == {
        "sessions": 0, "turns": 0, "memory": 0, "advice": 0, "chat": 0, "digests": 0}


def test_the_command_writes_json_and_a_zip_of_csvs(ann, tmp_path):
    since, until = _range()
    call_command("export_client_record", "--firm", "north", "--client", "ann", "--since", since.isoformat(),
                 "--until", until.isoformat(), "--format", "json", "--out", str(tmp_path / "ann.json"),
                 stdout=io.StringIO())
    call_command("export_client_record", "--firm", "north", "--client", "ann", "--since", since.isoformat(),
                 "--until", until.isoformat(), "--format", "csv", "--out", str(tmp_path / "ann.zip"),
                 stdout=io.StringIO())

    exported = json.loads((tmp_path / "ann.json").read_text())
    assert [t["text"] for t in exported["sections"]["turns"]] == [text for _, text in TURNS]
    with zipfile.ZipFile(tmp_path / "ann.zip") as archive:
        turns = list(csv.DictReader(io.StringIO(archive.read("turns.csv").decode())))
        summary = list(csv.DictReader(io.StringIO(archive.read("export.csv").decode())))
    assert [t["text"] for t in turns] == [text for _, text in TURNS]
    assert {row["section"]: int(row["rows"]) for row in summary}["turns"] == 2


@pytest.mark.parametrize(("since", "message"), [("2024-13-01T00:00:00Z", "not an ISO 8601"),
                                                 ("2024-01-01T00:00:00", "needs a time zone")])
def test_the_command_refuses_a_bad_time_and_writes_nothing(ann, tmp_path, since, message):
    with pytest.raises(CommandError, match=message):
        call_command("export_client_record", "--firm", "north", "--client", "ann", "--since", since,
                     "--until", "2030-01-01T00:00:00Z", "--out", str(tmp_path / "x.json"))
    assert not (tmp_path / "x.json").exists()


def test_compliance_downloads_the_export_from_the_portal_and_others_cannot(client, ann):
    client.force_login(ann["compliance"])
    response = client.get("/clients/ann/export", {"since": MET.date().isoformat(),
                                                  "until": datetime.now(timezone.utc).date().isoformat(),
                                                  "format": "csv"}, REMOTE_ADDR="10.9.9.9")

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert 'filename="ann-' in response["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert {"sessions.csv", "turns.csv", "memory.csv", "audit.csv", "advice.csv", "export.csv"} <= set(archive.namelist())
    assert AuditEntry.objects.get(action="record.exported").ip_address == "10.9.9.9"
    assert client.get("/clients/ann/export", {"since": "2024-02-30", "until": "2024-03-01"}).status_code == 400
    client.force_login(ann["advisor"])
    assert client.get("/clients/ann/export", {"since": "2024-01-01", "until": "2030-01-01"}).status_code == 403


def test_the_export_holds_the_chat_as_it_was_said_and_answered(ann):
    from twin.services import chat

    client_user = User.objects.create_user("ann-c", password="pw-123456789", role="client", firm=ann["client"].firm)
    ann["client"].user = client_user
    ann["client"].save(update_fields=["user"])
    conversation = chat.conversation_for(client=ann["client"], actor=client_user)
    said = chat.say(conversation=conversation, text="When did I say I want to retire?", actor=client_user)
    since, until = _range()

    rounds = export_client_record(client=ann["client"], since=since, until=until, actor="carla")["sections"]["chat"]

    assert [(r["round"], r["said_by"], r["text"], r["status"]) for r in rounds] == [
        (said.number, "ann-c", "When did I say I want to retire?", said.status)]
    assert rounds[0]["answer"] == said.answer and rounds[0]["answer"]
