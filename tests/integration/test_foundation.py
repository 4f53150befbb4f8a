"""The foundation against the real services: Neo4j over Bolt, Redis, a Celery worker, /healthz."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from django.test import override_settings

from advisor.models import Client, Firm, User
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
from memory.graph import driver as graph_driver
from memory.scope import client_scope


def test_graph_round_trip_through_managed_transactions(clean_graph):
    graph_driver.write(lambda tx: tx.run("CREATE (:RoundTrip {id: $id, value: $value})", id="rt-1", value=42).consume())

    value = graph_driver.read(lambda tx: tx.run("MATCH (n:RoundTrip {id: 'rt-1'}) RETURN n.value AS v").single()["v"])

    assert value == 42


@pytest.mark.django_db(transaction=True)
def test_real_worker_drains_outbox_into_neo4j(clean_graph, celery_worker_process):
    from memory.tasks import drain_memory_outbox

    firm = Firm.objects.create(slug="worker-firm", name="Worker Firm")
    client = Client.objects.create(firm=firm, external_id="wc1", name="Wendy Client")
    draft = SessionDraft(
        session_id="ws-1", channel="meeting", started_at=datetime(2024, 1, 5, 10, tzinfo=timezone.utc),
        participants={"Wendy Client": "client"},
        turns=(TurnDraft("w1", "Wendy Client", "I want to retire in 2040."),),
    )
    record_session(client=client, draft=draft)

    result = drain_memory_outbox.apply_async(queue="ingest").get(timeout=60)

    assert result["sessions"] == 1
    texts = graph_driver.read(lambda tx: [r["text"] for r in tx.run(
        "MATCH (t:Turn {scope: $scope}) RETURN t.text AS text", scope=client_scope("worker-firm", "wc1"))])
    assert texts == ["Wendy Client: I want to retire in 2040."]
    client.sessions.get().refresh_from_db()
    assert client.sessions.get().memory_status == "stored"


@pytest.mark.django_db(transaction=True)
def test_healthz_is_200_when_every_part_is_up(client, graph, celery_worker_process):
    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 200, body
    assert body["down"] == []
    assert body["parts"] == {part: {"status": "up"} for part in ("database", "neo4j", "redis", "celery")}


@pytest.mark.django_db(transaction=True)
def test_healthz_detail_names_the_worker_that_answered_for_staff(client, graph, celery_worker_process):
    client.force_login(User.objects.create_user("h-staff", password="pw-123456789", is_staff=True))

    body = client.get("/healthz", {"detail": "1"}).json()

    assert body["parts"]["celery"]["detail"].startswith("ok (pytest-")  # our worker, by name


@pytest.mark.django_db
def test_healthz_is_503_naming_neo4j_when_it_is_unreachable(client):
    graph_driver.close_driver()
    try:
        with override_settings(NEO4J_URI="bolt://127.0.0.1:1", NEO4J_CONNECTION_TIMEOUT=1.0):
            response = client.get("/healthz")
    finally:
        graph_driver.close_driver()

    assert response.status_code == 503
    body = response.json()
    assert "neo4j" in body["down"]
    assert body["parts"]["neo4j"] == {"status": "down"}
    assert body["parts"]["database"]["status"] == "up"
    assert "127.0.0.1" not in response.content.decode() and "bolt" not in response.content.decode()


@pytest.mark.django_db
def test_every_page_but_login_and_healthz_requires_login(client):
    assert client.get("/").status_code == 302
    assert client.get("/clients/ann/").status_code == 302
    assert client.get("/login/").status_code == 200
