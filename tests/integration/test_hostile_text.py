"""Hostile text stays text: HTML typed into notes, viewpoints or names is shown escaped on every page
that shows it, and search queries that look like Cypher or Lucene find words, never other scopes and
never change the graph."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from django.utils.timezone import now as timezone_now
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.models import Client, Firm, User
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
from memory.graph import driver as graph_driver
from memory.scope import Reader
from memory.services.ingest import drain_outbox
from memory.services.retrieval import InvalidQuery, search

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('xss')</script>"
IMAGE = '<img src=x onerror="alert(1)">'
HOSTILE_NOTES = (f"Ann Carter: I bought Apple at $150 {SCRIPT} and I am worried about inflation {IMAGE}.\n"
                 "Alex: We will keep an eye on it.")


def assert_escaped(page: str) -> None:
    """The hostile markup shows as text (escaped) and never as markup."""
    assert SCRIPT not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;xss&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


@pytest.fixture
def advisor_in(client, graph, clean_graph):
    firm = Firm.objects.create(slug="x-firm", name="X Firm")
    advisor = User.objects.create_user("x-adv", password=None, role="advisor", firm=firm, first_name="Alex")
    Client.objects.create(firm=firm, external_id="ann", name="Ann Carter", advisor=advisor)
    client.force_login(advisor)
    return advisor


@pytest.fixture
def hostile_memory(client, advisor_in):
    """Notes with markup, recorded through the portal and taken into the graph."""
    response = client.post("/clients/ann/sessions/new", {"channel": "meeting", "started_at": "2024-05-01 10:00",
                                                         "notes": HOSTILE_NOTES})
    assert response.status_code == 302
    assert drain_outbox().sessions == 1


# --- escaping -----------------------------------------------------------------------------------------

def test_markup_in_notes_is_escaped_in_what_the_twin_knows_on_the_client_page(client, hostile_memory):
    page = client.get("/clients/ann/").content.decode()

    assert "Client is concerned about inflation" in page
    assert_escaped(page)


def test_markup_in_notes_is_escaped_in_memory_search_results(client, hostile_memory):
    page = client.get("/clients/ann/memory", {"q": "inflation"}).content.decode()

    assert "worried about inflation" in page
    assert_escaped(page)


def test_markup_in_notes_is_escaped_on_the_price_chart_page_and_in_its_chart_data(client, hostile_memory):
    response = client.get("/clients/ann/prices/AAPL")
    page = response.content.decode()

    assert response.status_code == 200
    assert "I bought Apple at $150" in page
    assert_escaped(page)


def test_markup_in_notes_of_today_stays_escaped_in_the_charts_hover_text(client, advisor_in):
    today = timezone_now().strftime("%Y-%m-%d %H:%M")
    client.post("/clients/ann/sessions/new", {"channel": "meeting", "started_at": today, "notes": HOSTILE_NOTES})
    drain_outbox()

    page = client.get("/clients/ann/prices/AAPL").content.decode()

    assert '"hovertemplate":"%{text}\\u003cextra\\u003e\\u003c\\u002fextra\\u003e"' in page  # a marker, with hover text
    # Entities for plotly, which would otherwise read the text as markup (it decodes them back for display).
    assert "&lt;script&gt;alert('xss')&lt;\\u002fscript&gt;" in page
    assert SCRIPT not in page and "<img src=x" not in page


def test_markup_in_the_symbol_of_a_chart_url_is_shown_as_text(client, advisor_in):
    page = client.get("/clients/ann/prices/<b>X").content.decode()

    assert "<b>X" not in page
    assert '"text":"&lt;B&gt;X close"' in page  # the chart title, for plotly


def test_markup_in_a_search_query_is_echoed_escaped(client, advisor_in):
    page = client.get("/clients/ann/memory", {"q": f"retirement {SCRIPT}"}).content.decode()

    assert SCRIPT not in page
    assert 'value="retirement &lt;script&gt;alert(&#x27;xss&#x27;)&lt;/script&gt;"' in page


def test_markup_in_a_client_name_is_escaped_in_every_page_title(client, advisor_in):
    Client.objects.filter(external_id="ann").update(name=f"Ann {SCRIPT}")

    for path in ("/", "/clients/ann/", "/clients/ann/memory", "/clients/ann/prices/AAPL"):
        page = client.get(path).content.decode()
        assert SCRIPT not in page, path
        assert "Ann &lt;script&gt;alert(&#x27;xss&#x27;)&lt;/script&gt;" in page, path


def test_markup_in_a_viewpoint_rationale_is_escaped_on_the_viewpoints_page(client, advisor_in):
    analyst = User.objects.create_user("x-ana", password=None, role="analyst", firm=advisor_in.firm)
    client.force_login(analyst)

    client.post("/viewpoints/", {"symbol": "MSFT", "stance": "buy", "rationale": f"Cloud {SCRIPT} {IMAGE}"})
    page = client.get("/viewpoints/").content.decode()

    assert "Cloud" in page
    assert_escaped(page)


# --- search queries that look like Cypher or Lucene -----------------------------------------------------

UTC = timezone.utc
HOSTILE_QUERIES = [
    "zebracorn\") MATCH (n) DETACH DELETE n //",
    "zebracorn' OR 1=1 //",
    "zebracorn} RETURN n UNION MATCH (m) RETURN m",
    "CALL db.index.fulltext.queryNodes('memory_text', '*') YIELD node RETURN node",
    "$scopes zebracorn",
    "*:*",
    "scope:* OR text:zebracorn",
    "zebracorn OR +scope:(*)",
    "+scope:(c0 f0) +text:(zebracorn)",
    "zebracorn~ AND NOT ann^10",
    "[a TO z] zebracorn",
    '\\ " ( ) [ ] { } ^ ~ * ? : / && || ! - + zebracorn',
    "zebracorn\u0000 null byte",
]


def remember(firm: Firm, external_id: str, name: str, text: str) -> None:
    person = Client.objects.create(firm=firm, external_id=external_id, name=name)
    record_session(client=person, draft=SessionDraft(
        session_id=f"s-{external_id}", channel="meeting", started_at=datetime(2024, 5, 1, 10, tzinfo=UTC),
        participants={name: "client"}, turns=(TurnDraft(f"{external_id}-1", name, text),)))


@pytest.fixture
def three_scopes(graph, clean_graph):
    """Ann, Bob (same firm) and Zed (another firm) each said a sentence with the same rare word."""
    firm, other = Firm.objects.create(slug="q-firm", name="Q"), Firm.objects.create(slug="q-other", name="Q2")
    remember(firm, "ann", "Ann Carter", "My zebracorn fund is for retirement.")
    remember(firm, "bob", "Bob Stone", "My zebracorn fund is bobsecret money.")
    remember(other, "zed", "Zed Other", "My zebracorn fund is zedsecret money.")
    assert drain_outbox().sessions == 3
    return Reader(firm_id="q-firm", client_id="ann")


def graph_size() -> tuple[int, int]:
    def count(tx) -> tuple[int, int]:
        row = tx.run("MATCH (n) OPTIONAL MATCH (n)-[r]->() RETURN count(DISTINCT n) AS n, count(r) AS r").single()
        return row["n"], row["r"]

    return graph_driver.read(count)


def assert_in_scope(results) -> None:
    texts = " ".join(r.text for r in results)
    assert "bobsecret" not in texts and "zedsecret" not in texts


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_cypher_or_lucene_looking_queries_find_only_words_in_scope_and_change_nothing(three_scopes, query):
    before = graph_size()

    results = search(three_scopes, query, k=10)

    assert_in_scope(results)
    if "zebracorn" in query:  # the words still count: Ann's own sentence is found
        assert any("zebracorn fund is for retirement" in r.text for r in results)
    assert graph_size() == before


@pytest.mark.parametrize("query", HOSTILE_QUERIES[:4] + HOSTILE_QUERIES[6:9])
def test_the_memory_search_page_answers_hostile_queries_with_in_scope_results(client, three_scopes, query):
    advisor = User.objects.create_user("q-adv", password=None, role="advisor", firm=Firm.objects.get(slug="q-firm"))
    Client.objects.filter(external_id="ann").update(advisor=advisor)
    client.force_login(advisor)

    response = client.get("/clients/ann/memory", {"q": query})

    page = response.content.decode()
    assert response.status_code == 200
    assert "zebracorn fund is for retirement" in page
    assert "bobsecret" not in page and "zedsecret" not in page


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)
       | st.lists(st.sampled_from(["zebracorn", "AND", "OR", "NOT", "TO", "+", "-", "*", "?", "~", "^2", ":", "\\",
                                   "\"", "(", ")", "[", "]", "{", "}", "scope:", "text:", "MATCH", "DELETE", "//",
                                   "$x", "'", "`", "Apple", "AAPL", "March 2024"]), max_size=12).map(" ".join))
def test_any_query_text_returns_in_scope_results_or_a_clear_refusal(three_scopes, query):
    before = graph_size()
    try:
        results = search(three_scopes, query, k=5)
    except InvalidQuery as refused:
        assert str(refused) == "the query is empty"
        assert not query.strip()
        return
    assert_in_scope(results)
    assert graph_size() == before
