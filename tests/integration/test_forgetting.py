"""Forgetting against the real Neo4j: statuses with reasons, never deletion, never what is cited."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import call_command
from django.test import override_settings

from advisor.models import Client
from advisor.services.importer import import_sessions
from memory.api import remember, search
from memory.graph import driver as graph_driver
from memory.services.consolidation import consolidate
from memory.graph.securities import split_move_link_id
from memory.scope import Reader
from memory.services.forgetting import forget
from memory.services.ingest import drain_outbox
from marketdata.services.refresh import refresh_remembered_quotes
from tests.integration.test_quotes import FixedProvider
from twin.models import Advice
from twin.services.advice import ask
from tests.integration.test_memory_graph import ANN_MARCH, ANN_SEPTEMBER, session_line

pytestmark = pytest.mark.django_db
TEN_YEARS_ON = datetime(2034, 9, 12, tzinfo=timezone.utc)


def statuses() -> dict[str, tuple[str, str | None]]:
    return {r["key"]: (r["status"], r["reason"]) for r in graph_driver.read(lambda tx: tx.run(
        "MATCH (m:Memory) WHERE m.scope IS NOT NULL RETURN coalesce(m.turn_id, m.id) AS key, m.status AS status, "
        "m.forgotten_reason AS reason").data())}


def test_forgetting_never_forgets_a_cited_memory_and_deletes_nothing(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")
    consolidate(firm_id="acme")
    before = statuses()

    report = forget(firm_id="acme", at=TEN_YEARS_ON, dry_run=False)

    after = statuses()
    assert after.keys() == before.keys()  # nothing deleted
    # s1-1 (risk + retirement, cited by the first profile version), s2-0/s2-1 (current facts) stay;
    # s1-0, the advisor's small talk, is cited by nothing.
    assert after["s1-0"][0] == "forgotten" and after["s1-0"][1] in ("decayed", "redundant")
    assert {key: after[key][0] for key in ("s1-1", "s2-0", "s2-1")} == dict.fromkeys(("s1-1", "s2-0", "s2-1"), "active")
    cited = graph_driver.read(lambda tx: tx.run(
        """MATCH (m:Memory) WHERE m.status = 'forgotten' AND (
             EXISTS { (:Profile)-[:SUMMARISES|DERIVED_FROM]->(m) }
             OR EXISTS { (f:Fact)-[:DERIVED_FROM]->(m) WHERE f.status = 'active' AND f.superseded_at IS NULL }
             OR (m:Fact AND m.superseded_at IS NULL)) RETURN count(m) AS n""").single()["n"])
    assert cited == 0
    assert report.forgotten == len(report.items) > 0


def test_the_dry_run_reports_what_forgetting_then_does_and_changes_nothing(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")
    consolidate(firm_id="acme")
    before = statuses()

    dry = forget(firm_id="acme", at=TEN_YEARS_ON)

    assert statuses() == before
    applied = forget(firm_id="acme", at=TEN_YEARS_ON, dry_run=False)
    assert [i.id for i in dry.items] == [i.id for i in applied.items]
    forgotten = graph_driver.read(lambda tx: tx.run(
        "MATCH (m:Memory {status: 'forgotten'}) RETURN collect(m.id) AS ids").single()["ids"])
    assert sorted(forgotten) == sorted(i.id for i in dry.items) and applied.forgotten == len(dry.items)


# Ann bought Apple (a holding fact keeps that turn anyway), mentioned Microsoft's price (a price mention,
# no fact: only a citation keeps the turn) and the weather (the uncited twin of the same age). Ben bought
# Apple too, so Apple's move on T0 is one shared event seen by both.
ADVICE_SESSIONS = [
    session_line("ann", "a1", "2024-03-03T10:00:00Z", [
        ("Ann Carter", "I bought Apple at $100.00."),
        ("Ann Carter", "Microsoft was trading at 50 when I looked."),
        ("Ann Carter", "The weather in Lisbon was lovely this summer."),
    ]),
    session_line("ben", "b1", "2024-05-01T10:00:00Z", [("Ben Okafor", "I bought Apple at $120.00.")],
                 name="Ben Okafor"),
]
MOVE_DAY = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def turn_status(turn_id: str) -> str:
    return graph_driver.read(lambda tx: tx.run(
        "MATCH (t:Turn {turn_id: $t}) RETURN t.status AS s", t=turn_id).single()["s"])


def move_status(client_id: str) -> str:
    return graph_driver.read(lambda tx: tx.run(
        "MATCH (:Client {client_id: $c})-[r:SAW_MOVE]->(:Event {id: 'market_move:AAPL:2026-03-01'}) RETURN r.status AS s",
        c=client_id).single()["s"])


def cites_of(note_id: str) -> list[tuple[str, str | None]]:
    return sorted(tuple(row) for row in graph_driver.read(lambda tx: tx.run(
        "MATCH (:Note {id: $id})-[c:CITES]->(m) RETURN m.id AS id, c.client AS client", id=note_id).values()))


@pytest.fixture
def advised(clean_graph) -> list[Advice]:
    """Ann asks the twin about Apple's move, then about Microsoft, after the quotes refresh found the move."""
    import_sessions(ADVICE_SESSIONS, "acme")
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0, "MSFT": 50.0}, MOVE_DAY), now=MOVE_DAY)
    ann = Client.objects.get(external_id="ann")
    advice = [ask(client=ann, question=question).advice
              for question in ("How has Apple moved since I discussed it?", "What did I say about Microsoft?")]
    drain_outbox()  # the advice notes are written by ingestion, after the answers
    return advice


