"""Hourly consolidation reads only the clients whose memory changed (memory/graph/changes.py), on the real Neo4j.

Each write path is checked the same way: Ann and Ben are consolidated, the path changes Ann's memory, and the
next incremental consolidation reads Ann alone; a full pass after it then finds nothing to write and leaves
every summary, profile version, person and merge proposal as the incremental one did.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from advisor.models import ConversationSession, Firm, User
from advisor.services.importer import import_sessions
from advisor.services.sessions import correct_session
from memory import api
from memory.graph import driver as graph_driver
from memory.graph import erasure as graph_erasure
from memory.graph import facts as graph_facts
from memory.graph import session_versions
from memory.graph import summaries as graph_summaries
from memory.graph.driver import GraphUnavailable
from memory.graph.move_migration import migrate_moves
from memory.scope import Reader, client_scope
from memory.selectors import client_facts
from memory.services import consolidation, entities
from memory.services.consolidation import consolidate
from memory.services.corrections import correct_fact
from memory.services.erasure import ErasureIncomplete, erase_client_scope
from memory.services.forgetting import forget
from memory.services.ingest import drain_outbox
from memory.services.rollback import roll_back_sessions
from tests.integration.test_memory_graph import ANN_MARCH, ANN_SEPTEMBER, BEN_MAY, session_line
from tests.integration.test_move_migration import ANN_APPLE, old_move
from tests.integration.test_people import FAMILY, UNNAMED

pytestmark = pytest.mark.django_db
ANN, BEN = client_scope("acme", "ann"), client_scope("acme", "ben")
ANN_READER = Reader("acme", "ann")
ANN_NOVEMBER = session_line("ann", "s3", "2024-11-05T09:00:00Z", [
    ("Ann Carter", "I would now like to retire in 2031."),
])
ANN_DECEMBER = session_line("ann", "s4", "2024-12-10T09:00:00Z", [  # no fact: no supersession to plan
    ("Ann Carter", "Thanks for walking me through the quarterly statement."),
])


class MaterialSpy:
    """Wraps the real `client_material` and records whose material consolidation read; `during` (if set)
    runs once, after a client's material was read and before its summaries are written."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.read: list[str] = []
        self.during = None
        real = graph_summaries.client_material

        def spy(scope: str):
            material = real(scope)
            self.read.append(scope)
            if self.during is not None:
                during, self.during = self.during, None
                during()
            return material

        monkeypatch.setattr(graph_summaries, "client_material", spy)

    def take(self) -> list[str]:
        read, self.read = self.read, []
        return read


@pytest.fixture
def spy(monkeypatch) -> MaterialSpy:
    return MaterialSpy(monkeypatch)


@pytest.fixture
def consolidated(clean_graph, spy) -> MaterialSpy:
    """Ann (two sessions) and Ben (one), each consolidated once."""
    import_sessions([ANN_MARCH, ANN_SEPTEMBER, BEN_MAY], "acme")
    first = consolidate(firm_id="acme")
    assert (first.clients, first.skipped) == (2, 0)
    assert sorted(spy.take()) == sorted([ANN, BEN])
    return spy


def levels(scope: str = ANN) -> list[tuple]:
    """What consolidation derives for a client: its summaries and profile versions (id, digest, status, text,
    validity), its people and its merge proposals."""
    def _read(tx):
        memories = tx.run(
            "MATCH (m:Memory) WHERE m.scope = $scope AND m.level IN ['summary', 'profile'] "
            "RETURN m.id, m.digest, m.status, m.text, toString(m.valid_to), toString(m.superseded_at) ORDER BY m.id",
            scope=scope).values()
        people = tx.run("MATCH (p:Person {scope: $scope}) RETURN p.id, p.status, p.relations ORDER BY p.id",
                        scope=scope).values()
        proposals = tx.run("MATCH (:Person)-[r:SAME_PERSON]->(k:Person {scope: $scope}) RETURN r.id, r.status "
                           "ORDER BY r.id", scope=scope).values()
        return [tuple(row) for row in memories + people + proposals]
    return graph_driver.read(_read)


def assert_only_ann_is_read_and_a_full_pass_agrees(spy: MaterialSpy) -> list[tuple]:
    incremental = consolidate(firm_id="acme")
    assert (incremental.clients, incremental.skipped) == (1, 1)
    assert spy.take() == [ANN]
    after_incremental = levels()
    full = consolidate(firm_id="acme", full=True)
    assert (full.clients, full.skipped, full.written) == (2, 0, 0)
    assert levels() == after_incremental
    return after_incremental


