"""The memory graph against the real Neo4j: import, provenance, supersession, scope, tools."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from advisor.models import Client
from advisor.services.importer import import_sessions
from memory import api
from memory.graph import driver as graph_driver
from memory.scope import Reader, client_scope
from twin.tools import memory_tools

pytestmark = pytest.mark.django_db


def session_line(client_id: str, session_id: str, when: str, turns: list[tuple[str, str]], name: str = "Ann Carter") -> str:
    return json.dumps({
        "client_id": client_id, "session_id": session_id, "channel": "meeting", "started_at": when,
        "participants": {"Alex Morgan": "advisor", name: "client"},
        "turns": [{"turn_id": f"{session_id}-{i}", "speaker": who, "text": text} for i, (who, text) in enumerate(turns)],
    })


ANN_MARCH = session_line("ann", "s1", "2024-03-03T10:00:00Z", [
    ("Alex Morgan", "How are you feeling about the markets?"),
    ("Ann Carter", "I'm comfortable with moderate risk and I want to retire in 2035."),
    ("Ann Carter", "I bought Apple at $182.10 last month."),
])
ANN_SEPTEMBER = session_line("ann", "s2", "2024-09-12T15:00:00Z", [
    ("Ann Carter", "After the baby I'd rather be conservative with risk."),
    ("Ann Carter", "Actually I want to retire in 2033."),
])
BEN_MAY = session_line("ben", "b1", "2024-05-20T09:00:00Z", [
    ("Ben Okafor", "My secret plan: I want to retire in 2029 and I hold Microsoft."),
], name="Ben Okafor")


def counts() -> tuple[int, int]:
    return graph_driver.read(lambda tx: tx.run(
        "MATCH (n) WITH count(n) AS nodes OPTIONAL MATCH ()-[r]->() RETURN nodes, count(r) AS rels").single().values())


def current_fact(slot: str, client_id: str = "ann", as_of: datetime | None = None) -> list[str]:
    from memory.graph.facts import facts_for_client

    rows = facts_for_client(Reader("acme", client_id).scopes, as_of=as_of)
    return sorted({row.value for row in rows if row.slot == slot})


def test_reimport_changes_nothing(clean_graph):
    first = import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")
    before = counts()

    second = import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")

    assert (first.sessions, second.sessions, second.unchanged) == (2, 0, 2)
    assert counts() == before
    assert before[0] > 5


def test_contradicting_fact_supersedes_and_as_of_returns_the_old_value(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")

    assert current_fact("risk_tolerance") == ["conservative"]
    assert current_fact("risk_tolerance", as_of=datetime(2024, 6, 1, tzinfo=timezone.utc)) == ["moderate"]
    assert current_fact("goal:retirement") and "2033" in current_fact("goal:retirement")[0]
    old = graph_driver.read(lambda tx: tx.run(
        """MATCH (new:Fact {slot: 'risk_tolerance', value: 'conservative'})-[:SUPERSEDES]->(old:Fact)
           RETURN old.value AS value, old.valid_to AS valid_to, old.superseded_at AS superseded_at""").single())
    assert old["value"] == "moderate"
    assert old["valid_to"].to_native() == datetime(2024, 9, 12, 15, tzinfo=timezone.utc)
    assert old["superseded_at"] is not None


def test_every_derived_memory_links_to_the_turns_it_came_from(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")

    orphans, derived = graph_driver.read(lambda tx: tx.run(
        """MATCH (m:Memory) WHERE m.level <> 'turn'
           RETURN count(CASE WHEN NOT (m)-[:DERIVED_FROM]->(:Turn) THEN 1 END) AS orphans, count(m) AS derived""").single().values())
    assert derived >= 4
    assert orphans == 0
    missing = graph_driver.read(lambda tx: tx.run(
        "MATCH (m:Memory) WHERE m.source IS NULL OR m.scope IS NULL OR m.firm_id IS NULL RETURN count(m) AS n").single()["n"])
    assert missing == 0


def test_search_returns_sources_and_is_confined_to_the_client(clean_graph):
    import_sessions([ANN_MARCH, BEN_MAY], "acme")

    ann = api.search(firm_id="acme", client_id="ann", query="when does she want to retire", k=10)
    ben = api.search(firm_id="acme", client_id="ben", query="retire 2035 Apple moderate risk", k=10)

    assert any("2035" in r.text for r in ann)
    assert all(r.sources for r in ann)
    assert any("s1-1" in r.sources for r in ann)
    assert ben and all("2035" not in r.text and "Apple" not in r.text for r in ben)
    ann_scope = client_scope("acme", "ann")
    crafted = api.search(firm_id="acme", client_id="ben", query=f"scope:{ann_scope} OR text:* retire", k=10)
    assert all("Ann" not in r.text and "2035" not in r.text for r in crafted)


def test_other_firm_with_same_client_id_sees_nothing(clean_graph):
    import_sessions([ANN_MARCH], "acme")

    assert api.search(firm_id="other-firm", client_id="ann", query="retire 2035", k=10) == []


def test_langchain_tools_are_bound_to_one_client(clean_graph):
    import_sessions([ANN_MARCH, BEN_MAY], "acme")
    tools = {tool.name: tool for tool in memory_tools(Reader("acme", "ben"), actor="twin")}

    found = json.loads(tools["search_memory"].invoke({"query": "Ann retire 2035 Apple"}))
    remembered = tools["remember"].invoke({"text": "Ben prefers phone calls on Fridays.", "importance": 0.7})

    assert all("2035" not in r["text"] for r in found)
    assert remembered.startswith("remembered as note:")
    assert all("Friday" not in r.text for r in api.search(firm_id="acme", client_id="ann", query="phone calls Fridays", k=5))
    assert any("Friday" in r.text for r in api.search(firm_id="acme", client_id="ben", query="phone calls Fridays", k=5))


def test_a_remembered_note_is_written_to_the_graph_before_the_audit_chain_is_locked(clean_graph, monkeypatch):
    """The chain's head row is locked from the audit entry to the commit: a graph write must not be inside."""
    from audit.models import AuditEntry
    from memory.graph import notes

    audited_while_writing = []
    write_note = notes.create_note

    def watched(memory_id, *args, **kwargs):
        audited_while_writing.append(AuditEntry.objects.filter(target=f"memory:{memory_id}").exists())
        write_note(memory_id, *args, **kwargs)

    monkeypatch.setattr(notes, "create_note", watched)
    note = api.remember(firm_id="acme", client_id="ann", text="Ann walks to work.", source="test")

    assert audited_while_writing == [False]
    assert list(AuditEntry.objects.filter(target=f"memory:{note}").values_list("action", flat=True)) == [
        "memory.remember"]
    assert graph_driver.read(lambda tx: tx.run("MATCH (n:Note {id: $id}) RETURN n.text AS text", id=note).single()
                             )["text"] == "Ann walks to work."


