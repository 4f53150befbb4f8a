"""The twin's JSON API and advice pages: session and token auth, the portal's permissions, bad input."""
from __future__ import annotations

import json

import pytest
from rest_framework.authtoken.models import Token

from advisor.models import Client, Firm, User
from tests.integration.twin_seed import seed_ann
from twin.models import Advice

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(clean_graph):
    ann = seed_ann()
    advisor = ann.advisor
    other_firm = Firm.objects.create(slug="south", name="South")
    outsider = User.objects.create_user("olga", password="pw-123456789", role="advisor", firm=other_firm)
    Client.objects.create(firm=other_firm, external_id="zed", name="Zed", advisor=outsider)
    colleague = User.objects.create_user("carl", password="pw-123456789", role="advisor", firm=ann.firm)
    analyst = User.objects.get(username="priya")
    return {"ann": ann, "advisor": advisor, "outsider": outsider, "colleague": colleague, "analyst": analyst}


def post(client, url: str, body: dict, **headers):
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


def test_token_client_asks_and_gets_the_contract(client, people):
    token = Token.objects.create(user=people["advisor"])

    response = post(client, "/api/clients/ann/ask", {"question": "How is Apple doing?"},
                    HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 201
    doc = response.json()
    assert {"advice_id", "answer", "declined", "missing", "items", "citations", "changed_since"} <= set(doc)
    advice = Advice.objects.get(pk=doc["advice_id"])
    assert advice.channel == "api" and advice.actor == people["advisor"]
    assert "price_move" in {i["kind"] for i in doc["items"]}


def test_session_login_briefs_then_lists_and_reads_the_history(client, people):
    client.force_login(people["advisor"])

    first = post(client, "/api/clients/ann/brief", {"channel": "chat"}).json()
    second = post(client, "/api/clients/ann/brief", {}).json()
    history = client.get("/api/clients/ann/advice").json()
    detail = client.get(f"/api/clients/ann/advice/{first['advice_id']}").json()

    assert [h["advice_id"] for h in history] == [second["advice_id"], first["advice_id"]]
    assert history[0]["previous_advice_id"] == first["advice_id"]
    assert second["changed_since"] == {"advice_id": first["advice_id"], "changes": []}
    assert detail["items"] == first["items"]


def test_another_firms_client_or_a_colleagues_client_is_404_and_no_advice_is_stored(client, people):
    token = Token.objects.create(user=people["outsider"])
    assert post(client, "/api/clients/ann/ask", {"question": "x"}, HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 404
    client.force_login(people["colleague"])
    assert post(client, "/api/clients/ann/brief", {}).status_code == 404
    client.force_login(people["analyst"])
    assert client.get("/api/clients/ann/advice").status_code == 404
    assert Advice.objects.count() == 0


def test_advice_of_another_client_is_not_readable_through_ones_own_client(client, people):
    advice_id = post_as(client, people["advisor"], "/api/clients/ann/brief", {}).json()["advice_id"]
    client.force_login(people["outsider"])
    assert client.get(f"/api/clients/zed/advice/{advice_id}").status_code == 404


def post_as(client, user, url, body):
    client.force_login(user)
    return post(client, url, body)


def test_without_credentials_the_api_answers_401_not_a_login_page(client, people):
    response = post(client, "/api/clients/ann/ask", {"question": "x"})
    assert response.status_code == 401 and response["Content-Type"].startswith("application/json")


def test_bad_input_gets_a_400_that_says_what_to_fix(client, people):
    client.force_login(people["advisor"])
    assert post(client, "/api/clients/ann/ask", {}).json() == {"error": 'Send {"question": "..."} as JSON.'}
    empty = post(client, "/api/clients/ann/ask", {"question": "  "})
    assert empty.status_code == 400 and empty.json()["error"] == "Ask a question: the text is empty."
    naive = post(client, "/api/clients/ann/brief", {"as_of": "2026-03-01T12:00:00"})
    assert naive.status_code == 400 and "with a time zone" in naive.json()["error"]
    assert post(client, "/api/clients/ann/brief", {"channel": "cli"}).status_code == 400
    assert Advice.objects.count() == 0


def test_portal_timeline_shows_advice_and_what_changed_between_two(client, people):
    client.force_login(people["advisor"])
    assert client.post("/clients/ann/advice/brief").status_code == 302
    post(client, "/api/clients/ann/ask", {"question": "When does Ann want to buy the house?"})
    newer, older = Advice.objects.filter(client=people["ann"]).order_by("-created_at")

    page = client.get("/clients/ann/advice/").content.decode()
    compare = client.get(f"/clients/ann/advice/compare?from={older.pk}&to={newer.pk}").content.decode()

    assert "AAPL is 50.0% of the holdings" in page and "When does Ann want to buy the house?" in page
    assert "What changed and why" in compare and "Before" in compare
    client.force_login(people["colleague"])
    assert client.get("/clients/ann/advice/").status_code == 404
    assert client.get(f"/clients/ann/advice/compare?from={older.pk}&to={newer.pk}").status_code == 404