def test_a_second_consolidation_with_nothing_changed_reads_no_clients_material(consolidated):
    before = levels(ANN) + levels(BEN)

    again = consolidate(firm_id="acme")

    assert (again.clients, again.skipped, again.sessions, again.written) == (0, 2, 0, 0)
    assert consolidated.take() == []
    assert levels(ANN) + levels(BEN) == before


def test_a_client_never_consolidated_counts_as_due(consolidated):
    # A graph from before the marker: no counters on the client nodes.
    graph_driver.write(lambda tx: tx.run(
        "MATCH (c:Client) REMOVE c.memory_version, c.consolidated_version, c.consolidated_with").consume())

    report = consolidate(firm_id="acme")

    assert (report.clients, report.skipped, report.written) == (2, 0, 0)
    assert sorted(consolidated.take()) == sorted([ANN, BEN])
    assert consolidate(firm_id="acme").clients == 0


def test_a_new_derivation_revision_makes_every_client_due_once(consolidated, monkeypatch):
    monkeypatch.setattr(consolidation, "DERIVATION_REVISION", consolidation.DERIVATION_REVISION + 1)

    assert (consolidate(firm_id="acme").clients, consolidate(firm_id="acme").clients) == (2, 0)


def test_one_client_can_be_forced_and_every_client_read_with_full(consolidated):
    assert (consolidate(scope=BEN).clients, consolidated.take()) == (1, [BEN])
    assert consolidate(firm_id="acme", full=True).clients == 2
    assert sorted(consolidated.take()) == sorted([ANN, BEN])


def test_after_a_new_session_is_ingested_only_that_client_is_read(consolidated):
    before = levels()
    import_sessions([ANN_DECEMBER], "acme")

    after = assert_only_ann_is_read_and_a_full_pass_agrees(consolidated)

    assert len(after) > len(before)  # a summary for the new session (and its quarter)


def test_after_a_session_is_corrected_only_that_client_is_read(consolidated):
    firm = Firm.objects.get(slug="acme")
    advisor = User.objects.create_user("adv", password="pw-123456789", role="advisor", firm=firm)
    session = ConversationSession.objects.get(client__external_id="ann", external_id="s2")
    before = levels()
    correct_session(session=session, author=advisor, notes="Ann Carter: I want to retire in 2036.",
                    reason="wrong retirement year")
    drain_outbox()

    after = assert_only_ann_is_read_and_a_full_pass_agrees(consolidated)

    assert after != before


def test_after_a_fact_is_corrected_only_that_client_is_read(consolidated):
    [risk] = [f for f in client_facts(ANN_READER) if f.slot == "risk_tolerance" and f.superseded_at is None]
    before = levels()
    correct_fact(reader=ANN_READER, fact_id=risk.id, text="Risk tolerance is aggressive.", source="advisor",
                 actor="adv")

    after = assert_only_ann_is_read_and_a_full_pass_agrees(consolidated)

    assert after != before  # a new profile version


def test_after_a_note_is_remembered_only_that_client_is_read(consolidated):
    api.remember(firm_id="acme", client_id="ann", text="Prefers calls in the morning.", source="advisor")

    assert_only_ann_is_read_and_a_full_pass_agrees(consolidated)


def test_after_a_fact_is_revised_by_a_note_only_that_client_is_read(consolidated):
    [goal] = [f for f in client_facts(ANN_READER) if f.attribute == "goal" and f.superseded_at is None]
    before = levels()
    api.update_memory(firm_id="acme", client_id="ann", memory_id=goal.id, text="Wants to retire in 2040.",
                      source="advisor")

    after = assert_only_ann_is_read_and_a_full_pass_agrees(consolidated)

    assert after != before  # the goals topic and the profile say it was replaced


def test_after_a_turn_is_forgotten_on_purpose_only_that_client_is_read(consolidated):
    turn = graph_driver.read(lambda tx: tx.run(
        "MATCH (t:Turn {scope: $scope, session_id: 's1', position: 0}) RETURN t.id AS id", scope=ANN).single()["id"])
    before = levels()
    api.forget_memory(firm_id="acme", client_id="ann", memory_id=turn, reason="retracted", actor="adv")

    after = assert_only_ann_is_read_and_a_full_pass_agrees(consolidated)

    assert after != before  # the session's summary no longer rests on that turn


