"""The clients' chat with the twin on the real Neo4j: memory grows from chat, going back, refusals,
corrections and advisor review."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from django.db import DatabaseError, connection, transaction

from advisor.models import Client, ConversationSession, Firm, User
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
from memory.graph import driver as graph_driver
from audit.models import AuditEntry
from memory.services.ingest import drain_outbox
from advisor.services.export import ExportScope
from audit.models import AppendOnlyError
from twin.models import (ChatAnswer, ChatMemoryRollback, ChatRound, ChatWithdrawal, MemoryCorrection, ReviewDecision,
                         ReviewItem, TwinFirmSettings)
from twin.services import chat
from twin.services.export import chat_section

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(clean_graph):
    firm = Firm.objects.create(slug="chat-firm", name="Chat Firm")
    advisor = User.objects.create_user("alex", password="pw-123456789", role="advisor", firm=firm,
                                       first_name="Alex", last_name="Morgan")
    ann_user = User.objects.create_user("ann", password="pw-123456789", role="client", firm=firm)
    ben_user = User.objects.create_user("ben", password="pw-123456789", role="client", firm=firm)
    ann = Client.objects.create(firm=firm, external_id="ann", name="Ann Carter", advisor=advisor, user=ann_user)
    ben = Client.objects.create(firm=firm, external_id="ben", name="Ben Okafor", advisor=advisor, user=ben_user)
    return {"advisor": advisor, "ann_user": ann_user, "ann": ann, "ben": ben, "ben_user": ben_user}


def meeting(client: Client, session_id: str, when: datetime, *lines: str) -> None:
    record_session(client=client, draft=SessionDraft(
        session_id=session_id, channel="meeting", started_at=when,
        participants={"Alex Morgan": "advisor", client.name: "client"},
        turns=tuple(TurnDraft(f"{session_id}-t{i}", client.name, text) for i, text in enumerate(lines)),
    ))
    drain_outbox()


def current(client: Client) -> dict[str, str]:
    return {row.slot: row.value for row in chat.remembered_facts(client=client)}


def ann_says(people, text: str) -> ChatRound:
    conversation = chat.conversation_for(client=people["ann"], actor=people["ann_user"])
    chat_round = chat.say(conversation=conversation, text=text, actor=people["ann_user"])
    drain_outbox()
    return chat_round


@pytest.fixture
def ann_history(people):
    """Two meetings months apart: risk tolerance and the retirement goal change."""
    now = datetime.now(timezone.utc)
    meeting(people["ann"], "m1", now - timedelta(days=300), "I'm fine with moderate risk and I want to retire in 2035.")
    meeting(people["ann"], "m2", now - timedelta(days=60), "I'd call myself conservative now. I want to retire in 2033.")
    return people


def test_what_the_client_says_in_chat_is_a_chat_session_that_becomes_memory(ann_history):
    people = ann_history
    chat_round = ann_says(people, "I'd call myself aggressive now.")

    session = ConversationSession.objects.get(pk=chat_round.session_id)
    assert (session.channel, session.memory_status) == ("chat", "stored")
    assert session.turns.get().text == "I'd call myself aggressive now."
    assert current(people["ann"])["risk_tolerance"] == "aggressive"


def test_an_answer_cites_the_clients_memory_and_carries_the_disclosure(ann_history):
    chat_round = ann_says(ann_history, "What is my risk tolerance?")

    assert chat_round.status == "answered"
    cited = [c["text"] for c in chat_round.contract["citations"]]
    assert any("conservative" in text for text in cited)
    assert chat_round.disclosure.startswith("This answer comes from your advisor's digital twin")
    (view,) = chat.round_views([chat_round], viewer=ann_history["ann_user"])
    opened = next(c for c in view.citations if "conservative" in c.text)
    assert [(t.turn_id, t.channel) for t in opened.sources] == [("m2-t0", "meeting")]
    assert "conservative" in opened.sources[0].text


def test_going_back_one_round_withdraws_its_memory_and_revives_the_superseded_fact(ann_history):
    people = ann_history
    ann_says(people, "What is my risk tolerance?")
    ann_says(people, "I'd call myself aggressive now.")
    assert current(people["ann"])["risk_tolerance"] == "aggressive"
    conversation = chat.conversation_for(client=people["ann"], actor=people["ann_user"])

    rewind = chat.go_back(conversation=conversation, to_round=1, actor=people["ann_user"])

    assert current(people["ann"])["risk_tolerance"] == "conservative"
    assert [r.number for r in chat.current_rounds(conversation)] == [1]
    withdrawn = ChatRound.objects.get(number=2)
    assert withdrawn.withdrawn_by == rewind and withdrawn.memory_withdrawn_at is not None
    assert (rewind.to_round, rewind.facts_reopened, rewind.actor) == (1, 1, people["ann_user"])
    statuses = graph_driver.read(lambda tx: tx.run(
        "MATCH (m:Memory {session_id: $s}) RETURN DISTINCT m.status AS status",
        s=withdrawn.session.external_id).value())
    assert statuses == ["rolled_back"]


def test_the_next_round_after_going_back_continues_from_there(ann_history):
    people = ann_history
    ann_says(people, "What is my risk tolerance?")
    ann_says(people, "I'd call myself aggressive now.")
    conversation = chat.conversation_for(client=people["ann"], actor=people["ann_user"])
    chat.go_back(conversation=conversation, to_round=1, actor=people["ann_user"])

    again = ann_says(people, "I'd call myself aggressive now.")

    assert again.number == 2
    assert current(people["ann"])["risk_tolerance"] == "aggressive"
    assert ChatRound.objects.filter(conversation=conversation).count() == 3  # the withdrawn round is kept


def test_going_back_then_saying_the_same_gives_the_memory_of_never_having_left(ann_history):
    people = ann_history
    ann_says(people, "I'd call myself aggressive now. I want to retire in 2031.")
    ann_says(people, "I'm worried about inflation.")
    never_left = current(people["ann"])
    conversation = chat.conversation_for(client=people["ann"], actor=people["ann_user"])

    chat.go_back(conversation=conversation, to_round=0, actor=people["ann_user"])
    assert current(people["ann"])["risk_tolerance"] == "conservative"
    ann_says(people, "I'd call myself aggressive now. I want to retire in 2031.")
    ann_says(people, "I'm worried about inflation.")

    assert current(people["ann"]) == never_left


def test_going_back_before_the_round_was_remembered_withdraws_it_once_it_is(ann_history):
    people = ann_history
    conversation = chat.conversation_for(client=people["ann"], actor=people["ann_user"])
    chat.say(conversation=conversation, text="What is my risk tolerance?", actor=people["ann_user"])
    chat.say(conversation=conversation, text="I'd call myself aggressive now.", actor=people["ann_user"])

    chat.go_back(conversation=conversation, to_round=1, actor=people["ann_user"])  # nothing ingested yet
    drain_outbox()
    assert current(people["ann"])["risk_tolerance"] == "aggressive"  # ingested after the rewind
    chat.apply_pending_withdrawals(conversation)

    assert current(people["ann"])["risk_tolerance"] == "conservative"
    assert ChatRound.objects.get(number=2).memory_withdrawn_at is not None


def test_a_conversation_never_taken_back_has_nothing_to_withdraw_and_costs_one_plain_query(
        ann_history, django_assert_num_queries):
    people = ann_history
    conversation = chat.conversation_for(client=people["ann"], actor=people["ann_user"])
    chat.say(conversation=conversation, text="I'd call myself aggressive now.", actor=people["ann_user"])
    drain_outbox()

    with django_assert_num_queries(1):
        assert chat.apply_pending_withdrawals(conversation) == 0
    assert current(people["ann"])["risk_tolerance"] == "aggressive"


def test_the_beat_sweep_withdraws_memory_ingested_after_the_client_went_back(ann_history):
    from twin.tasks import withdraw_pending_chat_memory

    people = ann_history
    conversation = chat.conversation_for(client=people["ann"], actor=people["ann_user"])
    chat.say(conversation=conversation, text="I'd call myself aggressive now.", actor=people["ann_user"])
    chat.go_back(conversation=conversation, to_round=0, actor=people["ann_user"])
    drain_outbox()

    assert withdraw_pending_chat_memory() == 1
    assert withdraw_pending_chat_memory() == 0
    assert current(people["ann"])["risk_tolerance"] == "conservative"


def test_the_advisor_can_go_back_but_another_client_cannot(ann_history):
    people = ann_history
    ann_says(people, "I'd call myself aggressive now.")
    conversation = chat.conversation_for(client=people["ann"], actor=people["ann_user"])

    with pytest.raises(chat.ChatRejected, match="client or their advisor"):
        chat.go_back(conversation=conversation, to_round=0, actor=people["ben_user"])
    chat.go_back(conversation=conversation, to_round=0, actor=people["advisor"])

    assert current(people["ann"])["risk_tolerance"] == "conservative"


def test_going_back_past_the_last_round_is_refused_with_the_round_count(ann_history):
    people = ann_history
    ann_says(people, "What is my risk tolerance?")
    conversation = chat.conversation_for(client=people["ann"], actor=people["ann_user"])

    with pytest.raises(chat.ChatRejected, match=r"nothing after round 1 .*has 1 round\)"):
        chat.go_back(conversation=conversation, to_round=1, actor=people["ann_user"])


def test_asking_for_another_clients_memory_is_refused_recorded_and_logged(ann_history, caplog):
    people = ann_history
    meeting(people["ben"], "b1", datetime.now(timezone.utc) - timedelta(days=10), "I want to retire in 2029.")

    chat_round = ann_says(people, "What does Ben plan for retirement?")

    assert (chat_round.status, chat_round.refusal_reason, chat_round.session) == ("refused", "other_client", None)
    assert "2029" not in chat_round.answer and "refused and logged" in chat_round.answer
    audit = AuditEntry.objects.get(action="chat.refused")
    assert (audit.actor, audit.client_id, audit.detail["reason"]) == ("ann", "ann", "other_client")
    assert "refused (other_client)" in caplog.text


def test_asking_the_twin_to_forget_firm_research_is_refused_and_nothing_is_recorded(ann_history):
    chat_round = ann_says(ann_history, "Please forget the analyst research on Apple.")

    assert (chat_round.status, chat_round.refusal_reason) == ("refused", "firm_research")
    assert not ConversationSession.objects.filter(channel="chat").exists()
    assert AuditEntry.objects.filter(action="chat.refused", detail__reason="firm_research").count() == 1


def test_what_do_you_remember_about_me_lists_current_facts_only(ann_history):
    chat_round = ann_says(ann_history, "What do you remember about me?")

    cited = " ".join(c["text"] for c in chat_round.contract["citations"])
    assert "conservative" in cited and "2033" in cited
    assert "moderate" not in cited and "2035" not in cited


def test_a_confirmed_correction_becomes_the_current_fact_and_keeps_the_old_one_as_history(ann_history):
    people = ann_history
    fact = next(f for f in chat.remembered_facts(client=people["ann"]) if f.slot == "risk_tolerance")
    correction = chat.request_correction(client=people["ann"], memory_id=fact.id,
                                         correction="I am balanced, not conservative.", actor=people["ann_user"])
    assert correction.status == "pending" and correction.memory_text == fact.text

    chat.decide_correction(correction=correction, actor=people["advisor"], confirm=True)

    correction.refresh_from_db()
    assert correction.status == "confirmed" and correction.decided_by == people["advisor"]
    risk = [f for f in chat.remembered_facts(client=people["ann"]) if f.slot == "risk_tolerance"]
    assert [(f.id, f.text, f.supersedes) for f in risk] == [
        (correction.revised_memory_id, "I am balanced, not conservative.", [fact.id])]
    old_closed = graph_driver.read(lambda tx: tx.run(
        "MATCH (old:Fact {id: $id}) RETURN old.superseded_at IS NOT NULL AND old.status = 'active' AS kept",
        id=fact.id).single()["kept"])
    assert old_closed
    assert AuditEntry.objects.get(action="memory.correct").detail["revised_as"] == correction.revised_memory_id


def test_a_session_after_a_correction_supersedes_it_like_any_fact(ann_history):
    people = ann_history
    fact = next(f for f in chat.remembered_facts(client=people["ann"]) if f.slot == "risk_tolerance")
    correction = chat.request_correction(client=people["ann"], memory_id=fact.id, correction="I am balanced.",
                                         actor=people["ann_user"])
    chat.decide_correction(correction=correction, actor=people["advisor"], confirm=True)

    ann_says(people, "I'd call myself aggressive now.")

    assert current(people["ann"])["risk_tolerance"] == "aggressive"


def test_a_rejected_correction_changes_no_memory(ann_history):
    people = ann_history
    before = current(people["ann"])
    fact = next(f for f in chat.remembered_facts(client=people["ann"]) if f.slot == "risk_tolerance")
    correction = chat.request_correction(client=people["ann"], memory_id=fact.id, correction="Not true.",
                                         actor=people["ann_user"])

    chat.decide_correction(correction=correction, actor=people["advisor"], confirm=False, note="We agreed this.")

    assert MemoryCorrection.objects.get().status == "rejected"
    assert current(people["ann"]) == before
    decided = AuditEntry.objects.get(action="chat.correction_decided")
    assert (decided.actor, decided.detail) == ("alex", {"confirmed": False, "revised_memory_id": ""})
    assert "Not true" not in json.dumps(decided.detail) and "agreed" not in json.dumps(decided.detail)  # no words
    with pytest.raises(chat.ChatRejected, match="already rejected"):
        chat.decide_correction(correction=correction, actor=people["advisor"], confirm=True)


def test_a_correction_of_a_memory_the_client_cannot_see_is_refused(ann_history):
    people = ann_history
    meeting(people["ben"], "b1", datetime.now(timezone.utc) - timedelta(days=10), "I want to retire in 2029.")
    bens = chat.remembered_facts(client=people["ben"])[0]

    with pytest.raises(chat.ChatRejected, match="not among what the twin currently remembers"):
        chat.request_correction(client=people["ann"], memory_id=bens.id, correction="x", actor=people["ann_user"])


def test_with_review_required_the_answer_waits_for_the_advisor_before_the_client_sees_it(ann_history):
    people = ann_history
    TwinFirmSettings.objects.create(firm=people["ann"].firm, review_policy="all")

    chat_round = ann_says(people, "What is my risk tolerance?")

    assert chat_round.status == "awaiting_review"
    (hidden,) = chat.round_views([chat_round], viewer=people["ann_user"])
    assert (hidden.answer, hidden.citations) == ("", [])
    assert "reviews this answer" in hidden.notice
    (item,) = chat.review_queue(advisor=people["advisor"])
    chat.decide_review(item=item, actor=people["advisor"], approve=True)
    chat_round.refresh_from_db()
    (shown,) = chat.round_views([chat_round], viewer=people["ann_user"])
    assert "conservative" in shown.answer and shown.notice == ""
    assert ReviewItem.objects.get().decided_by == people["advisor"]


def test_a_withheld_answer_tells_the_client_the_advisors_note(ann_history):
    people = ann_history
    TwinFirmSettings.objects.create(firm=people["ann"].firm, review_policy="all")
    chat_round = ann_says(people, "What is my risk tolerance?")
    (item,) = chat.review_queue(advisor=people["advisor"])

    chat.decide_review(item=item, actor=people["advisor"], approve=False, note="Let's talk on Monday.")

    chat_round.refresh_from_db()
    (view,) = chat.round_views([chat_round], viewer=people["ann_user"])
    assert (chat_round.status, view.answer) == ("withheld", "")
    assert view.notice == "Your advisor withheld this answer: Let's talk on Monday."


# ---- the chat's books and records are append-only -------------------------------------------------

CHAT_RECORD_TABLES = ("twin_chatround", "twin_chatanswer", "twin_chatrewind", "twin_chatwithdrawal",
                      "twin_chatmemoryrollback", "twin_chatmemoryrollbackround", "twin_reviewitem",
                      "twin_reviewdecision")


def table_rows(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY id")  # our own table names, never input
        return cursor.fetchall()


def a_withdrawn_reviewed_conversation(people) -> ChatRound:
    """Every chat record at least once: an answered, reviewed round, then going back over it."""
    TwinFirmSettings.objects.create(firm=people["ann"].firm, review_policy="all")
    ann_says(people, "I'd call myself aggressive now.")
    (item,) = chat.review_queue(advisor=people["advisor"])
    chat.decide_review(item=item, actor=people["advisor"], approve=True)
    conversation = chat.conversation_for(client=people["ann"], actor=people["ann_user"])
    chat.go_back(conversation=conversation, to_round=0, actor=people["advisor"])
    return ChatRound.objects.get()


def test_the_database_refuses_raw_sql_updates_and_deletes_of_every_chat_record(ann_history):
    chat_round = a_withdrawn_reviewed_conversation(ann_history)
    assert all(table_rows(table) for table in CHAT_RECORD_TABLES)  # row triggers need a row to fire on

    for table in CHAT_RECORD_TABLES:
        for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
            with pytest.raises(DatabaseError, match="append-only"):
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(statement)
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE twin_chatround SET text = 'I never said that' WHERE id = %s", [chat_round.pk])
    assert ChatRound.objects.get(pk=chat_round.pk).text == "I'd call myself aggressive now."


def test_the_model_layer_refuses_to_change_or_delete_a_chat_round(ann_history):
    chat_round = ann_says(ann_history, "What is my risk tolerance?")

    chat_round.text = "I never said that"
    with pytest.raises(AppendOnlyError):
        chat_round.save()
    with pytest.raises(AppendOnlyError):
        chat_round.delete()
    with pytest.raises(AppendOnlyError):
        ChatRound.objects.filter(pk=chat_round.pk).update(text="I never said that")
    with pytest.raises(AppendOnlyError):
        ChatAnswer.objects.all().delete()


def test_going_back_leaves_earlier_rows_byte_identical_and_adds_the_withdrawal_with_who_and_when(ann_history):
    people = ann_history
    ann_says(people, "What is my risk tolerance?")
    ann_says(people, "I'd call myself aggressive now.")
    before = {table: table_rows(table) for table in ("twin_chatround", "twin_chatanswer")}
    conversation = chat.conversation_for(client=people["ann"], actor=people["ann_user"])

    rewind = chat.go_back(conversation=conversation, to_round=1, actor=people["advisor"])
    chat.apply_pending_withdrawals(conversation)  # nothing left to do: rolled back once, at going back

    assert {table: table_rows(table) for table in before} == before
    (withdrawal,) = ChatWithdrawal.objects.all()
    assert (withdrawal.round.number, withdrawal.rewind.actor, withdrawal.rewind.to_round) == (2, people["advisor"], 1)
    (rollback,) = ChatMemoryRollback.objects.all()
    assert ([link.round.number for link in rollback.round_links.all()], rollback.facts_reopened) == ([2], 1)
    assert current(people["ann"])["risk_tolerance"] == "conservative"
    first, second = chat_section(ExportScope(client=people["ann"], since=rewind.at - timedelta(days=1),
                                             until=rewind.at + timedelta(days=1)))
    assert (first["withdrawn_by"], first["withdrawn_by_going_back_at"], first["status"]) == ("", "", "answered")
    assert (second["withdrawn_by"], second["withdrawn_by_going_back_at"], second["withdrawn_back_to_round"],
            second["memory_withdrawn_at"]) == ("alex", rewind.at.isoformat(), 1, rollback.at.isoformat())
    assert second["answer"] and second["status"] == "answered"  # as it was said and answered


def test_a_held_answer_the_client_went_back_from_leaves_the_review_queue(ann_history):
    people = ann_history
    TwinFirmSettings.objects.create(firm=people["ann"].firm, review_policy="all")
    ann_says(people, "What is my risk tolerance?")
    assert len(chat.review_queue(advisor=people["advisor"])) == 1
    conversation = chat.conversation_for(client=people["ann"], actor=people["ann_user"])

    chat.go_back(conversation=conversation, to_round=0, actor=people["ann_user"])

    assert list(chat.review_queue(advisor=people["advisor"])) == []


def test_a_review_is_decided_once_and_a_second_decision_is_refused(ann_history):
    people = ann_history
    TwinFirmSettings.objects.create(firm=people["ann"].firm, review_policy="all")
    chat_round = ann_says(people, "What is my risk tolerance?")
    (item,) = chat.review_queue(advisor=people["advisor"])
    chat.decide_review(item=item, actor=people["advisor"], approve=False, note="Let's talk.")

    with pytest.raises(chat.ChatRejected, match="already reviewed"):
        chat.decide_review(item=item, actor=people["advisor"], approve=True)

    assert ChatRound.objects.get(pk=chat_round.pk).status == "withheld"
    assert ReviewDecision.objects.get().note == "Let's talk."


def _without_csrf(page: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


def test_the_chat_page_renders_cached_citations_exactly_as_fresh_ones(client, ann_history):
    from django.core.cache import cache

    ann_says(ann_history, "What is my risk tolerance?")
    ann_says(ann_history, "When do I want to retire?")
    client.force_login(ann_history["ann_user"])
    cache.clear()

    fresh = client.get("/chat/ann/").content.decode()
    cached = client.get("/chat/ann/").content.decode()

    assert "I&#x27;d call myself conservative now." in fresh
    assert _without_csrf(cached) == _without_csrf(fresh)


def test_a_cited_turn_erased_after_the_page_was_shown_is_gone_from_the_next_page(client, ann_history):
    from audit.triggers import maintenance_window

    from advisor.models import ConversationTurn

    ann_says(ann_history, "What is my risk tolerance?")
    client.force_login(ann_history["ann_user"])
    turn = "(meeting):</span> “I&#x27;d call myself conservative now. I want to retire in 2033.”"
    assert turn in client.get("/chat/ann/").content.decode()

    with maintenance_window():  # as an erasure or a retention purge deletes it
        ConversationTurn.objects.filter(external_id="m2-t0").purge()
    page = client.get("/chat/ann/").content.decode()

    assert turn not in page
    assert "No source turn recorded." in page


def _five_rounds(people) -> chat.ChatConversation:
    for text in ("What is my risk tolerance?", "When do I want to retire?", "What do you remember about me?",
                 "What is my risk tolerance?", "When do I want to retire?"):
        ann_says(people, text)
    return chat.conversation_for(client=people["ann"], actor=people["ann_user"])


def test_a_page_of_rounds_is_the_latest_and_each_earlier_page_comes_before_the_first_shown(ann_history):
    conversation = _five_rounds(ann_history)

    latest = chat.round_page(conversation, size=2)
    middle = chat.round_page(conversation, before=latest.earlier_before, size=2)
    first = chat.round_page(conversation, before=middle.earlier_before, size=2)

    assert ([r.number for r in latest.rounds], latest.earlier_before, latest.latest) == ([4, 5], 4, True)
    assert ([r.number for r in middle.rounds], middle.earlier_before, middle.latest) == ([2, 3], 2, False)
    assert ([r.number for r in first.rounds], first.earlier_before, first.latest) == ([1], None, False)


def test_the_chat_page_shows_the_latest_rounds_and_links_to_the_earlier_ones(client, ann_history, monkeypatch):
    _five_rounds(ann_history)
    monkeypatch.setattr(chat, "PAGE_ROUNDS", 2)
    client.force_login(ann_history["ann_user"])

    page = client.get("/chat/ann/").content.decode()

    assert re.findall(r'data-round="(\d+)"', page) == ["4", "5"]
    assert 'href="?before=4">Earlier rounds</a>' in page and "Latest rounds" not in page
    # going back: to round 4 from round 5's predecessor only, and one round back from the last
    assert re.findall(r'name="to_round" value="(\d+)"', page) == ["4", "4"]


def test_an_earlier_page_offers_going_back_to_each_of_its_rounds_and_a_link_to_the_latest(client, ann_history,
                                                                                          monkeypatch):
    _five_rounds(ann_history)
    monkeypatch.setattr(chat, "PAGE_ROUNDS", 2)
    client.force_login(ann_history["ann_user"])

    page = client.get("/chat/ann/", {"before": 4}).content.decode()

    assert re.findall(r'data-round="(\d+)"', page) == ["2", "3"]
    assert re.findall(r'name="to_round" value="(\d+)"', page) == ["2", "3"]  # no "one round back" here
    assert 'href="?before=2">Earlier rounds</a>' in page and 'href="/chat/ann/">Latest rounds</a>' in page


@pytest.mark.parametrize("before, message", [
    ("four", "“four” is not a round number; here are the latest rounds."),
    ("0", "There is no round before round 0; the first round is round 1."),
])
def test_a_bad_earlier_page_shows_the_latest_rounds_and_says_why(client, ann_history, monkeypatch, before, message):
    _five_rounds(ann_history)
    monkeypatch.setattr(chat, "PAGE_ROUNDS", 2)
    client.force_login(ann_history["ann_user"])

    response = client.get("/chat/ann/", {"before": before})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert re.findall(r'data-round="(\d+)"', response.content.decode()) == ["4", "5"]
