"""Chat rows written before the chat became append-only move into its records (twin migrations 0006-0008):
replies, withdrawals, memory rollbacks and review decisions keep what the old columns said."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("twin", "0005_digest_archive_append_only")]
LATEST = [("twin", "0008_chat_records_append_only_triggers")]
SAID, WENT_BACK, ROLLED_BACK = (datetime(2026, 3, day, 10, tzinfo=timezone.utc) for day in (1, 2, 3))


def migrate(twin_target):  # noqa: ANN001, ANN201
    """Every other app at its latest migration, the twin at `twin_target`; the models as of then."""
    others = [node for node in MigrationExecutor(connection).loader.graph.leaf_nodes() if node[0] != "twin"]
    MigrationExecutor(connection).migrate(others + twin_target)
    return MigrationExecutor(connection).loader.project_state(others + twin_target).apps


def old_conversation(old) -> None:  # noqa: ANN001
    """Three rounds in the old shape: answered; withheld by review and withdrawn with its memory rolled
    back; unanswered and withdrawn before its memory arrived."""
    firm = old.get_model("advisor", "Firm").objects.create(slug="old", name="Old")
    user = old.get_model("advisor", "User").objects.create(username="ann", role="client", firm=firm)
    client = old.get_model("advisor", "Client").objects.create(firm=firm, external_id="ann", name="Ann", user=user)
    conversation = old.get_model("twin", "ChatConversation").objects.create(client=client, started_by=user)
    rewind = old.get_model("twin", "ChatRewind").objects.create(conversation=conversation, to_round=1, actor=user,
                                                                memories_withdrawn=3, facts_reopened=1)
    ChatRound = old.get_model("twin", "ChatRound")
    ChatRound.objects.create(conversation=conversation, number=1, text="Hello", said_by=user, said_at=SAID,
                             status="answered", answer="Hi Ann", contract={"advice_id": "adv_1"}, disclosure="D")
    held = ChatRound.objects.create(conversation=conversation, number=2, text="Buy?", said_by=user, said_at=SAID,
                                    status="withheld", answer="Maybe", disclosure="D", withdrawn_by=rewind,
                                    memory_withdrawn_at=ROLLED_BACK)
    ChatRound.objects.create(conversation=conversation, number=3, text="Later", said_by=user, said_at=SAID,
                             status="unanswered", withdrawn_by=rewind)
    old.get_model("twin", "ReviewItem").objects.create(round=held, reason="policy", status="rejected",
                                                       decided_by=user, decided_at=WENT_BACK, note="Let's talk")


def test_old_chat_rows_become_append_only_records_saying_the_same():
    try:
        old_conversation(migrate(BEFORE))
        migrate(LATEST)
    finally:
        migrate(LATEST)

    from twin.models import ChatRewind, ChatRound

    rounds = {r.number: r for r in ChatRound.objects.select_related("answer_record", "review__decision_record")}
    assert [(n, r.status, r.answer, r.withdrawn) for n, r in sorted(rounds.items())] == [
        (1, "answered", "Hi Ann", False), (2, "withheld", "Maybe", True), (3, "unanswered", "", True)]
    assert rounds[1].contract == {"advice_id": "adv_1"} and rounds[2].disclosure == "D"
    assert (rounds[2].memory_withdrawn_at, rounds[3].memory_withdrawn_at) == (ROLLED_BACK, None)
    assert (rounds[2].review.note, rounds[2].review.decided_by.username) == ("Let's talk", "ann")
    rewind = ChatRewind.objects.get()
    assert (rewind.memories_withdrawn, rewind.facts_reopened, rewind.withdrawals.count()) == (3, 1, 2)