def test_the_twins_advice_note_cites_what_it_answered_from_and_only_the_clients_own_move(advised):
    ann_scope = Reader("acme", "ann").writable_scopes[0]
    apple, microsoft = advised
    microsoft_turn = graph_driver.read(lambda tx: tx.run(
        "MATCH (t:Turn {turn_id: 'a1-1'}) RETURN t.id AS id").single()["id"])

    assert f"market_move:AAPL:2026-03-01@{ann_scope}" in {c["id"] for c in apple.citations}
    assert microsoft_turn in {c["id"] for c in microsoft.citations}
    for advice in advised:
        expected = {split_move_link_id(c["id"]) or (c["id"], None) for c in advice.citations}
        expected |= {(f["id"], None) for f in advice.profile_facts}
        assert cites_of(advice.memory_id) == sorted(expected)


def test_forgetting_keeps_the_turn_and_the_move_the_twin_cited_and_forgets_their_uncited_twins(advised):
    # Three years on every one of them has decayed below the floor (a turn: at most 0.7 x exp(-1095/365)
    # = 0.035 < 0.05; a move: 0.7 x exp(-1095/90) ~ 0): only what stored advice cites is kept.
    three_years_on = datetime.now(timezone.utc) + timedelta(days=3 * 365)
    assert (turn_status("a1-1"), turn_status("a1-2"), move_status("ann"), move_status("ben")) == ("active",) * 4

    out = io.StringIO()
    call_command("forget_memory_report", "--apply", "--at", three_years_on.isoformat(), stdout=out)

    assert (turn_status("a1-1"), move_status("ann")) == ("active", "active")  # cited by Ann's advice
    assert (turn_status("a1-2"), move_status("ben")) == ("forgotten", "forgotten")  # same age, uncited
    assert turn_status("a1-0") == "active"  # the source of Ann's current holding fact


def test_what_advice_cites_is_kept_while_its_note_still_waits_in_the_outbox(clean_graph):
    import_sessions(ADVICE_SESSIONS, "acme")
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0, "MSFT": 50.0}, MOVE_DAY), now=MOVE_DAY)
    ann = Client.objects.get(external_id="ann")
    for question in ("How has Apple moved since I discussed it?", "What did I say about Microsoft?"):
        ask(client=ann, question=question)  # stored; its note is queued, not yet written
    three_years_on = datetime.now(timezone.utc) + timedelta(days=3 * 365)

    queued = forget(firm_id="acme", at=three_years_on, dry_run=True)
    drain_outbox()
    written = forget(firm_id="acme", at=three_years_on, dry_run=True)

    assert queued.protected["cited by stored advice whose note is not yet written"] >= 2
    assert queued.protected["cited by stored advice whose note is not yet written"] == \
        written.protected["cited by stored advice"]
    assert {i.id for i in queued.items} == {i.id for i in written.items}


def test_a_queued_note_keeps_the_turn_and_the_move_it_cites_from_forgetting(clean_graph):
    import_sessions(ADVICE_SESSIONS, "acme")
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0, "MSFT": 50.0}, MOVE_DAY), now=MOVE_DAY)
    ask(client=Client.objects.get(external_id="ann"), question="What did I say about Microsoft?")
    ask(client=Client.objects.get(external_id="ann"), question="How has Apple moved since I discussed it?")

    forget(firm_id="acme", at=datetime.now(timezone.utc) + timedelta(days=3 * 365), dry_run=False)

    assert (turn_status("a1-1"), move_status("ann")) == ("active", "active")
    assert (turn_status("a1-2"), move_status("ben")) == ("forgotten", "forgotten")  # same age, uncited


def test_a_move_cited_by_advice_is_kept_a_year_later_and_the_same_move_of_another_client_is_not(advised):
    report = forget(firm_id="acme", at=datetime.now(timezone.utc) + timedelta(days=365), dry_run=False)

    assert (move_status("ann"), move_status("ben")) == ("active", "forgotten")
    assert report.protected["cited by stored advice"] == 1  # Ann's move; her turns have not decayed yet


