"""Search mechanics (and the reads of a client's facts) that keep their cost bounded by what they return, not
by the size of a scope, and the firm-scale bench's bulk loader (tests/bench/bulk_load.py) writing what
production writes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from unittest import mock

import pytest

from memory import api, selectors
from memory.graph import driver as graph_driver
from memory.graph import facts, schema, search
from memory.scope import Reader, client_scope, firm_scope
from memory.services.retrieval import lucene_query
from tests.bench import bulk_load, scale_recall

FIRM = "scale-firm"
CLIENT, OTHER = client_scope(FIRM, "ann"), client_scope(FIRM, "ben")
SHARED = firm_scope(FIRM)
START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def add(rows: list[dict]) -> None:
    graph_driver.write(lambda tx: tx.run(
        """
        UNWIND $rows AS row
        CREATE (:Memory {id: row.id, scope: row.scope, status: row.status, level: row.level, importance: 0.5,
                         text: row.id, recorded_at: row.at, created_at: row.at, embedding: [1.0] + [x IN range(1, 255) | 0.0]})
        """, rows=rows).consume())


def memory(id_: str, scope: str, day: int, level: str = "observation", status: str = "active") -> dict:
    return {"id": id_, "scope": scope, "status": status, "level": level, "at": START + timedelta(days=day)}


def operators(plan: dict) -> list[str]:
    return [plan["operatorType"].split("@")[0]] + [op for child in plan.get("children", []) for op in operators(child)]


def profiled(statement: str, **params) -> tuple[list[str], int]:
    """The operators of a statement's plan and the rows its index seeks produced."""
    summary = graph_driver.read(lambda tx: tx.run("PROFILE " + statement, params).consume())

    def seek_rows(plan: dict) -> int:
        own = plan.get("rows", 0) if "Index" in plan["operatorType"] else 0
        return own + sum(seek_rows(child) for child in plan.get("children", []))

    return operators(summary.profile), seek_rows(summary.profile)


@pytest.fixture
def history(clean_graph):
    """Ann: observations on days 1..30 and turns on days 31..40 (newer, but never 'recent'); the firm:
    observations on days 5, 25 and 35; Ben: one observation on day 50; a forgotten one on day 45."""
    add([memory(f"ann-{d}", CLIENT, d) for d in range(1, 31)]
        + [memory(f"ann-turn-{d}", CLIENT, d, level="turn") for d in range(31, 41)]
        + [memory("ann-forgotten", CLIENT, 45, status="forgotten")]
        + [memory(f"firm-{d}", SHARED, d) for d in (5, 25, 35)]
        + [memory("ben-50", OTHER, 50)])
    graph_driver.read(lambda tx: tx.run("CALL db.awaitIndexes(60)").consume())


def recent(scopes: list[str], limit: int) -> list[str]:
    ranked = search.candidates(scopes=scopes, lucene=None, vector=None, symbols=[], slots=[], limit=limit,
                               as_of=None, include_recent=True)
    return [c.id for c in ranked["recent"]]


def test_recent_merges_the_newest_of_each_readable_scope_newest_first(history):
    assert recent([CLIENT, SHARED], 4) == ["firm-35", "ann-30", "ann-29", "ann-28"]


def test_recent_skips_turns_and_memories_out_of_view(history):
    assert "ann-forgotten" not in recent([CLIENT], 40) and not any("turn" in i for i in recent([CLIENT], 40))
    assert recent([CLIENT], 40) == [f"ann-{d}" for d in range(30, 0, -1)]


def test_recent_reads_the_newest_few_of_each_level_through_the_index_never_the_turns(history):
    found, seek_rows = profiled(search._newest("$scopes").replace(search.IN_VIEW, search._IN_VIEW_NOW), scopes=[CLIENT, SHARED], limit=2, as_of=None, known_at=None,
                                recorded_by=search.END_OF_TIME, superseded=False, covered=[])
    assert any(op.startswith("NodeIndex") for op in found), found
    # Ann's observations: a forgotten one passed over, then 2; no facts; the firm: its newest 2: 5 rows, and a
    # few more when the runtime reads the index in batches. Walking all levels would pass over Ann's 10 newer
    # turns first (15 rows at least); a scan reads all 44 of the scopes.
    assert 5 <= seek_rows < 15