def test_a_note_the_graph_refuses_leaves_no_audit_entry(clean_graph, monkeypatch):
    from audit.models import AuditEntry
    from memory.graph import notes
    from memory.graph.driver import GraphUnavailable

    def refused(*args, **kwargs):
        raise GraphUnavailable("Neo4j is down")

    monkeypatch.setattr(notes, "create_note", refused)
    with pytest.raises(GraphUnavailable):
        api.remember(firm_id="acme", client_id="ann", text="Ann walks to work.", source="test")

    assert not AuditEntry.objects.filter(action="memory.remember").exists()


def test_update_keeps_history_and_forget_hides_from_search(clean_graph):
    note = api.remember(firm_id="acme", client_id="ann", text="Ann's daughter starts university in 2031.", source="test")
    revised = api.update_memory(firm_id="acme", client_id="ann", memory_id=note,
                                text="Ann's daughter starts university in 2032.", source="test")

    texts = [r.text for r in api.search(firm_id="acme", client_id="ann", query="daughter university", k=5)]
    assert "Ann's daughter starts university in 2032." in texts
    assert "Ann's daughter starts university in 2031." not in texts
    link = graph_driver.read(lambda tx: tx.run(
        "MATCH (n {id: $new})-[:SUPERSEDES]->(o {id: $old}) RETURN o.text AS text", new=revised, old=note).single())
    assert link["text"] == "Ann's daughter starts university in 2031."

    api.forget_memory(firm_id="acme", client_id="ann", memory_id=revised, reason="retracted", actor="advisor")
    assert all(r.id != revised for r in api.search(firm_id="acme", client_id="ann", query="daughter university", k=5))


