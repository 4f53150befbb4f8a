"""The chat and review pages: who may see what, and bad input answered clearly with nothing lost."""
from __future__ import annotations

import pytest

from advisor.models import Client, Firm, User
from memory.services.ingest import drain_outbox
from twin.models import ChatRound, ReviewItem, TwinFirmSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(clean_graph):
    firm = Firm.objects.create(slug="pages", name="Pages")
    advisor = User.objects.create_user("adv", password="pw-123456789", role="advisor", firm=firm)
    other_advisor = User.objects.create_user("adv2", password="pw-123456789", role="advisor", firm=firm)
    compliance = User.objects.create_user("comp", password="pw-123456789", role="compliance", firm=firm)
    ann_user = User.objects.create_user("ann", password="pw-123456789", role="client", firm=firm)
    ben_user = User.objects.create_user("ben", password="pw-123456789", role="client", firm=firm)
    Client.objects.create(firm=firm, external_id="ann", name="Ann Carter", advisor=advisor, user=ann_user)
    Client.objects.create(firm=firm, external_id="ben", name="Ben Okafor", advisor=advisor, user=ben_user)
    return {"advisor": advisor, "other_advisor": other_advisor, "compliance": compliance, "ann": ann_user,
            "ben": ben_user}


def test_a_client_reaches_their_own_chat_and_another_clients_chat_is_404(client, people):
    client.force_login(people["ann"])

    own = client.get("/chat/ann/")

    assert own.status_code == 200
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in own.content.decode()
    assert client.get("/chat/ben/").status_code == 404
    assert client.post("/chat/ben/say", {"text": "hello"}).status_code == 404
    assert client.post("/chat/ben/back", {"to_round": "0"}).status_code == 404
    assert ChatRound.objects.count() == 0


def test_an_empty_message_is_answered_with_a_reason_and_nothing_recorded(client, people):
    client.force_login(people["ann"])

    response = client.post("/chat/ann/say", {"text": "   "})

    assert response.status_code == 400 and "Type a message first." in response.content.decode()
    assert ChatRound.objects.count() == 0


def test_a_too_long_message_is_refused_and_kept_in_the_box(client, people):
    client.force_login(people["ann"])
    text = "I want to retire early. " * 100

    response = client.post("/chat/ann/say", {"text": text})

    page = response.content.decode()
    assert response.status_code == 400 and "under 2000 characters (this one has 2399)" in page
    assert "I want to retire early. I want to retire early." in page


def test_a_message_is_recorded_answered_and_shown_with_its_disclosure(client, people):
    client.force_login(people["ann"])

    response = client.post("/chat/ann/say", {"text": "I'm fine with moderate risk."})
    drain_outbox()
    page = client.get("/chat/ann/").content.decode()

    assert response.status_code == 302 and response["Location"] == "/chat/ann/#round-1"
    assert "I&#x27;m fine with moderate risk." in page
    assert "not a personal recommendation" in page


def test_an_advisor_reads_the_chat_but_does_not_speak_for_the_client(client, people):
    client.force_login(people["advisor"])

    assert client.get("/chat/ann/").status_code == 200
    response = client.post("/chat/ann/say", {"text": "hello"})

    assert response.status_code == 400 and "Only the client speaks" in response.content.decode()


def test_going_back_to_a_round_that_is_not_a_number_is_explained(client, people):
    client.force_login(people["ann"])

    response = client.post("/chat/ann/back", {"to_round": "two"})

    assert response.status_code == 400 and "Choose a round to go back to." in response.content.decode()


def test_compliance_reads_a_chat_without_acting_and_clients_cannot_open_the_review_queue(client, people):
    client.force_login(people["compliance"])
    page = client.get("/chat/ann/")
    assert page.status_code == 200 and "Go back one round" not in page.content.decode()
    assert client.post("/chat/ann/say", {"text": "hello"}).status_code == 400  # only the client speaks
    client.force_login(people["ann"])
    assert client.get("/review/").status_code == 403


def test_only_the_clients_own_advisor_can_release_a_held_answer(client, people):
    TwinFirmSettings.objects.create(firm=people["ann"].firm, review_policy="all")
    client.force_login(people["ann"])
    client.post("/chat/ann/say", {"text": "What is my risk tolerance?"})
    item = ReviewItem.objects.get()

    client.force_login(people["other_advisor"])
    assert client.post(f"/review/answers/{item.pk}", {"decision": "approve"}).status_code == 404
    client.force_login(people["advisor"])
    queue = client.get("/review/").content.decode()
    released = client.post(f"/review/answers/{item.pk}", {"decision": "approve"})

    assert "What is my risk tolerance?" in queue
    assert released.status_code == 302
    assert ChatRound.objects.get().status == "answered"


def test_with_neo4j_down_a_message_is_kept_unanswered_and_the_page_says_why(client, people):
    from tests.integration.test_failures import neo4j_unreachable

    client.force_login(people["ann"])
    with neo4j_unreachable():
        response = client.post("/chat/ann/say", {"text": "I'd call myself aggressive now."})
        page = client.get("/chat/ann/").content.decode()

    chat_round = ChatRound.objects.get()
    assert response.status_code == 302
    assert (chat_round.status, chat_round.session.memory_status) == ("unanswered", "pending")
    assert "Not answered: the twin&#x27;s memory could not be reached. What you said is saved" in page
    assert "The twin&#x27;s memory cannot be reached right now" in page
    drain_outbox()  # Neo4j is back: the words become memory like any session
    chat_round.session.refresh_from_db()
    assert chat_round.session.memory_status == "stored"


def test_going_back_while_neo4j_is_down_is_recorded_and_the_memory_follows_when_it_is_back(client, people):
    from tests.integration.test_failures import neo4j_unreachable
    from twin.services import chat

    client.force_login(people["ann"])
    client.post("/chat/ann/say", {"text": "I'm fine with moderate risk."})
    client.post("/chat/ann/say", {"text": "I'd call myself aggressive now."})
    drain_outbox()
    ann = Client.objects.get(external_id="ann")
    with neo4j_unreachable():
        response = client.post("/chat/ann/back", {"to_round": "1"})

    assert response.status_code == 302
    assert ChatRound.objects.get(number=2).withdrawn and ChatRound.objects.get(number=2).memory_withdrawn_at is None
    client.get("/chat/ann/")  # the next visit, with Neo4j back, applies it
    assert {f.slot: f.value for f in chat.remembered_facts(client=ann)}["risk_tolerance"] == "moderate"
    assert ChatRound.objects.get(number=2).memory_withdrawn_at is not None
