"""The public command-line contracts (docs/architecture.md, "public contracts") and analyst viewpoints as shared memory."""
from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from advisor.models import Firm, User
from advisor.services.viewpoints import ViewpointRejected, publish_viewpoint
from advisor.services.importer import import_sessions
from memory import api
from memory.services.ingest import drain_outbox

pytestmark = pytest.mark.django_db

LINES = [
    json.dumps({"client_id": "kim", "session_id": "k1", "channel": "call", "started_at": "2024-02-01T09:00:00Z",
                "participants": {"Kim Lee": "client", "Alex": "advisor"},
                "turns": [{"turn_id": "k1-1", "speaker": "Kim Lee", "text": "I want to retire in 2036."},
                          {"turn_id": "k1-2", "speaker": "Alex", "text": "Noted, we will plan for that."}]}),
    json.dumps({"client_id": "kim", "session_id": "k2", "channel": "call", "started_at": "2024-08-01T09:00:00Z",
                "participants": {"Kim Lee": "client"},
                "turns": [{"turn_id": "k2-1", "speaker": "Kim Lee", "text": "Change of plan: I will retire in 2032."}]}),
]


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_memory_search_prints_the_contract_shape_and_as_of_sees_the_past(clean_graph, tmp_path):
    path = tmp_path / "kim.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    assert "imported 2 sessions (3 turns)" in run("memory_import", str(path), "--firm", "contracts")

    now = json.loads(run("memory_search", "--client", "kim", "--query", "retirement year", "--k", "5", "--json"))
    past = json.loads(run("memory_search", "--client", "kim", "--query", "retirement year", "--as-of",
                          "2024-03-01T00:00:00Z", "--json"))

    assert set(now[0]) == {"id", "text", "level", "score", "valid_from", "valid_to", "sources"}
    facts_now = [r for r in now if r["level"] == "fact"]
    assert facts_now and "2032" in facts_now[0]["text"] and facts_now[0]["sources"] == ["k2-1"]
    assert all("2032" not in r["text"] for r in past)
    assert any("2036" in r["text"] for r in past)


def test_memory_search_batch_answers_each_query_on_its_own_line(clean_graph, tmp_path):
    import_sessions(LINES, "contracts")
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"qid": "a", "client_id": "kim", "query": "retire"}) + "\n"
                       + "not json\n" + json.dumps({"qid": "b", "client_id": "kim", "query": "plan"}) + "\n")

    lines = [json.loads(line) for line in run("memory_search", "--queries", str(queries)).splitlines()]

    assert [line["qid"] for line in lines] == ["a", "b"]
    assert lines[0]["results"] and all("sources" in r for r in lines[0]["results"])


def test_analyst_viewpoint_is_shared_within_the_firm_only_and_newer_view_supersedes(clean_graph):
    firm = Firm.objects.create(slug="north", name="North")
    analyst = User.objects.create(username="priya", role=User.Role.ANALYST, firm=firm)
    import_sessions(LINES, "north")

    publish_viewpoint(analyst=analyst, symbol="aapl", stance="buy", rationale="Services growth.", target_price=210)
    drain_outbox()
    publish_viewpoint(analyst=analyst, symbol="Apple", stance="hold", rationale="Fully valued now.", target_price=200)
    drain_outbox()

    seen = api.search(firm_id="north", client_id="kim", query="analyst view on AAPL", k=10)
    views = [r.text for r in seen if r.kind == "viewpoint"]
    assert len(views) == 1 and "HOLD" in views[0] and "Fully valued" in views[0]
    assert api.search(firm_id="elsewhere", client_id="kim", query="analyst view on AAPL", k=10) == []
    with pytest.raises(ViewpointRejected, match="not a security we know"):
        publish_viewpoint(analyst=analyst, symbol="NOTATICKER", stance="buy", rationale="x")


def test_memory_import_refuses_fewer_than_one_drain_process_and_records_nothing(tmp_path):
    from django.core.management import CommandError

    from advisor.models import ConversationSession

    path = tmp_path / "kim.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    with pytest.raises(CommandError, match="--workers must be at least 1"):
        run("memory_import", str(path), "--firm", "contracts", "--workers", "0")
    assert not ConversationSession.objects.exists()
