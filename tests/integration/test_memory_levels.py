"""Consolidation into summaries and profile versions, against the real Neo4j."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from advisor.services.importer import import_sessions
from memory.api import search
from memory.graph import driver as graph_driver
from memory.graph.summaries import profile_versions
from memory.scope import Reader, client_scope
from memory.services.consolidation import consolidate
from tests.integration.test_memory_graph import ANN_MARCH, ANN_SEPTEMBER, BEN_MAY

pytestmark = pytest.mark.django_db
ANN = client_scope("acme", "ann")


def graph_state() -> list[tuple]:
    """Every node's id and properties (embeddings aside) and every relationship: what 'nothing changed' means."""
    def _read(tx):
        nodes = [sorted((key, str(value)) for key, value in record["props"].items() if key != "embedding")
                 for record in tx.run("MATCH (n) RETURN properties(n) AS props ORDER BY n.id")]
        rels = tx.run("MATCH (a)-[r]->(b) RETURN a.id, type(r), b.id ORDER BY a.id, type(r), b.id").values()
        return [tuple(map(tuple, n)) for n in nodes] + [tuple(r) for r in rels]
    return graph_driver.read(_read)


def summaries(kind: str, scope: str = ANN) -> list[dict]:
    return graph_driver.read(lambda tx: tx.run(
        """MATCH (s:Summary {kind: $kind, scope: $scope})
           OPTIONAL MATCH (s)-[:DERIVED_FROM]->(t:Turn)
           WITH s, collect(t.session_id + '/' + t.turn_id) AS sources
           RETURN s.id AS id, s.text AS text, s.session_id AS session_id, s.topic AS topic, sources
           ORDER BY s.valid_from""", kind=kind, scope=scope).data())


def test_consolidating_twice_changes_nothing(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER, BEN_MAY], "acme")
    first = consolidate(firm_id="acme")
    before = graph_state()

    second = consolidate(firm_id="acme", full=True)  # reads every client again, changed or not

    assert first.written > 0 and first.clients == 2
    assert (second.clients, second.written, second.unchanged) == (2, 0, first.written)
    assert graph_state() == before


def test_a_session_summary_cites_exactly_the_turns_of_its_session(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")
    consolidate(firm_id="acme")

    by_session = {row["session_id"]: sorted(row["sources"]) for row in summaries("session")}

    assert by_session == {"s1": ["s1/s1-0", "s1/s1-1", "s1/s1-2"], "s2": ["s2/s2-0", "s2/s2-1"]}


def test_a_period_summary_cites_the_turns_of_the_sessions_in_its_quarter(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")
    consolidate(firm_id="acme")

    periods = summaries("period")

    assert [p["text"].split(",")[0] for p in periods] == ["Q1 2024", "Q3 2024"]
    assert [sorted(p["sources"]) for p in periods] == [["s1/s1-0", "s1/s1-1", "s1/s1-2"], ["s2/s2-0", "s2/s2-1"]]


def test_the_risk_topic_summary_tells_the_history_and_cites_both_statements(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")
    consolidate(firm_id="acme")

    risk = next(s for s in summaries("topic") if s["topic"] == "risk_tolerance")

    assert risk["text"].index("moderate") < risk["text"].index("onservative")
    assert "since replaced" in risk["text"]
    assert sorted(risk["sources"]) == ["s1/s1-1", "s2/s2-0"]


def test_a_profile_change_makes_a_new_version_that_names_what_changed_and_from_which_turns(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")
    consolidate(firm_id="acme")

    versions = profile_versions(Reader("acme", "ann").scopes)

    assert [v.version for v in versions] == [2, 1]
    newest, oldest = versions
    assert "conservative" in json.loads(newest.fields)["risk tolerance"][0].lower()
    assert "moderate" in json.loads(oldest.fields)["risk tolerance"][0].lower()
    risk_change = next(c for c in json.loads(newest.changes) if c["field"] == "risk tolerance")
    assert risk_change["turns"] == ["s2/s2-0"]
    assert oldest.valid_to == datetime(2024, 9, 12, 15, tzinfo=timezone.utc) == newest.valid_from
    supersedes = graph_driver.read(lambda tx: tx.run(
        "MATCH (n:Profile)-[:SUPERSEDES]->(o:Profile) RETURN n.version AS n, o.version AS o").data())
    assert supersedes == [{"n": 2, "o": 1}]


def test_a_broad_question_is_answered_from_summaries_whose_sources_are_turns(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")
    consolidate(firm_id="acme")

    results = search(firm_id="acme", client_id="ann", query="overview of her risk profile", k=5)

    coarse = [r for r in results if r.level in ("summary", "profile")]
    assert coarse, [r.level for r in results]
    assert all(source.startswith(("s1-", "s2-")) for r in coarse for source in r.sources)


def test_a_precise_question_gets_the_matching_turn_first_never_the_summary_that_quotes_it(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")
    consolidate(firm_id="acme")

    results = search(firm_id="acme", client_id="ann", query="what did she pay for Apple", k=3)

    assert {r.level for r in results} <= {"turn", "fact", "observation"}
    assert results[0].sources[0] == "s1-2"


def test_a_broad_question_gets_the_session_summary_citing_its_best_matching_turn_first(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")
    consolidate(firm_id="acme")
    march = summaries("session")[0]["id"]

    results = search(firm_id="acme", client_id="ann", query="overview of her Apple purchase price", k=10)

    summary = next(r for r in results if r.id == march)
    assert summary.sources[0] == "s1-2" and sorted(summary.sources) == ["s1-0", "s1-1", "s1-2"]


def test_with_twin_llm_a_model_writes_session_summaries_once_per_input(clean_graph, settings, monkeypatch):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    model = FakeListChatModel(responses=["Ann wants to retire in 2035, takes moderate risk and holds Apple.",
                                         "a second answer", "a third answer"])
    calls = []

    def init_chat_model(name):
        calls.append(name)
        return model

    monkeypatch.setattr("langchain.chat_models.init_chat_model", init_chat_model)
    import_sessions([ANN_MARCH], "acme")  # extracted by the rules
    settings.TWIN_LLM = "scripted:model"

    first = consolidate(firm_id="acme")
    second = consolidate(firm_id="acme", full=True)  # reads the client again: the digest keeps the LLM from being asked

    [summary] = summaries("session")
    assert summary["text"] == "Session of 03 Mar 2024 (meeting): Ann wants to retire in 2035, takes moderate risk and holds Apple."
    assert sorted(summary["sources"]) == ["s1/s1-0", "s1/s1-1", "s1/s1-2"]
    assert calls == ["scripted:model"] and model.i == 1  # asked once, not again for the same input
    assert second.written == 0 and first.written > 0


def test_consolidation_and_forgetting_are_scheduled_beat_tasks_on_the_ingest_queue():
    from django.conf import settings as django_settings

    from config.celery import app

    scheduled = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"memory.consolidate", "memory.forget"} <= scheduled
    app.loader.import_default_modules()
    assert {"memory.consolidate", "memory.forget"} <= set(app.tasks)
    assert app.amqp.router.route({}, "memory.consolidate")["queue"].name == "ingest"