def test_malformed_lines_are_reported_by_number_and_the_rest_imported(clean_graph):
    lines = [
        ANN_MARCH,
        "{not json",
        json.dumps({"client_id": "ann", "session_id": "s9", "turns": []}),
        json.dumps({"client_id": "ann", "session_id": "s8", "started_at": "2024-01-01", "turns": [
            {"turn_id": "x", "speaker": "Ann", "text": "hi"}]}),
        BEN_MAY,
    ]

    report = import_sessions(lines, "acme")

    assert report.sessions == 2
    assert [e.split(":")[0] for e in report.errors] == ["line 2", "line 3", "line 4"]
    assert "started_at" in report.errors[1] and "time zone" in report.errors[2]
    assert Client.objects.filter(firm__slug="acme").count() == 2


def test_the_reply_to_a_matching_question_is_found_though_it_shares_no_word_with_the_query(clean_graph):
    import_sessions([session_line("ann", "r1", "2024-03-03T10:00:00Z", [
        ("Alex Morgan", "Shall we revisit the retirement timeline?"),
        ("Ann Carter", "Honestly, 2036 is when I hang up my boots."),
        ("Alex Morgan", "Noted. The markets were choppy this week."),
    ])], "acme")

    hybrid = api.search(firm_id="acme", client_id="ann", query="retirement timeline", k=5)
    fulltext = api.search(firm_id="acme", client_id="ann", query="retirement timeline", k=5, mode="fulltext")

    answer = [r for r in hybrid if r.sources == ["r1-1"]]
    assert answer and "reply" in answer[0].methods
    assert [r.sources for r in hybrid].index(["r1-1"]) < [r.sources for r in hybrid].index(["r1-2"])
    assert all(r.sources != ["r1-1"] for r in fulltext)


def test_a_month_named_in_the_question_prefers_what_was_said_that_month(clean_graph):
    import_sessions([
        session_line("ann", "m3", "2024-03-03T10:00:00Z", [("Ann Carter", "Our holiday plans changed, we fly on Friday.")]),
        session_line("ann", "m9", "2024-09-12T10:00:00Z", [("Ann Carter", "Our holiday plans changed again, no flights now.")]),
    ], "acme")

    march = api.search(firm_id="acme", client_id="ann", query="What did Ann say about holiday plans in March 2024?", k=2)
    september = api.search(firm_id="acme", client_id="ann", query="What did Ann say about holiday plans in September 2024?", k=2)

    assert march[0].sources == ["m3-0"] and march[0].score > march[1].score
    assert september[0].sources == ["m9-0"] and september[0].score > september[1].score


def test_the_names_set_aside_from_a_query_are_only_those_in_the_callers_scope(clean_graph):
    from memory.graph.search import people_named

    import_sessions([ANN_MARCH, BEN_MAY], "acme")

    assert people_named(Reader("acme", "ann").scopes) == {"Ann Carter", "Alex Morgan"}
    assert people_named(Reader("acme", "ben").scopes) == {"Ben Okafor", "Alex Morgan"}
    assert people_named(Reader("other-firm", "ann").scopes) == set()


