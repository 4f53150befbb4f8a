"""The twin end to end on real Neo4j: sessions recorded and drained into memory, quotes refreshed,
viewpoints published, then `twin_ask` / `twin_brief` and the stored, append-only advice."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from neo4j.exceptions import Neo4jError
from django.db import DatabaseError, connection, transaction
from django.core.management import CommandError, call_command

from advisor.models import Client
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
from advisor.services.quotes import refresh_client_quotes
from memory.scope import Reader
from memory.graph import driver as graph_driver
from memory.graph.driver import GraphUnavailable
from memory.models import OutboxEntry
from memory.services import ingest
from memory.services.ingest import drain_outbox
from memory.services.retrieval import search
from tests.integration.twin_seed import MET, NOW, FixedProvider, seed_ann, seed_client
from audit.models import AppendOnlyError, AuditEntry
from twin.models import Advice
from twin.services.advice import ask, brief, memory_text
from twin.services.rules import ungrounded_numbers

pytestmark = pytest.mark.django_db

CHECKER = Path("/work/shared/tools/check_twin_json.py")


@pytest.fixture
def ann(clean_graph) -> Client:
    return seed_ann()


def run(*args) -> dict:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


def by_kind(doc: dict, kind: str) -> list[dict]:
    return [item for item in doc["items"] if item["kind"] == kind]


def test_brief_raises_each_rule_with_its_basis_and_cites_the_right_turns(ann):
    doc = run("twin_brief", "--client", "ann", "--json")

    assert doc["declined"] is False and doc["missing"] == [] and doc["changed_since"] is None
    breach = by_kind(doc, "exclusion_breach")
    assert [i["key"] for i in breach] == ["exclusion_breach:tobacco:MO"]
    assert {b["id"]: b.get("sources") for b in breach[0]["basis"] if b["type"] == "memory"}.popitem()[1] == ["a4"]
    concentration = {i["key"]: i["text"] for i in by_kind(doc, "concentration")}
    assert concentration["concentration:AAPL"].startswith("AAPL is 50.0% of the holdings' live value (10,000.00 of 20,000.00)")
    # (200 - 150) / 150 = +33.3%
    assert [i["text"] for i in by_kind(doc, "price_move")] == [
        f"You bought Apple at $150.00 last year; it is 200.00 now, +33.3% since {MET.day} {MET:%B %Y}."]
    # (230 - 200) / 200 = 15.0% above
    assert "the target is 15.0% above the live price" in by_kind(doc, "analyst_view")[0]["text"]
    assert [i["key"] for i in by_kind(doc, "goal_due")] == ["goal_due:goal:house"]
    cited = {c["id"]: c["sources"] for c in doc["citations"]}
    for kind, turn in (("exclusion_breach", "a4"), ("price_move", "a5"), ("goal_due", "a3")):
        assert cited[by_kind(doc, kind)[0]["basis"][0]["id"]] == [turn]
    quote = next(b for b in by_kind(doc, "price_move")[0]["basis"] if b["type"] == "quote")
    assert quote["price"] == 200.0 and quote["source"] == "fixed" and quote["as_of"] == NOW.isoformat()


def test_brief_json_passes_the_shared_shape_check(ann):
    out = io.StringIO()
    call_command("twin_brief", "--client", "ann", "--json", stdout=out)
    if CHECKER.exists():
        checked = subprocess.run([sys.executable, str(CHECKER)], input=out.getvalue(), capture_output=True, text=True)
        assert checked.returncode == 0 and checked.stdout.strip() == "ok", checked.stdout
    doc = json.loads(out.getvalue())
    assert {"advice_id", "answer", "declined", "missing", "items", "citations", "changed_since"} <= set(doc)


def test_ask_declines_and_names_what_is_missing_without_a_risk_tolerance(clean_graph):
    seed_client(turns=[("b1", "My horizon is 10 years."), ("b2", "I want to retire in 2040.")], external_id="bo")

    doc = run("twin_ask", "--client", "bo", "--question", "Should I buy more Apple?", "--json")

    assert doc["declined"] is True and doc["missing"] == ["risk tolerance"]
    assert doc["items"][0]["kind"] == "decline"
    assert doc["answer"].startswith("I can't make personalised recommendations for this client yet: "
                                    "there is no risk tolerance on record.")


def test_ask_answers_from_memory_citing_the_source_turns(ann):
    doc = run("twin_ask", "--client", "ann", "--question", "When does Ann want to buy the house?", "--json")

    memories = by_kind(doc, "memory")
    assert memories and any("house" in m["text"] and m["basis"][0]["sources"] == ["a3"] for m in memories)
    assert by_kind(doc, "goal_due") and not by_kind(doc, "concentration")  # a question about the goal, not the mix


def test_second_brief_says_what_changed_and_why(ann):
    first = brief(client=ann)
    record_session(client=ann, draft=SessionDraft(
        session_id="ann-s2", channel="call", started_at=NOW - timedelta(days=1), participants={"Ann Carter": "client"},
        turns=(TurnDraft("c1", "Ann Carter", "Actually I'm fine with a lot of volatility now, I'm aggressive."),)))
    drain_outbox()
    refresh_client_quotes(FixedProvider({"AAPL": 160.0, "MO": 50.0, "KO": 50.0}, NOW + timedelta(minutes=5)))

    second = brief(client=ann).to_contract()

    assert second["changed_since"]["advice_id"] == first.advice.id
    changes = second["changed_since"]["changes"]
    superseded = [c for c in changes if c["type"] == "fact_superseded"]
    assert superseded and superseded[0]["reason"] == "Risk tolerance changed from \u201cconservative\u201d to \u201caggressive\u201d."
    assert any(c["type"] == "price_moved" and c["symbol"] == "AAPL" and c["change_percent"] == -20.0 for c in changes)
    # AAPL 160 x 50 = 8,000 of 18,000 = 44.4%; the 150 -> 160 move is +6.7%: still past 5%
    changed = {c["key"]: c for c in changes if c["type"] == "item_changed"}
    assert "AAPL moved from 200.00 to 160.00 (-20.0%)." in changed["concentration:AAPL"]["reason"]
    assert Advice.objects.get(pk=second["advice_id"]).previous_id == first.advice.id


def test_advice_is_stored_append_only_and_remembered(ann):
    result = ask(client=ann, question="How is Apple doing?")
    advice = result.advice

    assert advice.profile_facts and {q["symbol"] for q in advice.quotes} == {"AAPL", "KO", "MO"}
    assert advice.composer == "deterministic-1" and advice.viewpoint_ids[0]["symbol"] == "AAPL"
    with pytest.raises(AppendOnlyError):
        advice.answer = "edited"
        advice.save()
    with pytest.raises(AppendOnlyError):
        Advice.objects.filter(pk=advice.pk).update(answer="edited")
    with pytest.raises(AppendOnlyError):
        advice.delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE twin_advice SET answer = 'edited' WHERE id = %s", [advice.pk])
    # The answer did not wait on the graph: its note is queued, and the next drain writes it.
    assert advice.memory_id not in {r.id for r in search(Reader("north", "ann"), "twin answer Apple", k=10)}
    assert drain_outbox().remaining == 0
    recalled = search(Reader("north", "ann"), "twin answer Apple", k=10)
    assert any(r.id == advice.memory_id and r.origin == f"advice:{advice.id}" for r in recalled)


def test_the_answer_is_kept_while_neo4j_refuses_its_note_and_the_note_is_written_when_it_is_back(ann, monkeypatch):
    def refused(tx, builder) -> None:  # noqa: ANN001  (what Neo4j answers a write while it stops or starts)
        raise Neo4jError._hydrate_neo4j(code="Neo.TransientError.General.DatabaseUnavailable",
                                        message="The database is not currently available to serve your request.")

    monkeypatch.setattr(ingest, "_write_with_supersession", refused)
    advice = ask(client=ann, question="How is Apple doing?").advice
    with pytest.raises(GraphUnavailable):
        drain_outbox()
    entry = OutboxEntry.objects.get(kind=OutboxEntry.Kind.NOTE)
    assert (entry.status, entry.attempts, entry.payload["memory_id"]) == ("pending", 1, advice.memory_id)
    assert Advice.objects.get(pk=advice.pk).answer == advice.answer

    monkeypatch.undo()
    assert drain_outbox().remaining == 0
    note = graph_driver.read(lambda tx: tx.run(
        "MATCH (n:Note {id: $id})-[:ABOUT]->(c:Client) RETURN n.text AS text, n.source AS source, c.client_id AS client",
        id=advice.memory_id).single().data())
    assert note == {"text": memory_text(advice), "source": f"advice:{advice.id}", "client": "ann"}
    assert AuditEntry.objects.get(target=f"memory:{advice.memory_id}").action == "memory.remember"


def test_as_of_advises_from_what_the_twin_knew_then(clean_graph):
    bo = seed_client(turns=[("b1", "My horizon is 10 years."), ("b2", "I want to retire in 2040.")], external_id="bo")
    record_session(client=bo, draft=SessionDraft(
        session_id="bo-s2", channel="call", started_at=NOW - timedelta(days=2), participants={"Ann Carter": "client"},
        turns=(TurnDraft("b3", "Ann Carter", "I'd call myself moderate, some risk is fine."),)))
    drain_outbox()

    before = run("twin_brief", "--client", "bo", "--as-of", (NOW - timedelta(days=10)).isoformat(), "--json")
    today = run("twin_brief", "--client", "bo", "--json")

    assert before["declined"] is True and before["missing"] == ["risk tolerance"]
    assert today["declined"] is False and today["missing"] == []
    assert Advice.objects.get(pk=before["advice_id"]).as_of == NOW - timedelta(days=10)


def test_every_figure_in_a_real_brief_comes_from_its_basis(ann):
    items = run("twin_brief", "--client", "ann", "--json")["items"]

    assert len(items) >= 5
    assert {i["key"]: ungrounded_numbers(i["text"], i["basis"], i["figures"]) for i in items} == {i["key"]: [] for i in items}


def test_a_naive_as_of_is_refused_with_a_clear_message(ann):
    with pytest.raises(CommandError, match="is not an ISO 8601 date-time with a time zone"):
        run("twin_brief", "--client", "ann", "--as-of", "2026-03-01T10:00:00", "--json")
    with pytest.raises(CommandError, match="no client 'nobody'"):
        run("twin_brief", "--client", "nobody", "--json")
    assert Advice.objects.count() == 0
