"""Portal pages: permissions, bad input answered with clear messages, nothing lost."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from advisor.models import Client, ConversationSession, Firm, User, Viewpoint
from memory.models import OutboxEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def firm_people():
    firm = Firm.objects.create(slug="p-firm", name="P Firm")
    other = Firm.objects.create(slug="other", name="Other")
    advisor = User.objects.create_user("adv", password="pw-123456789", role="advisor", firm=firm)
    analyst = User.objects.create_user("ana", password="pw-123456789", role="analyst", firm=firm)
    client_user = User.objects.create_user("cli", password="pw-123456789", role="client", firm=firm)
    ann = Client.objects.create(firm=firm, external_id="ann", name="Ann Carter", advisor=advisor, user=client_user)
    Client.objects.create(firm=firm, external_id="bob", name="Bob Stone", advisor=advisor)
    Client.objects.create(firm=other, external_id="zed", name="Zed", advisor=None)
    return {"advisor": advisor, "analyst": analyst, "client_user": client_user, "ann": ann}


def test_advisor_records_typed_notes_and_the_session_is_pending_memory(client, firm_people):
    client.force_login(firm_people["advisor"])

    response = client.post("/clients/ann/sessions/new", {
        "channel": "meeting", "started_at": "2024-05-01 10:00",
        "notes": "Ann Carter: I want to retire in 2034.\nAlex: Noted.",
    })

    assert response.status_code == 302
    session = ConversationSession.objects.get()
    assert session.memory_status == "pending" and session.turns.count() == 2
    assert session.turns.first().role == "client"
    assert OutboxEntry.objects.filter(processed_at__isnull=True).count() == 1
    page = client.get("/").content.decode()
    assert "1 pending memory" in page


def test_binary_upload_is_refused_with_a_clear_message_and_nothing_saved(client, firm_people):
    client.force_login(firm_people["advisor"])

    response = client.post("/clients/ann/sessions/new", {
        "channel": "meeting", "started_at": "2024-05-01 10:00",
        "transcript": SimpleUploadedFile("t.pdf", b"%PDF-1.4\x00\x01binary"),
    })

    assert response.status_code == 400
    assert "not a text transcript" in response.content.decode()
    assert ConversationSession.objects.count() == 0


def test_a_client_sees_only_their_own_page_and_never_another_firms_client(client, firm_people):
    client.force_login(firm_people["client_user"])

    assert client.get("/clients/ann/").status_code == 200
    assert client.get("/clients/bob/").status_code == 404
    assert client.get("/clients/zed/").status_code == 404


def test_analyst_publishes_a_viewpoint_and_a_bad_ticker_is_explained(client, firm_people):
    client.force_login(firm_people["analyst"])

    bad = client.post("/viewpoints/", {"symbol": "NOPE123", "stance": "buy", "rationale": "x"})
    good = client.post("/viewpoints/", {"symbol": "MSFT", "stance": "buy", "rationale": "Cloud.", "target_price": "450"})

    assert bad.status_code == 400 and "not a security we know" in bad.content.decode()
    assert good.status_code == 302
    assert Viewpoint.objects.get().symbol == "MSFT"


def test_what_the_twin_knows_about_a_client_is_their_own_memory_not_the_firms_analyst_views(client, firm_people, clean_graph):
    from memory.services.ingest import drain_outbox

    client.force_login(firm_people["advisor"])
    client.post("/clients/ann/sessions/new", {"channel": "meeting", "started_at": "2024-05-01 10:00",
                                              "notes": "Ann Carter: I want to retire in 2034.\nAlex: Noted."})
    client.force_login(firm_people["analyst"])
    client.post("/viewpoints/", {"symbol": "MSFT", "stance": "buy", "rationale": "Cloud margins.", "target_price": "450"})
    drain_outbox()
    client.force_login(firm_people["advisor"])

    knows = client.get("/clients/ann/").content.decode().split("What the twin knows", 1)[1].split("</section>", 1)[0]

    assert "2034" in knows
    assert "Analyst view on MSFT" not in knows and "Cloud margins" not in knows


def test_only_analysts_publish_viewpoints(client, firm_people):
    client.force_login(firm_people["advisor"])

    response = client.post("/viewpoints/", {"symbol": "MSFT", "stance": "buy", "rationale": "Cloud."})

    assert response.status_code == 403 and Viewpoint.objects.count() == 0


@pytest.mark.parametrize("role", ["client_user", "analyst"])
def test_only_the_clients_advisor_records_sessions(client, firm_people, role):
    client.force_login(firm_people[role])

    response = client.post("/clients/ann/sessions/new", {
        "channel": "meeting", "started_at": "2024-05-01 10:00", "notes": "Ann Carter: I want to retire in 2034."})

    assert response.status_code in (403, 404)
    assert ConversationSession.objects.count() == 0


def test_compliance_reads_a_client_page_but_cannot_record_a_session(client, firm_people):
    compliance = User.objects.create_user("comp", password="pw-123456789", role="compliance", firm=firm_people["ann"].firm)
    client.force_login(compliance)

    assert client.get("/clients/ann/").status_code == 200
    response = client.post("/clients/ann/sessions/new", {
        "channel": "meeting", "started_at": "2024-05-01 10:00", "notes": "Ann Carter: I want to retire in 2034."})
    assert response.status_code == 403 and ConversationSession.objects.count() == 0


def test_plotly_js_is_served_from_the_package_compressed_without_login(client):
    response = client.get("/static/plotly/plotly.min.js", HTTP_ACCEPT_ENCODING="gzip")

    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert int(response.headers["Content-Length"]) < 2_000_000  # ~1.5 MB instead of 4.8 MB on a phone