def test_after_forgetting_decayed_memories_only_that_client_is_read(consolidated):
    before = levels()
    report = forget(scope=ANN, at=datetime.now(timezone.utc) + timedelta(days=3650), dry_run=False)
    assert report.forgotten > 0

    after = assert_only_ann_is_read_and_a_full_pass_agrees(consolidated)

    assert after != before


def test_after_an_advisor_confirms_a_people_merge_only_that_client_is_read(consolidated):
    import_sessions([FAMILY, UNNAMED], "acme")
    consolidate(firm_id="acme")
    consolidated.take()
    [pending] = entities.pending_merges(ANN_READER)
    before = levels()
    entities.decide_merge(ANN_READER, pending.id, confirm=True, actor="adv")

    after = assert_only_ann_is_read_and_a_full_pass_agrees(consolidated)

    assert after != before


def test_after_a_rollback_only_that_client_is_read(consolidated):
    before = levels()
    roll_back_sessions(firm_id="acme", client_id="ann", session_ids=["s2"], rollback_id="rb-1", actor="adv",
                       reason="recorded for the wrong client")

    after = assert_only_ann_is_read_and_a_full_pass_agrees(consolidated)

    assert after != before


def test_after_an_erasure_stopped_half_way_the_client_is_read_again(consolidated, monkeypatch):
    real_write, calls = graph_driver.write, []

    def stops_after_the_memories(work, **params):
        calls.append(1)
        if len(calls) > 1:  # the first batch deleted every memory of the client; the sessions' batch fails
            raise GraphUnavailable("Neo4j went away")
        return real_write(work, **params)

    monkeypatch.setattr(graph_erasure.driver, "write", stops_after_the_memories)
    with pytest.raises(ErasureIncomplete):
        erase_client_scope(firm_id="acme", client_id="ann", actor="adv", reason="client asked")
    monkeypatch.setattr(graph_erasure.driver, "write", real_write)

    after = assert_only_ann_is_read_and_a_full_pass_agrees(consolidated)

    assert after == []  # the summaries went with the memories and nothing is left to summarise


def test_after_the_move_migration_deletes_a_clients_old_moves_only_that_client_is_read(clean_graph, spy):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER, BEN_MAY], "acme")
    old_move("ann", "AAPL", ANN_APPLE, 32.0)  # Ann discussed Apple in March
    consolidate(firm_id="acme")
    spy.take()
    graph_driver.write(lambda tx: tx.run("MATCH (m:GraphMigration) DELETE m").consume())

    assert migrate_moves().moves_converted == 1
    assert_only_ann_is_read_and_a_full_pass_agrees(spy)


@pytest.mark.parametrize("write", ["retire_session_version", "apply_supersessions"])
def test_a_graph_write_of_ingestion_marks_its_client_in_its_own_transaction(consolidated, write):
    """Ingestion marks the batch's clients anyway (write_batch); these run inside it, but mark by themselves."""
    fact = graph_driver.read(lambda tx: tx.run(
        "MATCH (f:Fact {scope: $scope, session_id: 's2'}) RETURN f.id AS id LIMIT 1", scope=ANN).single()["id"])
    at = datetime(2030, 1, 1, tzinfo=timezone.utc)
    if write == "retire_session_version":
        graph_driver.write(lambda tx: session_versions.retire_session_version(
            tx, scope=ANN, session_id="s2", session_node="none", replaced_by="s2b", reason="test", at=at))
    else:
        graph_driver.write(lambda tx: graph_facts.apply_supersessions(
            tx, [{"id": fact, "valid_to": at, "superseded_at": at}], []))

    assert_only_ann_is_read_and_a_full_pass_agrees(consolidated)


def test_a_write_landing_while_the_client_is_consolidated_leaves_it_due(consolidated):
    consolidated.during = lambda: import_sessions([ANN_NOVEMBER], "acme")
    api.remember(firm_id="acme", client_id="ann", text="Asked for a call.", source="advisor")

    racing = consolidate(firm_id="acme")

    assert (racing.clients, consolidated.take()) == (1, [ANN])
    summaries_missing_november = levels()
    after = assert_only_ann_is_read_and_a_full_pass_agrees(consolidated)
    assert after != summaries_missing_november  # the session that landed meanwhile is summarised now
    assert consolidate(firm_id="acme").clients == 0
