"""Remembered prices kept true: refresh against the real Neo4j with offline and failing providers."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from django.conf import settings

from advisor.models import Client, Firm
from marketdata.models import QuoteRefreshRun
from marketdata.providers.base import ProviderUnavailable, Quote, QuoteBatch
from marketdata.providers.replay import ReplayProvider
from marketdata.services.drift import remembered_prices_for
from advisor.services.quotes import refresh_client_quotes
from marketdata.services.refresh import refresh_remembered_quotes
from advisor.services.importer import import_sessions
from memory import api
from memory.graph import driver as graph_driver
from memory.scope import Reader, market_scope

pytestmark = pytest.mark.django_db

SESSION = json.dumps({
    "client_id": "ann", "session_id": "q1", "channel": "meeting", "started_at": "2024-03-03T10:00:00Z",
    "participants": {"Ann Carter": "client"},
    "turns": [
        {"turn_id": "q1-1", "speaker": "Ann Carter", "text": "I bought Apple at $100.00 and IBM at $200.00."},
        {"turn_id": "q1-2", "speaker": "Ann Carter", "text": "Microsoft was trading at 50 when I looked."},
    ],
})
T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


class FixedProvider:
    """Answers instantly with given prices: the world we control in a test."""

    name = "fixed"

    def __init__(self, prices: dict[str, float], as_of: datetime, unknown: tuple[str, ...] = ()) -> None:
        self.prices, self.as_of, self.unknown = prices, as_of, unknown

    def latest_quotes(self, symbols: list[str]) -> QuoteBatch:
        return QuoteBatch(
            quotes={s: Quote(s, self.prices[s], "USD", self.as_of, self.name, self.as_of.date())
                    for s in symbols if s in self.prices},
            unknown=[s for s in symbols if s in self.unknown or s not in self.prices],
        )


class FailingProvider:
    name = "failing"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def latest_quotes(self, symbols: list[str]) -> QuoteBatch:
        raise self.error


def security(symbol: str) -> dict:
    return graph_driver.read(lambda tx: tx.run(
        "MATCH (s:Security {symbol: $s}) RETURN s.last_price AS price, s.quote_status AS status, "
        "s.quote_error AS error, s.last_price_as_of AS as_of", s=symbol).single().data())


@pytest.fixture
def remembered(clean_graph):
    import_sessions([SESSION], "acme")
    return Reader("acme", "ann")


def test_replay_refresh_updates_securities_and_every_drift_value(remembered):
    shift = ReplayProvider(years_back=14).shift
    # 09:00 UTC on the calendar day that replays 4 January 2012: halfway from the close of the 3rd to the 4th.
    now = datetime(2012, 1, 4, 9, tzinfo=timezone.utc) + shift
    provider = ReplayProvider(now=lambda: now, years_back=14)
    expected = provider.latest_quotes(["AAPL", "IBM", "MSFT"]).quotes

    report = refresh_remembered_quotes(provider=provider, now=T0)

    assert sorted(report.updated) == ["AAPL", "IBM", "MSFT"]
    # Halfway between the closes of 3 and 4 January 2012 (AAPL 411.23 -> 413.44 in the shipped data),
    # heading into the close of the calendar day that replays the 4th.
    assert shift.days % 7 == 0 and 13 < shift.days / 365.25 < 15
    assert expected["AAPL"].market_date == (datetime(2012, 1, 4, tzinfo=timezone.utc) + shift).date()
    assert expected["AAPL"].price == pytest.approx(round((411.23 + 413.44) / 2, 2))
    drifts = {row.symbol: row for row in remembered_prices_for(remembered)}
    assert drifts["AAPL"].current_price == expected["AAPL"].price
    assert drifts["AAPL"].drift_pct == pytest.approx(100 * (expected["AAPL"].price - 100) / 100)
    assert drifts["IBM"].drift_pct == pytest.approx(100 * (expected["IBM"].price - 200) / 200)
    assert drifts["MSFT"].drift_pct == pytest.approx(100 * (expected["MSFT"].price - 50) / 50)
    assert "when discussed on 3 March 2024" in drifts["AAPL"].summary
    assert "replayed prices" in drifts["AAPL"].summary


@pytest.mark.parametrize("error", [
    ProviderUnavailable("yfinance is unavailable after 4 attempts: YFRateLimitError: Too Many Requests"),
    ProviderUnavailable("yfinance is unavailable after 4 attempts: Timeout: read timed out"),
    ProviderUnavailable("yfinance returned no data at all for 3 symbols (network or outage?)"),
])
def test_provider_failure_marks_prices_stale_keeps_them_and_records_the_error(remembered, error):
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 120.0, "IBM": 210.0, "MSFT": 55.0}, T0), now=T0)

    report = refresh_remembered_quotes(provider=FailingProvider(error), now=T0 + timedelta(minutes=1))

    aapl = security("AAPL")
    assert (aapl["price"], aapl["status"]) == (120.0, "stale")
    assert str(error) in aapl["error"]
    assert report.updated == [] and set(report.errors) == {"AAPL", "IBM", "MSFT"}
    run = QuoteRefreshRun.objects.order_by("-started_at").first()
    assert run.status == "failed" and str(error) in run.errors["AAPL"]
    row = next(r for r in remembered_prices_for(remembered) if r.symbol == "AAPL")
    assert "STALE" in row.summary and row.current_price == 120.0


def test_a_late_task_does_not_overwrite_a_newer_price(remembered):
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 130.0, "IBM": 1, "MSFT": 1}, T0 + timedelta(hours=1)))

    late = refresh_remembered_quotes(provider=FixedProvider({"AAPL": 90.0, "IBM": 1, "MSFT": 1}, T0))

    assert security("AAPL")["price"] == 130.0
    assert late.updated == []


def test_an_unknown_symbol_is_reported_and_does_not_stop_the_batch(remembered):
    Firm.objects.get(slug="acme")
    Client.objects.get(external_id="ann").holdings.create(symbol="ZZZZ", quantity=1)

    report = refresh_client_quotes(provider=FixedProvider({"AAPL": 101.0, "IBM": 201.0, "MSFT": 51.0}, T0), now=T0)

    assert report.unknown == ["ZZZZ"]
    assert sorted(report.updated) == ["AAPL", "IBM", "MSFT"]
    assert security("ZZZZ")["status"] == "unknown"
    assert QuoteRefreshRun.objects.get().status == "partial"


def client_moves(symbol: str) -> list[dict]:
    """Each client's link to the shared move events of `symbol`, oldest first."""
    return graph_driver.read(lambda tx: [r.data() for r in tx.run(
        "MATCH (c:Client)-[r:SAW_MOVE]->(e:Event {kind: 'market_move'})-[:ABOUT]->(:Security {symbol: $s}) "
        "RETURN c.client_id AS client, e.id AS event, r.text AS text, r.drift_percent AS drift, "
        "r.move_percent AS move, r.discussed_price AS discussed, r.alerted_price AS alerted "
        "ORDER BY e.recorded_at, client", s=symbol)])