def test_a_point_in_time_read_of_the_recent_starts_its_walk_at_that_time_not_at_the_newest(history):
    day_10 = START + timedelta(days=10, hours=12)
    ranked = search.candidates(scopes=[CLIENT, SHARED], lucene=None, vector=None, symbols=[], slots=[], limit=3,
                               as_of=day_10, include_recent=True)
    assert [c.id for c in ranked["recent"]] == ["ann-10", "ann-9", "ann-8"]

    found, seek_rows = profiled(search._newest("$scopes").replace(search.IN_VIEW, search._IN_VIEW_NOW), scopes=[CLIENT], limit=3,
                                as_of=day_10, known_at=None, recorded_by=day_10, superseded=False, covered=[])
    # Ann's observations of days 10, 9 and 8 (and a few more when the runtime reads the index in batches), not
    # the 20 recorded after day 10 first.
    assert 3 <= seek_rows < 10


def test_a_point_in_time_read_of_a_security_walks_back_from_that_time(history):
    graph_driver.write(lambda tx: tx.run(
        "MATCH (m:Memory) WHERE m.id IN ['ann-29', 'ann-3'] SET m.symbol = 'AAPL'").consume())

    with mock.patch.object(search, "GRAPH_WALK", 5):  # as of day 6: Ann's observations of days 2..6
        ranked = search.candidates(scopes=[CLIENT], lucene=None, vector=None, symbols=["AAPL"], slots=[], limit=10,
                                   as_of=START + timedelta(days=6), include_recent=False)

    assert [c.id for c in ranked["graph"]] == ["ann-3"]


def test_a_clients_facts_are_their_own_and_sought_in_their_scope_not_among_the_firms_many(clean_graph):
    # The firm's 40 analyst viewpoints are firm-shared facts; Ann's 2 facts are all a page or an answer reads.
    graph_driver.write(lambda tx: tx.run(
        """
        UNWIND $rows AS row
        CREATE (:Memory:Fact {id: row.id, scope: row.scope, slot: row.slot, status: 'active', level: 'fact',
                              text: row.id, attribute: 'x', importance: 0.5, valid_from: $at, recorded_at: $at, created_at: $at})
        """, at=START, rows=[{"id": f"view-{i}", "scope": SHARED, "slot": f"viewpoint:S{i}"} for i in range(40)]
        + [{"id": "ann-risk", "scope": CLIENT, "slot": "risk"}, {"id": "ann-goal", "scope": CLIENT, "slot": "goal:retirement"}],
    ).consume())
    graph_driver.read(lambda tx: tx.run("CALL db.awaitIndexes(60)").consume())
    captured = {}
    real_run = graph_driver._run

    def capture(kind, work, **params):
        def wrapped(tx, **kw):
            class Recording:
                def run(self, query, parameters=None, **more):
                    captured.update(query=query, params={**(parameters or {}), **more})
                    return tx.run(query, parameters, **more)
            return work(Recording(), **kw)
        return real_run(kind, wrapped, **params)

    with mock.patch.object(graph_driver, "_run", capture):
        found = selectors.client_facts(Reader(FIRM, "ann"))
    operators_run, seek_rows = profiled(captured["query"], **captured["params"])

    assert sorted(f.id for f in found) == ["ann-goal", "ann-risk"]
    assert "NodeByLabelScan" not in operators_run and seek_rows == 2
    assert sorted(f.slot for f in facts.facts_for_client([SHARED])) == sorted(f"viewpoint:S{i}" for i in range(40))


def test_summaries_and_the_turns_they_bring_back_are_sought_not_scanned_across_the_scope(history):
    add([memory("ann-summary", CLIENT, 12, level="summary"),
         {**memory("ann-covered", CLIENT, 11, level="turn", status="forgotten")}])
    graph_driver.write(lambda tx: tx.run(
        "MATCH (s:Memory {id: 'ann-summary'}), (t:Memory {id: 'ann-covered'}) "
        "SET t.forgotten_reason = 'redundant' CREATE (s)-[:DERIVED_FROM]->(t)").consume())
    statement = search._TEXT_AND_SUMMARIES.replace(search.IN_VIEW, search._IN_VIEW_NOW)
    params = dict(vector=[1.0] + [0.0] * 255, lucene=None, coarse_lucene=None, fetch=30, coarse_fetch=20, coarse=True,
                  limit=10, covered=[], scopes=[CLIENT, SHARED], as_of=None, known_at=None, superseded=False)

    found, seek_rows = profiled(statement, **params)
    result = graph_driver.read(lambda tx: tx.run(statement, params).single().data())

    assert [c["id"] for c in result["candidates"]] == ["ann-summary"] and result["covered"] == ["ann-covered"]
    # the one summary (and at most a neighbour of the index's batch), not the scopes' 46 memories; its
    # covered turn is reached through its own link
    assert "NodeIndexSeek" in found and "NodeIndexScan" not in found and 1 <= seek_rows < 5


