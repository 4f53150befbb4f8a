"""What a request costs, counted: Neo4j round trips (driver read/write calls) and SQL queries.

Counts are behaviour, not timing: a change that reads the same thing twice, or a query per row, fails
here on any machine. The figures per request are in BENCHMARKS.md ("Request cost", from
tests/bench/request_cost.py). SQL limits are upper bounds (SQLite and PostgreSQL both run this file).
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from advisor.models import Client, User
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
from memory import selectors
from memory.scope import Reader
from memory.services import retrieval
from memory.services.consolidation import consolidate
from memory.services.ingest import drain_outbox
from tests.graph_calls import count_graph_calls
from tests.integration.twin_seed import NOW, seed_ann
from twin.models import Advice
from twin.services.advice import ask, brief

pytestmark = pytest.mark.django_db

FACTS_READ = "memory.graph.facts.facts_for_client.<locals>._read"


@pytest.fixture
def ann(clean_graph) -> Client:
    """Ann (a full profile, three holdings, a view on AAPL) who later changed her risk tolerance, with a login."""
    client = seed_ann()
    record_session(client=client, draft=SessionDraft(
        session_id="ann-s2", channel="call", started_at=NOW - timedelta(days=1), participants={"Ann Carter": "client"},
        turns=(TurnDraft("c1", "Ann Carter", "Actually I'm fine with a lot of volatility now, I'm aggressive."),)))
    drain_outbox()
    client.user = User.objects.create_user("ann-login", password="pw-123456789", role=User.Role.CLIENT,
                                           firm=client.firm)
    client.save(update_fields=["user"])
    return client


def reader_of(client: Client) -> Reader:
    return Reader(firm_id=client.firm.slug, client_id=client.external_id)


PAGE_READS = ("memory.graph.facts.facts_for_client.<locals>._read",
              "memory.graph.summaries.profile_versions.<locals>._read",
              "memory.graph.lifecycle.merge_proposals.<locals>._read",
              "memory.graph.securities.remembered_prices.<locals>._read")


def test_the_client_page_reads_memory_in_one_transaction_and_ten_queries(client, ann):
    client.force_login(ann.advisor)

    with count_graph_calls() as graph, CaptureQueriesContext(connection) as sql:
        page = client.get("/clients/ann/")

    assert page.status_code == 200 and "aggressive" in page.content.decode()
    # facts, profile versions (the current one among them), merge proposals, remembered prices: one each,
    # all in one transaction (memory.graph.driver.read_together)
    assert [graph.count(name) for name in PAGE_READS] == [1, 1, 1, 1], graph.names
    assert (graph.reads, graph.writes) == (1, 0), graph.names
    assert len(sql.captured_queries) <= 10, [q["sql"][:80] for q in sql.captured_queries]


def test_the_client_page_at_a_past_day_reads_the_profile_in_view_separately(client, ann):
    client.force_login(ann.advisor)

    with count_graph_calls() as graph:
        page = client.get("/clients/ann/", {"as_of": (NOW - timedelta(days=10)).date().isoformat()})

    assert page.status_code == 200
    assert graph.count("memory.graph.summaries.profile_at.<locals>._read") == 1
    assert [graph.count(name) for name in PAGE_READS] == [1, 1, 1, 1], graph.names
    assert (graph.reads, graph.writes) == (1, 0), graph.names


def client_rows_read(sql: CaptureQueriesContext) -> int:
    return sum('FROM "advisor_client"' in q["sql"] for q in sql.captured_queries)


def test_the_chat_page_reads_memory_once_and_in_nine_queries(client, ann):
    client.force_login(ann.user)
    client.get("/chat/ann/")  # the first visit starts the conversation

    with count_graph_calls() as graph, CaptureQueriesContext(connection) as sql:
        page = client.get("/chat/ann/")

    assert page.status_code == 200
    assert (graph.reads, graph.writes) == (1, 0), graph.names
    assert client_rows_read(sql) == 1  # the permission check reuses the row the page found
    assert len(sql.captured_queries) <= 9, [q["sql"][:80] for q in sql.captured_queries]


def test_the_json_answer_for_a_signed_in_client_reads_their_row_once(client, ann):
    client.force_login(ann.user)
    client.post("/api/clients/ann/ask", {"question": "What are my goals?"}, content_type="application/json")

    with CaptureQueriesContext(connection) as sql:
        response = client.post("/api/clients/ann/ask", {"question": "How much risk am I comfortable with?"},
                               content_type="application/json")

    assert response.status_code == 201 and response.json()["citations"]
    assert client_rows_read(sql) == 1
    assert len(sql.captured_queries) <= 17, [q["sql"][:80] for q in sql.captured_queries]


def test_the_twins_answer_reads_the_clients_facts_once(ann):
    with count_graph_calls() as graph:
        answer = ask(client=ann, question="How much risk am I comfortable with?").to_contract()

    assert graph.count(FACTS_READ) == 1, graph.names
    # facts, remembered prices and their turns, quotes; the search's own transaction (people, candidates with
    # the summaries and the turns they lead to, details) and the vector index's beside it. Nothing is written:
    # the advice's note waits in the outbox for ingestion, and the search's access note is written later
    # (memory/services/access_notes.py)
    assert (graph.reads, graph.writes) == (6, 0), graph.names
    # the replaced statement ("conservative") is history: the answer rests on the current one only
    facts = Advice.objects.get(pk=answer["advice_id"]).profile_facts
    assert [f["value"] for f in facts if f["slot"] == "risk_tolerance"] == ["aggressive"]
    assert answer["citations"] and all("stomach big losses" not in c["text"] for c in answer["citations"])


def test_the_brief_reads_memory_in_four_round_trips(ann):
    with count_graph_calls() as graph:
        brief(client=ann)

    assert graph.count(FACTS_READ) == 1
    assert (graph.reads, graph.writes) == (4, 0), graph.names  # its note is queued, as an answer's is


SEARCH_READS = ("memory.graph.search.people_named.<locals>._read",
                "memory.graph.search.candidates.<locals>._read",
                "memory.graph.search.details.<locals>._read")


def test_a_search_reads_in_one_transaction_and_the_independent_lists_in_another_beside_it(ann):
    with count_graph_calls() as graph:
        results = retrieval.search(reader_of(ann), "How much risk am I comfortable with?", k=5)

    assert results
    assert [graph.count(name) for name in SEARCH_READS] == [1, 1, 1], graph.names
    assert graph.count("memory.graph.search._independent_lists") == 1, graph.names
    assert (graph.reads, graph.writes) == (2, 0), graph.names


def test_a_search_embeds_the_question_once(ann):
    embedded: list[str] = []
    real = retrieval.embed_query

    def counting(text: str) -> list[float]:
        embedded.append(text)
        return real(text)

    retrieval.embed_query = counting
    try:
        results = retrieval.search(reader_of(ann), "how much risk can I take", k=5)
    finally:
        retrieval.embed_query = real

    assert results and len(embedded) == 1


def test_current_facts_from_the_history_are_the_current_read(ann):
    reader = reader_of(ann)

    current, history = selectors.client_facts_with_history(reader)

    assert current == selectors.client_facts(reader)
    replaced = [f for f in history if f.superseded_at is not None]
    assert [f.value for f in replaced] == ["conservative"]
    assert [f.value for f in current if f.attribute == "risk_tolerance"] == ["aggressive"]


def test_the_profile_from_its_history_is_the_current_read(ann):
    consolidate(firm_id=ann.firm.slug)  # a profile version per session: the risk tolerance changed in the second
    reader = reader_of(ann)

    profile, versions = selectors.client_profile_with_history(reader)

    assert len(versions) >= 2 and profile is not None and profile.superseded_at is None
    assert (profile, versions) == (selectors.client_profile(reader), selectors.profile_history(reader))


def test_portfolio_risk_is_computed_once_a_day_until_a_quote_refresh_rewrites_todays_close(ann, monkeypatch):
    from django.core.cache import cache

    from advisor.services.quotes import refresh_client_quotes
    from tests.integration.twin_seed import FixedProvider
    from twin.services import context

    cache.clear()
    computed: list[dict[str, float]] = []
    real = context.portfolio_risk

    def counting(**kwargs):  # noqa: ANN003, ANN202
        computed.append(kwargs["weights"])
        return real(**kwargs)

    monkeypatch.setattr(context, "portfolio_risk", counting)

    brief(client=ann)
    brief(client=ann)
    assert len(computed) == 1
    # the same prices quoted again later: the weights are the same, the closes behind them are not
    refresh_client_quotes(FixedProvider({"AAPL": 200.0, "MO": 50.0, "KO": 50.0}, NOW + timedelta(minutes=5)))
    brief(client=ann)
    assert computed == [{"AAPL": 0.5, "KO": 0.25, "MO": 0.25}] * 2