def move_events(symbol: str) -> list[dict]:
    return graph_driver.read(lambda tx: [r.data() for r in tx.run(
        "MATCH (e:Event {kind: 'market_move'})-[:ABOUT]->(:Security {symbol: $s}) "
        "RETURN e.id AS id, e.text AS text, e.scope AS scope, e.price AS price, size(e.embedding) AS dimensions "
        "ORDER BY e.recorded_at", s=symbol)])


def test_a_significant_move_becomes_exactly_one_memory_event(remembered):
    provider = FixedProvider({"AAPL": 114.0, "IBM": 201.0, "MSFT": 50.5}, T0)

    first = refresh_remembered_quotes(provider=provider, now=T0)
    second = refresh_remembered_quotes(provider=FixedProvider({"AAPL": 115.0, "IBM": 201.0, "MSFT": 50.5},
                                                              T0 + timedelta(minutes=1)))

    assert (first.events, second.events) == (1, 0)
    [event] = move_events("AAPL")
    assert event["dimensions"] == settings.MEMORY_EMBEDDING_DIMENSIONS
    assert event["scope"] == market_scope() and "Ann" not in event["text"]
    [move] = client_moves("AAPL")
    assert move["text"].startswith("AAPL moved +14.0% since Ann Carter discussed it at 100.00 on 3 March 2024")
    found = api.search(firm_id="acme", client_id="ann", query="Apple moved since discussed", k=10)
    move = next(r for r in found if r.kind == "market_move")
    assert move.origin == "market:fixed" and move.sources == []
    assert move.text.startswith("AAPL moved +14.0% since Ann Carter discussed it at 100.00")