def test_a_summary_is_found_by_full_text_however_many_other_memories_match_before_it(clean_graph):
    # 60 observations outscore the summary on "pension"; the summaries are sought by level in the index, not
    # among the best hits of every level (of which a search fetches a few times its list).
    graph_driver.write(lambda tx: tx.run(
        """
        UNWIND $rows AS row
        CREATE (:Memory {id: row.id, scope: $scope, status: 'active', level: row.level, importance: 0.5,
                         text: row.text, recorded_at: $at, created_at: $at})
        """, scope=CLIENT, at=START,
        rows=[{"id": f"ann-{i}", "level": "observation", "text": "pension pension pension"} for i in range(60)]
        + [{"id": "ann-summary", "level": "summary", "text": "A year of talks: the pension, the house, the children"}],
    ).consume())
    graph_driver.read(lambda tx: tx.run("CALL db.awaitIndexes(60)").consume())

    ranked = search.candidates(scopes=[CLIENT, SHARED], lucene=lucene_query(["pension"], [CLIENT, SHARED]), vector=None,
                               symbols=[], slots=[], limit=5, as_of=None, include_recent=False, summaries=True)

    assert [c.id for c in ranked["summary"]] == ["ann-summary"]
    assert len(ranked["fulltext"]) == 5 and all(c.level == "observation" for c in ranked["fulltext"])


def test_migrate_rebuilds_a_full_text_index_made_without_the_level_field(graph):
    graph_driver.write(lambda tx: tx.run(f"DROP INDEX {schema.FULLTEXT_INDEX}").consume())
    graph_driver.write(lambda tx: tx.run(
        f"CREATE FULLTEXT INDEX {schema.FULLTEXT_INDEX} FOR (m:Memory) ON EACH [m.text, m.scope]").consume())
    assert schema.index_properties(schema.FULLTEXT_INDEX) == ["text", "scope"]

    schema.migrate()

    assert schema.index_properties(schema.FULLTEXT_INDEX) == ["text", "scope", "level"]


def test_a_security_is_sought_among_the_newest_of_each_level_up_to_the_walk(history):
    graph_driver.write(lambda tx: tx.run(
        "MATCH (m:Memory) WHERE m.id IN ['ann-29', 'ann-3'] SET m.symbol = 'AAPL'").consume())

    def about_apple() -> list[str]:
        ranked = search.candidates(scopes=[CLIENT], lucene=None, vector=None, symbols=["AAPL"], slots=[],
                                   limit=10, as_of=None, include_recent=False)
        return [c.id for c in ranked["graph"]]

    assert about_apple() == ["ann-29", "ann-3"]
    with mock.patch.object(search, "GRAPH_WALK", 5):  # Ann's newest 5 observations: days 26..30
        assert about_apple() == ["ann-29"]


def test_a_clients_own_mentions_of_a_security_share_the_list_with_the_firms_many_newer_ones(history):
    # The firm holds 6 observations on Apple, all newer than Ann's 2 mentions; the list holds 4.
    add([memory(f"firm-apple-{d}", SHARED, 40 + d) for d in range(6)])
    graph_driver.write(lambda tx: tx.run(
        "MATCH (m:Memory) WHERE m.id IN ['ann-29', 'ann-3'] OR m.id STARTS WITH 'firm-apple' SET m.symbol = 'AAPL'"
    ).consume())

    ranked = search.candidates(scopes=[CLIENT, SHARED], lucene=None, vector=None, symbols=["AAPL"], slots=[],
                               limit=4, as_of=None, include_recent=False)

    assert [c.id for c in ranked["graph"]] == ["ann-29", "firm-apple-5", "ann-3", "firm-apple-4"]