def test_people_kept_on_a_client_written_before_they_were_keep_the_earlier_sessions_names(clean_graph):
    from memory.graph.search import people_named

    import_sessions([ANN_MARCH], "acme")
    graph_driver.write(lambda tx: tx.run("MATCH (c:Client) REMOVE c.people").consume())  # the old shape
    assert people_named(Reader("acme", "ann").scopes) == {"Ann Carter", "Alex Morgan"}

    import_sessions([session_line("ann", "s7", "2024-10-01T10:00:00Z", [("Cara Diaz", "Hello Ann.")],
                                  name="Ann Carter").replace('"Alex Morgan": "advisor"', '"Cara Diaz": "advisor"')],
                    "acme")
    stored = graph_driver.read(lambda tx: tx.run("MATCH (c:Client) RETURN c.people AS people").single()["people"])
    assert sorted(stored) == ["Alex Morgan", "Ann Carter", "Cara Diaz"]
    assert people_named(Reader("acme", "ann").scopes) == {"Ann Carter", "Alex Morgan", "Cara Diaz"}


def test_the_graph_migration_gives_people_to_clients_written_before_they_were_kept(clean_graph):
    from memory.graph import schema

    import_sessions([ANN_MARCH, BEN_MAY], "acme")
    graph_driver.write(lambda tx: tx.run("MATCH (c:Client) REMOVE c.people").consume())
    schema.migrate()
    people = {r["id"]: sorted(r["people"]) for r in graph_driver.read(lambda tx: tx.run(
        "MATCH (c:Client) RETURN c.id AS id, c.people AS people").data())}
    assert people == {client_scope("acme", "ann"): ["Alex Morgan", "Ann Carter"],
                      client_scope("acme", "ben"): ["Alex Morgan", "Ben Okafor"]}


def test_session_and_turn_times_keep_their_instant_to_the_microsecond(clean_graph):
    line = json.loads(session_line("ann", "tz1", "2024-03-03T10:00:00.123456+01:00", [("Ann Carter", "Hello.")]))
    line["turns"][0]["at"] = "2024-03-03T10:05:30.654321+01:00"
    import_sessions([json.dumps(line)], "acme")

    started, turn_at = graph_driver.read(lambda tx: tx.run(
        "MATCH (s:Session {session_id: 'tz1'})-[:HAS_TURN]->(t:Turn) RETURN s.started_at AS s, t.recorded_at AS t"
    ).single().values())

    assert started.to_native() == datetime(2024, 3, 3, 9, 0, 0, 123456, tzinfo=timezone.utc)
    assert turn_at.to_native() == datetime(2024, 3, 3, 9, 5, 30, 654321, tzinfo=timezone.utc)


def test_each_session_links_its_turns_in_speaking_order_and_a_rewrite_adds_no_link(clean_graph):
    from memory.models import OutboxEntry
    from memory.services.ingest import drain_outbox

    long = session_line("ann", "s9", "2024-10-01T10:00:00Z", [("Ann Carter", f"Point number {n}.") for n in range(12)])
    import_sessions([ANN_MARCH, long, BEN_MAY], "acme")

    def chains() -> dict[str, tuple[int, list[str]]]:
        rows = graph_driver.read(lambda tx: tx.run(
            """
            MATCH (s:Session)-[:HAS_TURN]->(t:Turn)
            OPTIONAL MATCH (t)-[:NEXT]->(n:Turn)
            RETURN s.session_id AS session, t.turn_id AS turn, collect(n.turn_id) AS next
            """).data())
        linked: dict[str, tuple[int, list[str]]] = {}
        for row in rows:
            turns, pairs = linked.get(row["session"], (0, []))
            linked[row["session"]] = (turns + 1, sorted([*pairs, *(f"{row['turn']}>{n}" for n in row["next"])]))
        return linked

    expected = {
        "s1": (3, ["s1-0>s1-1", "s1-1>s1-2"]),
        "s9": (12, sorted(f"s9-{n}>s9-{n + 1}" for n in range(11))),
        "b1": (1, []),
    }
    assert chains() == expected
    before = counts()

    OutboxEntry.objects.update(status=OutboxEntry.Status.PENDING)  # the same records written again
    assert drain_outbox().sessions == 3

    assert chains() == expected
    assert counts() == before