def test_a_move_after_an_alert_is_measured_from_the_alert_and_says_so(remembered):
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 120.0, "IBM": 201.0, "MSFT": 50.5}, T0), now=T0)
    next_day = T0 + timedelta(days=1)

    later = refresh_remembered_quotes(provider=FixedProvider({"AAPL": 108.0, "IBM": 201.0, "MSFT": 50.5}, next_day),
                                      now=next_day)

    assert later.events == 1
    moves = client_moves("AAPL")
    assert moves[1]["text"] == ("AAPL moved -10.0% since the last alert at 120.00 (now 108.00); +8.0% since Ann Carter "
                                "discussed it at 100.00 on 3 March 2024.")
    assert (moves[1]["discussed"], moves[1]["alerted"], moves[1]["move"], moves[1]["drift"]) == (100.0, 120.0, -10.0, 8.0)


def test_the_twins_price_tool_reports_drift_and_staleness_for_this_client_only(remembered):
    from twin.tools import memory_tools

    import_sessions([json.dumps({
        "client_id": "ben", "session_id": "b1", "channel": "call", "started_at": "2024-05-01T10:00:00Z",
        "participants": {"Ben Okafor": "client"},
        "turns": [{"turn_id": "b1-1", "speaker": "Ben Okafor", "text": "I bought Google at $300.00."}],
    })], "acme")
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 120.0, "IBM": 210.0, "MSFT": 55.0, "GOOG": 310.0}, T0), now=T0)
    refresh_remembered_quotes(provider=FailingProvider(ProviderUnavailable("Timeout: read timed out")),
                              now=T0 + timedelta(minutes=1))
    tool = next(t for t in memory_tools(Reader("acme", "ann"), actor="twin") if t.name == "remembered_prices")

    everything = json.loads(tool.invoke({}))
    apple = json.loads(tool.invoke({"symbol": "aapl"}))

    assert sorted(row["symbol"] for row in everything) == ["AAPL", "IBM", "MSFT"]  # not Ben's GOOG
    bens = next(t for t in memory_tools(Reader("acme", "ben"), actor="twin") if t.name == "remembered_prices")
    assert [row["symbol"] for row in json.loads(bens.invoke({}))] == ["GOOG"]
    assert len(apple) == 1
    assert apple[0]["price_when_discussed"] == 100.0 and apple[0]["current_price"] == 120.0
    assert apple[0]["drift_pct"] == 20.0
    assert apple[0]["quote_status"] == "stale" and "read timed out" in apple[0]["quote_error"]
    assert apple[0]["discussed_at"].startswith("2024-03-03")
    assert "STALE" in apple[0]["summary"]


def test_the_price_history_keeps_one_bar_a_day_with_the_latest_close_and_stays_bounded(remembered, settings):
    from marketdata.models import PriceBar

    settings.PRICE_HISTORY_MAX_DAYS = 2

    def refresh(day: int, hour: int, price: float) -> list:
        at = T0 + timedelta(days=day, hours=hour)
        refresh_remembered_quotes(provider=FixedProvider({"AAPL": price, "IBM": 200.0, "MSFT": 50.0}, at), now=at)
        return list(PriceBar.objects.filter(symbol="AAPL").order_by("date").values_list("date", "close"))

    refresh(0, 0, 101.0)
    assert refresh(0, 1, 102.5) == [(T0.date(), 102.5)]
    assert refresh(1, 0, 103.0) == [(T0.date(), 102.5), ((T0 + timedelta(days=1)).date(), 103.0)]
    assert refresh(2, 0, 104.0) == [((T0 + timedelta(days=1)).date(), 103.0), ((T0 + timedelta(days=2)).date(), 104.0)]
    assert PriceBar.objects.filter(symbol="IBM").count() == 2