def test_details_give_a_memorys_instants_as_aware_datetimes_to_the_microsecond(history):
    at = datetime(2025, 3, 4, 15, 30, 7, 123456, tzinfo=timezone.utc)
    graph_driver.write(lambda tx: tx.run(
        "MATCH (m:Memory {id: 'ann-3'}) SET m.valid_from = $at, m.recorded_at = $at", at=at).consume())

    row = search.details(["ann-3", "ben-50"], [CLIENT])

    assert list(row) == ["ann-3"]  # Ben's memory is out of scope
    assert row["ann-3"]["valid_from"] == at == row["ann-3"]["recorded_at"] and row["ann-3"]["valid_to"] is None
    assert row["ann-3"]["recorded_at"].utcoffset() == timedelta(0)


def month_list(scopes: list[str]) -> list[str]:
    month = (START + timedelta(days=20), START + timedelta(days=30))
    ranked = search.candidates(scopes=scopes, lucene=None, vector=[1.0] + [0.0] * 255, symbols=[],
                               slots=[], limit=20, as_of=None, include_recent=False, period=month)
    return [c.id for c in ranked["period"]]


def month_of(scopes: list[str]) -> set[str]:
    return set(month_list(scopes))


def test_a_named_month_holds_the_memories_of_that_month_in_every_readable_scope(history):
    assert month_of([CLIENT, SHARED]) == {f"ann-{d}" for d in range(20, 30)} | {"firm-25"}


def test_a_scope_with_a_large_month_is_read_through_the_index_with_the_same_result(history):
    statements: list[str] = []
    large_months: list[list[str]] = []
    real_run = graph_driver._run

    def spy(kind, work, **params):
        def wrapped(tx, **kw):
            class Recording:
                def run(self, query, parameters=None, **more):
                    statements.append(query)
                    result = tx.run(query, parameters, **more)
                    if "$scan_max" not in query:
                        return result
                    record = result.single()
                    large_months.append(record["large"])
                    return type("Read", (), {"single": lambda _self: record})()
            return work(Recording(), **kw)
        return real_run(kind, wrapped, **params)

    with mock.patch.object(search, "PERIOD_SCAN_MAX", 3), mock.patch.object(graph_driver, "_run", spy):
        found = month_of([CLIENT, SHARED])

    assert found == {f"ann-{d}" for d in range(20, 30)} | {"firm-25"}
    # Ann's month holds 10 (more than 3): the nearest memories' lookup keeps those of the month; the firm's
    # holds 1: read whole, in the statement that counts the months
    assert large_months == [[CLIENT]]
    assert sum("VECTOR INDEX" in query for query in statements) == 1
    assert not any("$period_scopes" in query for query in statements)  # the exact scan of every scope's month


def test_each_memory_of_the_month_is_a_candidate_once_however_its_scope_is_read(history):
    """The index's nearest memories include those of a month read whole: they are not added again."""
    month = sorted([f"ann-{d}" for d in range(20, 30)] + ["firm-25"])
    for scan_max in (0, 3, 100):  # every month through the index; Ann's alone; every month read whole
        with mock.patch.object(search, "PERIOD_SCAN_MAX", scan_max):
            assert sorted(month_list([CLIENT, SHARED])) == month, scan_max


# --- the bulk loader ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loaded(django_db_blocker, graph):
    from tests.conftest import empty_graph

    empty_graph()
    state: dict = {}
    clients = bulk_load.load(shape="clients", firm_id=FIRM, target=1000, state=state)
    research = bulk_load.load(shape="firm-research", firm_id=FIRM, target=state["memories"] + 300, state=state)
    graph_driver.read(lambda tx: tx.run("CALL db.awaitIndexes(120)").consume())
    yield clients, research, state
    empty_graph()