def test_a_note_never_cites_a_memory_of_another_client(advised):
    ben_scope = Reader("acme", "ben").writable_scopes[0]
    ben_turn = graph_driver.read(lambda tx: tx.run("MATCH (t:Turn {turn_id: 'b1-0'}) RETURN t.id AS id").single()["id"])

    note = remember(firm_id="acme", client_id="ann", text="Compared with Ben's Apple purchase.", source="test",
                    cites=[ben_turn, f"market_move:AAPL:2026-03-01@{ben_scope}", "turn:does-not-exist"])

    assert cites_of(note) == []
    forget(firm_id="acme", at=datetime.now(timezone.utc) + timedelta(days=3 * 365), dry_run=False)
    assert (turn_status("b1-0"), move_status("ben")) == ("active", "forgotten")  # b1-0: Ben's holding fact


@override_settings(MEMORY_FORGET_REDUNDANT=False)  # decayed, not redundant: no summary leads back to it
def test_a_decayed_turn_leaves_retrieval_but_stays_a_summary_source(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")
    consolidate(firm_id="acme")
    assert "s1-0" in {s for r in search(firm_id="acme", client_id="ann", query="feeling about the markets", k=10)
                      for s in r.sources if r.level == "turn"}

    forget(firm_id="acme", at=TEN_YEARS_ON, dry_run=False)

    assert statuses()["s1-0"] == ("forgotten", "decayed")
    found = search(firm_id="acme", client_id="ann", query="feeling about the markets", k=10)
    assert "s1-0" not in {s for r in found if r.level == "turn" for s in r.sources}
    sources = graph_driver.read(lambda tx: tx.run(
        "MATCH (:Summary {session_id: 's1', kind: 'session'})-[:DERIVED_FROM]->(t:Turn) RETURN collect(t.turn_id) AS ids"
    ).single()["ids"])
    assert sorted(sources) == ["s1-0", "s1-1", "s1-2"]


def test_access_slows_decay(clean_graph):
    import_sessions([ANN_MARCH], "acme")
    graph_driver.write(lambda tx: tx.run(
        "MATCH (t:Turn {turn_id: 's1-0'}) SET t.last_accessed_at = $at, t.access_count = 3",
        at=TEN_YEARS_ON - timedelta(days=1)).consume())

    forget(firm_id="acme", at=TEN_YEARS_ON, dry_run=False)

    assert statuses()["s1-0"] == ("active", None)


def test_importing_years_old_history_forgets_none_of_it_on_the_next_run(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")  # said in 2024, taken in today

    report = forget(firm_id="acme", dry_run=False)

    assert (report.forgotten, report.by_reason) == (0, {})


TRIP = session_line("ann", "v1", "2024-05-05T10:00:00Z", [
    ("Alex Morgan", "How was the trip?"),
    ("Ann Carter", "We loved the vineyard tour in Napa, the Cabernet was superb."),
])


def test_by_default_a_turn_a_summary_quotes_whole_is_forgotten_as_redundant(clean_graph):
    import_sessions([TRIP], "acme")
    consolidate(firm_id="acme")

    report = forget(firm_id="acme", dry_run=False)

    assert report.by_reason == {"redundant": 2}
    assert (statuses()["v1-0"], statuses()["v1-1"]) == (("forgotten", "redundant"), ("forgotten", "redundant"))


def test_a_turn_forgotten_as_redundant_is_found_again_as_itself_through_the_summary_that_quotes_it(clean_graph):
    import_sessions([TRIP], "acme")
    consolidate(firm_id="acme")
    forget(firm_id="acme", dry_run=False)

    results = search(firm_id="acme", client_id="ann", query="vineyard tour in Napa", k=5)

    assert (results[0].level, results[0].sources) == ("turn", ["v1-1"])
    assert not any(r.level in ("summary", "profile") for r in results)
    assert statuses()["v1-1"] == ("forgotten", "redundant")  # found, not revived


def test_a_turn_forgotten_as_redundant_is_out_of_reach_once_no_summary_leads_to_it(clean_graph):
    import_sessions([TRIP], "acme")
    consolidate(firm_id="acme")
    forget(firm_id="acme", dry_run=False)
    graph_driver.write(lambda tx: tx.run("MATCH (s:Summary) SET s.status = 'forgotten'").consume())

    results = search(firm_id="acme", client_id="ann", query="vineyard tour in Napa", k=5)

    assert "v1-1" not in {source for r in results for source in r.sources}


@override_settings(MEMORY_FORGET_REDUNDANT=False)
def test_with_redundancy_switched_off_a_turn_a_summary_quotes_is_not_forgotten(clean_graph):
    import_sessions([TRIP], "acme")
    consolidate(firm_id="acme")

    report = forget(firm_id="acme", dry_run=False)

    assert report.by_reason.get("redundant", 0) == 0 and report.forgotten == 0