# --- moves shared per security and day, seen by each client in their own words ---------------------------

def discussed(client_id: str, name: str, session_id: str, text: str) -> None:
    import_sessions([json.dumps({
        "client_id": client_id, "session_id": session_id, "channel": "call", "started_at": "2024-05-01T10:00:00Z",
        "participants": {name: "client"}, "turns": [{"turn_id": f"{session_id}-1", "speaker": name, "text": text}],
    })], "acme")


@pytest.fixture
def three_clients(remembered):
    """Ann discussed Apple at 100.00 (and IBM, Microsoft); Ben Apple at 120.00; Cleo only Google."""
    discussed("ben", "Ben Okafor", "b1", "I bought Apple at $120.00.")
    discussed("cleo", "Cleo Park", "c1", "I bought Google at $300.00.")
    return remembered


def moves_of(client_id: str, mode: str = "hybrid", **when) -> list:
    return [r for r in api.search(firm_id="acme", client_id=client_id, query="Apple moved since discussed", k=10,
                                  mode=mode, **when) if r.kind == "market_move"]


def test_one_move_event_per_security_and_day_is_shared_and_each_client_keeps_their_words_and_drift(three_clients):
    report = refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0, "IBM": 200.0, "MSFT": 50.0,
                                                               "GOOG": 301.0}, T0), now=T0)

    assert report.events == 2  # Ann's and Ben's Apple moves; Cleo's Google moved 0.3%
    [event] = move_events("AAPL")
    assert event["id"] == "market_move:AAPL:2026-03-01" and event["price"] == 132.0
    assert event["text"] == "AAPL moved significantly for clients who discussed it: 132.00 on 1 March 2026."
    ann, ben = client_moves("AAPL")
    assert (ann["client"], ann["drift"], ann["discussed"]) == ("ann", 32.0, 100.0)
    assert (ben["client"], ben["drift"], ben["discussed"]) == ("ben", 10.0, 120.0)
    assert ann["text"] == "AAPL moved +32.0% since Ann Carter discussed it at 100.00 on 3 March 2024 (now 132.00)."
    assert ben["text"] == "AAPL moved +10.0% since Ben Okafor discussed it at 120.00 on 1 May 2024 (now 132.00)."


@pytest.mark.parametrize("mode", ["hybrid", "vector"])
def test_a_clients_search_finds_their_own_move_and_never_another_clients(three_clients, mode):
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0, "IBM": 200.0, "MSFT": 50.0, "GOOG": 301.0}, T0),
                              now=T0)

    [ann] = moves_of("ann", mode)
    [ben] = moves_of("ben", mode)

    assert ann.text.startswith("AAPL moved +32.0% since Ann Carter discussed it at 100.00")
    assert ben.text.startswith("AAPL moved +10.0% since Ben Okafor")
    assert ann.id != ben.id and ann.recorded_at.startswith("2026-03-01")
    assert moves_of("cleo", mode) == []  # never discussed Apple: no move, nobody else's drift
    assert api.search(firm_id="acme", client_id=None, query="Apple moved since discussed", k=10) == []


def test_a_clients_move_is_found_by_the_security_the_question_names(three_clients):
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0, "IBM": 200.0, "MSFT": 50.0, "GOOG": 301.0}, T0),
                              now=T0)

    [ann] = moves_of("ann")

    assert "graph" in ann.methods and ann.id == f"market_move:AAPL:2026-03-01@{scope_of('ann')}"


def test_a_move_is_not_in_view_before_it_happened_on_either_clock(three_clients):
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0, "IBM": 200.0, "MSFT": 50.0, "GOOG": 301.0}, T0),
                              now=T0)

    assert moves_of("ann", as_of=T0 - timedelta(days=1)) == []
    assert len(moves_of("ann", as_of=T0 + timedelta(days=1))) == 1
    assert moves_of("ann", known_at=datetime(2020, 1, 1, tzinfo=timezone.utc)) == []