def test_the_loader_writes_turns_with_production_properties_scope_and_provenance(loaded):
    clients, _, _ = loaded
    counts = graph_driver.read(lambda tx: tx.run(
        "MATCH (m:Memory {firm_id: $firm}) WHERE m.client_id IS NOT NULL "
        "RETURN count(CASE WHEN m:Turn THEN 1 END) AS turns, count(CASE WHEN m:Fact THEN 1 END) AS facts, "
        "count(m) AS memories", firm=FIRM).single())
    assert clients.clients == 2 and counts["turns"] == 2 * 30 * 30
    assert counts["facts"] > 0 and counts["memories"] == clients.memories == counts["turns"] + counts["facts"]
    row = graph_driver.read(lambda tx: tx.run(
        """
        MATCH (s:Session)-[:HAS_TURN]->(t:Memory:Turn {turn_id: 'L00000-s000-t001'})
        MATCH (s)-[:WITH_CLIENT]->(c:Client)
        RETURN t {.*, embedding: size(t.embedding)} AS t, c.id AS client
        """).single())
    turn = row["t"]
    assert turn["scope"] == client_scope(FIRM, "L00000") == row["client"]
    assert (turn["firm_id"], turn["client_id"], turn["visibility"], turn["status"], turn["level"]) == (
        FIRM, "L00000", "client", "active", "turn")
    assert turn["source"] == "session:L00000-s000" and turn["embedding"] == 256
    assert turn["text"].startswith(turn["speaker"] + ": ")


def test_every_loaded_fact_derives_from_the_turn_its_statement_was_planted_in(loaded):
    clients, _, _ = loaded
    question = next(q for q in clients.questions if q["kind"] == "single-fact")
    derived = graph_driver.read(lambda tx: tx.run(
        "MATCH (f:Fact)-[:DERIVED_FROM]->(t:Turn {turn_id: $turn}) RETURN f.scope AS scope, f.slot AS slot",
        turn=question["evidence"][0]).data())
    assert derived and all(row["scope"] == client_scope(FIRM, question["client_id"]) for row in derived)


def test_a_loaded_clients_question_finds_its_evidence_and_never_another_clients_memory(loaded):
    clients, _, _ = loaded
    question = next(q for q in clients.questions if q["client_id"] == "L00000" and q["kind"] == "single-fact")
    results = api.search(firm_id=FIRM, client_id="L00000", query=question["query"], k=10)
    assert any(set(question["evidence"]) & set(r.sources) for r in results)
    assert all(not source.startswith("L00001") for r in results for source in r.sources)
    theirs = api.search(firm_id=FIRM, client_id="L00001", query=question["query"], k=10)
    assert all(not source.startswith("L00000") for r in theirs for source in r.sources)


def test_firm_research_is_read_by_every_clients_search_and_by_no_other_firm(loaded):
    _, research, state = loaded
    assert research.memories == 300 and state["research"] == 300
    query = "research on Apple margins and the price target"
    for client in ("L00000", "L00001"):
        results = api.search(firm_id=FIRM, client_id=client, query=query, k=10)
        assert any(r.origin.startswith(("research:bulk-", "viewpoint:bulk-")) for r in results)
    assert api.search(firm_id="another-firm", client_id="L00000", query=query, k=10) == []


def test_the_index_against_the_scan_measure_says_how_many_of_the_scans_best_the_index_reaches(loaded):
    clients, _, _ = loaded
    questions = clients.questions[:8]

    measured = scale_recall.index_against_scan(questions, firm_id=FIRM)

    assert measured["questions"] == 8 and measured["quantization"] == "NONE"
    assert measured["index_reaches_scan_top10"] >= 0.9  # two small clients: the index misses little, if anything
    with mock.patch.object(search, "_from_index", return_value={"vector": []}):  # an index that finds nothing
        assert scale_recall.index_against_scan(questions, firm_id=FIRM)["index_reaches_scan_top10"] == 0.0


def test_a_kept_graph_must_hold_the_clients_of_the_saved_questions(loaded):
    clients, _, _ = loaded
    from tests.bench.scale_bench import clients_missing

    assert clients_missing(clients.questions, firm_id=FIRM) == []
    assert clients_missing(clients.questions + [{"client_id": "L09999"}], firm_id=FIRM) == ["L09999"]
    assert clients_missing(clients.questions, firm_id="another-firm") == sorted({q["client_id"] for q in clients.questions})


def test_loaded_turns_mention_the_securities_they_name_as_the_import_links_them(loaded):
    rows = graph_driver.read(lambda tx: tx.run(
        "MATCH (t:Turn {firm_id: $firm}) WHERE t.text CONTAINS 'Microsoft' "
        "OPTIONAL MATCH (t)-[:MENTIONS]->(s:Security {symbol: 'MSFT'}) RETURN t.id AS turn, s IS NOT NULL AS linked",
        firm=FIRM).data())
    assert rows and all(row["linked"] for row in rows)
