"""Rolling a client's memory back to before some sessions, on the real Neo4j."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from advisor.models import Client, Firm
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
from memory.graph import driver as graph_driver
from audit.models import AuditEntry
from memory.scope import Reader
from memory.selectors import client_facts
from memory.services.ingest import drain_outbox
from memory.services.retrieval import search
from memory.services.rollback import RollbackRejected, roll_back_sessions, rollbacks_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann(clean_graph):
    firm = Firm.objects.create(slug="rb-firm", name="RB")
    return Client.objects.create(firm=firm, external_id="ann", name="Ann Carter")


def say(client: Client, session_id: str, when: str, *lines: str) -> None:
    started = datetime.fromisoformat(when).replace(tzinfo=timezone.utc)
    record_session(client=client, draft=SessionDraft(
        session_id=session_id, channel="chat", started_at=started, participants={client.name: "client"},
        turns=tuple(TurnDraft(f"{session_id}-t{i}", client.name, text) for i, text in enumerate(lines)),
    ))
    drain_outbox()


def current(client: Client) -> dict[str, str]:
    return {row.slot: row.value for row in client_facts(Reader("rb-firm", client.external_id))
            if row.superseded_at is None}


def test_rolling_back_a_session_revives_the_fact_it_had_superseded(ann):
    say(ann, "s1", "2024-03-01T10:00:00", "I'm fine with moderate risk.")
    say(ann, "s2", "2024-09-01T10:00:00", "I'd call myself conservative now.")
    assert current(ann)["risk_tolerance"] == "conservative"

    outcome = roll_back_sessions(firm_id="rb-firm", client_id="ann", session_ids=["s2"], rollback_id="rb-1",
                                 actor="ann", reason="chat went back to round 1")

    assert current(ann)["risk_tolerance"] == "moderate"
    assert (outcome.withdrawn_facts, outcome.reopened) == (1, 1)
    assert outcome.withdrawn >= 2  # the turn and the fact at least


def test_withdrawn_memory_is_kept_with_who_and_when_but_leaves_search(ann):
    say(ann, "s1", "2024-03-01T10:00:00", "I'm fine with moderate risk.")
    say(ann, "s2", "2024-09-01T10:00:00", "I'd call myself conservative now.")

    roll_back_sessions(firm_id="rb-firm", client_id="ann", session_ids=["s2"], rollback_id="rb-1", actor="ann",
                       reason="chat went back")

    texts = [r.text for r in search(Reader("rb-firm", "ann"), "conservative risk", k=10)]
    assert not any("conservative" in text for text in texts)
    kept = graph_driver.read(lambda tx: tx.run(
        "MATCH (:Rollback {id: 'rb-1'})-[:WITHDREW]->(m:Fact) RETURN m.value AS value, m.status AS status").data())
    assert kept == [{"value": "conservative", "status": "rolled_back"}]
    reopened = graph_driver.read(lambda tx: tx.run(
        "MATCH (:Rollback {id: 'rb-1'})-[link:REOPENED]->(f:Fact) RETURN f.value AS value, "
        "link.superseded_at IS NOT NULL AS had_closing").data())
    assert reopened == [{"value": "moderate", "had_closing": True}]
    (record,) = rollbacks_for(firm_id="rb-firm", client_id="ann")
    assert (record.actor, record.withdrawn, record.reopened) == ("ann", 2, 1)  # the turn and its fact
    assert AuditEntry.objects.get(action="memory.rollback").detail["reopened"] == 1


def test_saying_the_same_again_after_a_rollback_gives_the_facts_of_never_having_left(ann):
    say(ann, "s1", "2024-03-01T10:00:00", "I'm fine with moderate risk and I want to retire in 2035.")
    say(ann, "s2", "2024-09-01T10:00:00", "I'd call myself conservative now. I want to retire in 2033.")
    never_left = current(ann)

    roll_back_sessions(firm_id="rb-firm", client_id="ann", session_ids=["s2"], rollback_id="rb-1", actor="ann",
                       reason="went back")
    assert current(ann) != never_left
    say(ann, "s3", "2024-09-02T10:00:00", "I'd call myself conservative now. I want to retire in 2033.")

    assert current(ann) == never_left
    assert never_left["risk_tolerance"] == "conservative"


def test_a_fact_closed_by_a_later_standing_session_stays_closed(ann):
    say(ann, "s1", "2024-03-01T10:00:00", "I'm fine with moderate risk.")
    say(ann, "s2", "2024-06-01T10:00:00", "I'd call myself aggressive now.")
    say(ann, "s3", "2024-09-01T10:00:00", "I'd call myself conservative now.")

    outcome = roll_back_sessions(firm_id="rb-firm", client_id="ann", session_ids=["s2"], rollback_id="rb-1",
                                 actor="ann", reason="went back")

    assert current(ann)["risk_tolerance"] == "conservative"
    assert outcome.reopened == 0
    history = {row.value: row.superseded_at is not None
               for row in client_facts(Reader("rb-firm", "ann"))}
    assert history == {"conservative": False}  # moderate is history, closed now by conservative
    moderate = graph_driver.read(lambda tx: tx.run(
        "MATCH (new:Fact {value: 'conservative'})-[:SUPERSEDES]->(old:Fact {value: 'moderate'}) RETURN count(*) AS n"
    ).single()["n"])
    assert moderate == 1


def test_rolling_back_twice_with_the_same_id_changes_nothing_more(ann):
    say(ann, "s1", "2024-03-01T10:00:00", "I'm fine with moderate risk.")
    say(ann, "s2", "2024-09-01T10:00:00", "I'd call myself conservative now.")
    roll_back_sessions(firm_id="rb-firm", client_id="ann", session_ids=["s2"], rollback_id="rb-1", actor="ann",
                       reason="went back")

    again = roll_back_sessions(firm_id="rb-firm", client_id="ann", session_ids=["s2"], rollback_id="rb-1",
                               actor="ann", reason="went back")

    assert (again.withdrawn, again.reopened) == (0, 0)
    assert current(ann)["risk_tolerance"] == "moderate"


def test_a_rollback_touches_only_the_named_clients_memory(ann):
    ben = Client.objects.create(firm=ann.firm, external_id="ben", name="Ben Okafor")
    say(ben, "s2", "2024-09-01T10:00:00", "I'd call myself conservative now.")

    outcome = roll_back_sessions(firm_id="rb-firm", client_id="ann", session_ids=["s2"], rollback_id="rb-1",
                                 actor="ann", reason="went back")

    assert outcome.withdrawn == 0
    assert current(ben)["risk_tolerance"] == "conservative"


def test_a_rollback_without_sessions_is_refused_with_a_reason(ann):
    with pytest.raises(RollbackRejected, match="at least one session"):
        roll_back_sessions(firm_id="rb-firm", client_id="ann", session_ids=[], rollback_id="rb-1", actor="ann",
                           reason="x")


def tracked_price(symbol: str) -> list[float]:
    return graph_driver.read(lambda tx: tx.run(
        "MATCH (:Client)-[t:TRACKS]->(:Security {symbol: $s}) RETURN t.last_price AS price", s=symbol).value())


def test_a_withdrawn_price_mention_stops_being_the_price_the_client_is_tracked_at(ann):
    say(ann, "s1", "2024-03-01T10:00:00", "I bought Apple at $120.00 last week.")
    say(ann, "s2", "2024-09-01T10:00:00", "I bought Apple at $150.00 last week.")
    assert tracked_price("AAPL") == [150.0]

    roll_back_sessions(firm_id="rb-firm", client_id="ann", session_ids=["s2"], rollback_id="rb-1", actor="ann",
                       reason="went back")

    assert tracked_price("AAPL") == [120.0]


def test_withdrawing_the_only_price_mention_ends_the_tracking(ann):
    say(ann, "s1", "2024-03-01T10:00:00", "I bought Apple at $120.00 last week.")

    roll_back_sessions(firm_id="rb-firm", client_id="ann", session_ids=["s1"], rollback_id="rb-1", actor="ann",
                       reason="went back")

    assert tracked_price("AAPL") == []