def test_a_client_forgets_their_own_move_never_the_shared_event(three_clients):
    from audit.models import AuditEntry
    from memory.services.agent_memory import MemoryNotFound

    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0, "IBM": 200.0, "MSFT": 50.0, "GOOG": 301.0}, T0),
                              now=T0)
    [ann] = moves_of("ann")
    [event] = move_events("AAPL")

    with pytest.raises(MemoryNotFound):
        api.forget_memory(firm_id="acme", client_id="ann", memory_id=event["id"], reason="incorrect", actor="ann")
    with pytest.raises(MemoryNotFound):
        api.update_memory(firm_id="acme", client_id="ann", memory_id=event["id"], text="AAPL fell", source="agent:twin")
    with pytest.raises(MemoryNotFound):  # Cleo cannot reach Ann's move either
        api.forget_memory(firm_id="acme", client_id="cleo", memory_id=ann.id, reason="incorrect", actor="cleo")
    api.forget_memory(firm_id="acme", client_id="ann", memory_id=ann.id, reason="retracted", actor="ann")

    assert moves_of("ann") == [] and len(moves_of("ben")) == 1
    assert move_events("AAPL") == [event]
    assert list(AuditEntry.objects.filter(action="memory.forget").values_list("client_id", "target")) == [
        ("ann", f"memory:{ann.id}")]


def test_a_second_cycle_the_same_day_changes_only_what_moved_again(three_clients):
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0, "IBM": 230.0, "MSFT": 50.0, "GOOG": 301.0}, T0),
                              now=T0)
    before = client_moves("AAPL") + client_moves("IBM")

    again = refresh_remembered_quotes(provider=FixedProvider({"AAPL": 110.0, "IBM": 231.0, "MSFT": 50.0,
                                                              "GOOG": 301.0}, T0 + timedelta(hours=1)))

    # Apple fell 16.7% from both alerts (132.00); IBM rose 0.4% from its alert: only Apple's references move.
    assert again.events == 2
    assert client_moves("AAPL") + client_moves("IBM") == before  # the day's moves are written once
    assert [len(move_events(s)) for s in ("AAPL", "IBM")] == [1, 1]
    alerts = graph_driver.read(lambda tx: {(r["client"], r["symbol"]): r["alert"] for r in tx.run(
        "MATCH (c:Client)-[t:TRACKS]->(s:Security) WHERE t.alert_price IS NOT NULL "
        "RETURN c.client_id AS client, s.symbol AS symbol, t.alert_price AS alert")})
    assert alerts == {("ann", "AAPL"): 110.0, ("ben", "AAPL"): 110.0, ("ann", "IBM"): 230.0}
    next_day = T0 + timedelta(days=1)
    later = refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0, "IBM": 231.0, "MSFT": 50.0,
                                                              "GOOG": 301.0}, next_day), now=next_day)
    assert later.events == 2 and len(move_events("AAPL")) == 2 and len(client_moves("AAPL")) == 4


def test_erasing_a_client_removes_their_moves_and_leaves_the_shared_event_for_others(three_clients):
    from memory.services.erasure import erase_client_scope

    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0, "IBM": 200.0, "MSFT": 50.0, "GOOG": 301.0}, T0),
                              now=T0)

    erase_client_scope(firm_id="acme", client_id="ann", actor="compliance", reason="erasure request")

    assert [m["client"] for m in client_moves("AAPL")] == ["ben"]
    assert len(move_events("AAPL")) == 1
    assert moves_of("ann") == [] and len(moves_of("ben")) == 1


def test_a_clients_move_decays_on_their_own_link(three_clients):
    from memory.services import forgetting

    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0, "IBM": 200.0, "MSFT": 50.0, "GOOG": 301.0}, T0),
                              now=T0)
    [ann] = moves_of("ann")
    ann_scope = graph_driver.read(lambda tx: tx.run(
        "MATCH (c:Client {client_id: 'ann'}) RETURN c.id AS id").single()["id"])

    # importance 0.6, raised to 0.7 by the search that found it, x exp(-age / 90 days) < 0.05 after 238 days
    report = forgetting.forget(scope=ann_scope, at=datetime.now(timezone.utc) + timedelta(days=245), dry_run=False)

    assert ann.id in {item.id for item in report.items}
    assert moves_of("ann") == [] and len(moves_of("ben")) == 1
    assert len(moves_of("ann", as_of=T0 + timedelta(days=1))) == 1  # decayed, so still true then


