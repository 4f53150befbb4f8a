"""`memory_erase`, the memory-graph step of an erasure request, against the real Neo4j: everything of one
client in the graph goes, nothing of anyone else, and their records stay until the retention purge."""
from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from advisor.models import Client, ConversationSession
from advisor.services.erasure import request_erasure
from advisor.services.importer import import_sessions
from memory import api
from memory.graph import driver as graph_driver
from audit.models import AuditEntry
from audit.services import verify_chain
from memory.models import OutboxEntry
from memory.scope import client_scope

pytestmark = pytest.mark.django_db


def session(client_id: str, name: str, text: str) -> str:
    return json.dumps({"client_id": client_id, "session_id": f"{client_id}-1", "channel": "meeting",
                       "started_at": "2024-03-03T10:00:00Z", "participants": {name: "client"},
                       "turns": [{"turn_id": f"{client_id}-t1", "speaker": name, "text": text}]})


def nodes_in(scope: str) -> int:
    return graph_driver.read(lambda tx: tx.run(
        "MATCH (n) WHERE n.scope = $scope OR n.id = $scope RETURN count(n) AS n", scope=scope).single()["n"])


@pytest.fixture
def two_clients(clean_graph):
    import_sessions([
        session("ann", "Ann Carter", "I want to retire in 2035, I bought Apple at $182.10 and I'm worried about inflation."),
        session("ben", "Ben Okafor", "I want to retire in 2030 and I hold Apple too."),
    ], "acme")


def erase(*extra: str) -> str:
    out = io.StringIO()
    call_command("memory_erase", "--firm", "acme", "--client", "ann", "--actor", "chris", "--reason", "GDPR request",
                 *extra, stdout=out)
    return out.getvalue()


def test_memory_erase_without_an_erasure_request_is_refused_and_names_the_one_way(two_clients):
    with pytest.raises(CommandError, match="no open erasure request. Record one first"):
        erase("--confirm")

    assert nodes_in(client_scope("acme", "ann")) > 3


def test_memory_erase_deletes_only_the_clients_memory_graph_and_keeps_records_others_and_shared_nodes(two_clients):
    ann_scope = client_scope("acme", "ann")
    assert nodes_in(ann_scope) > 3
    request_erasure(client=Client.objects.get(external_id="ann"), actor="chris", reason="GDPR request")

    output = erase("--confirm")

    assert "memory graph only: their records are kept until the retention period ends" in output
    assert nodes_in(ann_scope) == 0
    assert ConversationSession.objects.filter(client__external_id="ann").count() == 1  # books and records stay
    assert api.search(firm_id="acme", client_id="ann", query="retire Apple inflation", k=10) == []
    assert any("2030" in r.text for r in api.search(firm_id="acme", client_id="ben", query="retire", k=5))
    apple = graph_driver.read(lambda tx: tx.run("MATCH (s:Security {symbol: 'AAPL'}) RETURN count(s) AS n").single()["n"])
    assert apple == 1  # shared with Ben
    audit = list(AuditEntry.objects.filter(client_id="ann", action__startswith="memory.erase").order_by("id")
                 .values("action", "actor", "detail"))
    assert [a["action"] for a in audit] == ["memory.erase_queued", "memory.erase_graph"]
    assert audit[1]["detail"]["graph_nodes"] > 3
    assert {a["actor"] for a in audit} == {"chris"}
    assert "Ann" not in json.dumps(audit) and "2035" not in json.dumps(audit)  # no personal content
    assert verify_chain().ok


def test_erasure_needs_confirmation(two_clients):
    request_erasure(client=Client.objects.get(external_id="ann"), actor="chris", reason="GDPR request")
    with pytest.raises(CommandError, match="--confirm"):
        erase()

    assert nodes_in(client_scope("acme", "ann")) > 3


def test_erasure_with_neo4j_down_says_what_is_left_and_running_it_again_finishes(two_clients):
    request_erasure(client=Client.objects.get(external_id="ann"), actor="chris", reason="GDPR request")
    graph_driver.close_driver()
    try:
        with override_settings(NEO4J_URI="bolt://127.0.0.1:1", NEO4J_CONNECTION_TIMEOUT=1.0):
            with pytest.raises(CommandError, match="memory graph of client 'ann' is not erased yet"):
                erase("--confirm")
    finally:
        graph_driver.close_driver()
    assert OutboxEntry.objects.filter(processed_at__isnull=True).count() == 0

    erase("--confirm")

    assert nodes_in(client_scope("acme", "ann")) == 0