def test_the_twin_and_the_digest_see_the_clients_move_in_their_own_words(three_clients):
    from memory.graph import digests as graph_digests
    from twin.services.context import gather_context

    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0, "IBM": 200.0, "MSFT": 50.0, "GOOG": 301.0}, T0),
                              now=T0)
    context = gather_context(client=Client.objects.get(external_id="ann"), reader=Reader("acme", "ann"),
                             question="How has Apple moved since I discussed it?")
    period = (T0 - timedelta(days=1), T0 + timedelta(days=1))

    [move] = [memory for memory in context.recalled if memory.kind == "market_move"]
    [event] = graph_digests.market_move_events(Reader("acme", "ann").writable_scopes, *period)

    assert move.text == "AAPL moved +32.0% since Ann Carter discussed it at 100.00 on 3 March 2024 (now 132.00)."
    assert (event.id, event.text, event.move_percent, event.source) == (move.id, move.text, 32.0, "market:fixed")
    assert graph_digests.market_move_events(Reader("acme", "cleo").writable_scopes, *period) == []


# --- full text reaches a client's move through the links' own index, confined to the client ---------------

ANN_WORDS = "AAPL moved since discussed it at 100.00 on 3 March 2024"


def scope_of(client_id: str) -> str:
    from memory.scope import client_scope

    return client_scope("acme", client_id)


def fulltext_moves(client_id: str, query: str = ANN_WORDS) -> list:
    return [(r.id, r.text, r.methods) for r in api.search(firm_id="acme", client_id=client_id, query=query, k=20,
                                                          mode="fulltext") if r.kind == "market_move"]


def test_a_fulltext_search_finds_the_clients_move_in_their_own_words_under_the_link_id(three_clients):
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0, "IBM": 200.0, "MSFT": 50.0, "GOOG": 301.0}, T0),
                              now=T0)

    assert fulltext_moves("ann") == [(
        f"market_move:AAPL:2026-03-01@{scope_of('ann')}",
        "AAPL moved +32.0% since Ann Carter discussed it at 100.00 on 3 March 2024 (now 132.00).", ["fulltext"])]
    [hybrid] = moves_of("ann")
    assert "fulltext" in hybrid.methods and hybrid.id == f"market_move:AAPL:2026-03-01@{scope_of('ann')}"


def test_a_fulltext_search_never_returns_another_clients_move_with_the_same_security_and_words(three_clients):
    from memory.graph.schema import MOVE_FULLTEXT_INDEX
    from memory.services.retrieval import lucene_query

    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0, "IBM": 200.0, "MSFT": 50.0, "GOOG": 301.0}, T0),
                              now=T0)
    words = ANN_WORDS.lower().split()

    # Ben's own move shares the security and most of Ann's words; Ann's is never his, nor Cleo's.
    assert [move_id for move_id, _, _ in fulltext_moves("ben")] == [f"market_move:AAPL:2026-03-01@{scope_of('ben')}"]
    assert fulltext_moves("cleo") == []
    # The index itself keeps other clients' links out of Ben's top-k: asked for one hit, it is his.
    in_index = graph_driver.read(lambda tx: [r["client"] for r in tx.run(
        f"CALL db.index.fulltext.queryRelationships('{MOVE_FULLTEXT_INDEX}', $lucene, {{limit: 1}}) "
        "YIELD relationship RETURN startNode(relationship).client_id AS client",
        lucene=lucene_query(words, Reader("acme", "ben").scopes))])
    assert in_index == ["ben"]


def test_a_forgotten_move_is_not_a_fulltext_result(three_clients):
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0, "IBM": 200.0, "MSFT": 50.0, "GOOG": 301.0}, T0),
                              now=T0)
    [(ann_move, _, _)] = fulltext_moves("ann")

    api.forget_memory(firm_id="acme", client_id="ann", memory_id=ann_move, reason="retracted", actor="ann")

    assert fulltext_moves("ann") == []
    assert len(fulltext_moves("ben")) == 1
