"""Vector candidates against the real Neo4j: filtered by scope inside the index (2026.x), exact scan (5.x)."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from unittest import mock

import pytest

from memory.graph import driver as graph_driver
from memory.graph import schema, search

DIMENSIONS = 256
SMALL, BIG, FIRM = "c-small", "c-big", "f-firm"


def unit(*pairs: tuple[int, float]) -> list[float]:
    """A 256-dimensional vector with the given (axis, value) entries."""
    vector = [0.0] * DIMENSIONS
    for axis, value in pairs:
        vector[axis] = value
    return vector


QUERY = unit((0, 1.0))


def add_memories(rows: list[dict]) -> None:
    graph_driver.write(lambda tx: tx.run(
        """
        UNWIND $rows AS row
        CREATE (:Memory {id: row.id, scope: row.scope, status: row.status, level: 'observation', importance: 0.5,
                         text: row.id, recorded_at: datetime($recorded), embedding: row.embedding})
        """,
        rows=rows, recorded="2025-01-01T00:00:00Z").consume())


@pytest.fixture
def crowded_graph(clean_graph):
    """A big client whose 300 memories all lie closer to the query than anything of the small client."""
    add_memories(
        [{"id": f"big-{i}", "scope": BIG, "status": "active", "embedding": unit((0, 1.0), (1 + i % 200, 0.05))}
         for i in range(300)]
        + [
            {"id": "small-45deg", "scope": SMALL, "status": "active", "embedding": unit((0, 1.0), (1, 1.0))},
            {"id": "small-90deg", "scope": SMALL, "status": "active", "embedding": unit((1, 1.0))},
            {"id": "small-opposite", "scope": SMALL, "status": "active", "embedding": unit((0, -1.0))},
            {"id": "small-forgotten", "scope": SMALL, "status": "forgotten", "embedding": unit((0, 1.0))},
            {"id": "firm-60deg", "scope": FIRM, "status": "active",
             "embedding": unit((0, 0.5), (2, math.sqrt(3) / 2))},
        ]
    )
    graph_driver.read(lambda tx: tx.run("CALL db.awaitIndexes(60)").consume())


def vector_candidates(scopes: list[str], *, as_of: datetime | None = None) -> list[tuple[str, float]]:
    ranked = search.candidates(scopes=scopes, lucene=None, vector=QUERY, symbols=[], slots=[], limit=5,
                               as_of=as_of, include_recent=False)
    return [(c.id, round(c.score, 4)) for c in ranked["vector"]]


# Neo4j's cosine score is (1 + cos) / 2: 45 degrees 0.8536, 60 degrees 0.75, 90 degrees 0.5, opposite 0.
EXPECTED = [("small-45deg", 0.8536), ("firm-60deg", 0.75), ("small-90deg", 0.5), ("small-opposite", 0.0)]


def test_the_test_server_filters_inside_the_vector_index(graph):
    assert schema.filtered_vector_search() is True
    assert schema.index_properties(schema.VECTOR_INDEX) == ["embedding", "scope", "status", "recorded_at"]


def test_index_search_finds_a_small_clients_memories_that_a_crowded_global_top_k_would_lose(crowded_graph):
    assert vector_candidates([SMALL, FIRM]) == EXPECTED


def test_the_exact_scan_of_neo4j_5_ranks_the_same_candidates(crowded_graph):
    with mock.patch.object(search, "filtered_vector_search", return_value=False):
        assert vector_candidates([SMALL, FIRM]) == EXPECTED


def test_a_point_in_time_read_sees_only_what_was_recorded_by_then(crowded_graph):
    before_anything = datetime(2024, 12, 31, tzinfo=timezone.utc)

    assert vector_candidates([SMALL, FIRM], as_of=before_anything) == []
    assert vector_candidates([SMALL], as_of=datetime(2025, 6, 1, tzinfo=timezone.utc)) == [
        ("small-45deg", 0.8536), ("small-90deg", 0.5), ("small-opposite", 0.0)]


@pytest.mark.parametrize("statement", ["_VECTOR_NEAREST", "_VECTOR_ACTIVE", "_VECTOR_NEAREST_AS_OF"])
def test_the_vector_query_reads_the_index_not_every_node_of_the_scope(crowded_graph, statement):
    as_of = datetime(2025, 6, 1, tzinfo=timezone.utc) if statement.endswith("AS_OF") else None

    def _plan(tx):
        summary = tx.run(getattr(search, statement).replace("CYPHER 25", "CYPHER 25 PROFILE", 1), index_scopes=[BIG], month_scopes=[], start=None, end=None, vector=QUERY, fetch=10, limit=5, as_of=as_of, superseded=False, known_at=None, covered=[]).consume()
        return summary.profile

    def operators(plan) -> list[tuple[str, int]]:
        return [(plan["operatorType"].split("@")[0], plan.get("rows", 0))] + [
            op for child in plan.get("children", []) for op in operators(child)]

    found = operators(graph_driver.read(_plan))
    assert "NodeVectorIndexSearch" in [name for name, _ in found]
    assert "NodeByLabelScan" not in [name for name, _ in found]
    # The probe for an indexed memory (a Neo4j fault, see search._INDEXED_PROBE) stops at its first row; the
    # big client's 300 memories are read through the vector index only.
    assert sum(rows for name, rows in found if name.startswith("NodeIndex")) <= 2


def test_forgotten_memories_nearest_the_query_do_not_crowd_out_the_active_ones(crowded_graph):
    # The index is asked by scope alone first; all 15 it returns (3 x limit) are forgotten, so it is asked
    # again for active memories only.
    add_memories([{"id": f"old-{i}", "scope": SMALL, "status": "forgotten", "embedding": unit((0, 1.0), (1 + i % 200, 0.01))}
                  for i in range(40)])
    graph_driver.read(lambda tx: tx.run("CALL db.awaitIndexes(60)").consume())

    assert vector_candidates([SMALL]) == [("small-45deg", 0.8536), ("small-90deg", 0.5), ("small-opposite", 0.0)]
    assert vector_candidates([SMALL, FIRM]) == EXPECTED


def test_a_point_in_time_read_scans_exactly_until_migrate_rebuilds_an_index_without_recorded_at(crowded_graph):
    graph_driver.write(lambda tx: tx.run(f"DROP INDEX {schema.VECTOR_INDEX}").consume())
    graph_driver.write(lambda tx: tx.run(
        f"CYPHER 25 CREATE VECTOR INDEX {schema.VECTOR_INDEX} FOR (m:Memory) ON (m.embedding) WITH [m.scope, m.status] "
        "OPTIONS {indexConfig: {`vector.dimensions`: 256, `vector.similarity_function`: 'cosine'}}").consume())
    graph_driver.read(lambda tx: tx.run("CALL db.awaitIndexes(60)").consume())
    schema._filters_on_recorded_at.cache_clear()
    june = datetime(2025, 6, 1, tzinfo=timezone.utc)

    # Asking that index to filter on recorded_at would fail the search; the exact scan answers the same.
    assert schema.point_in_time_vector_search() is False
    assert vector_candidates([SMALL, FIRM], as_of=june) == EXPECTED

    schema.migrate()

    assert schema.point_in_time_vector_search() is True
    assert vector_candidates([SMALL, FIRM], as_of=june) == EXPECTED


def test_migrate_rebuilds_a_vector_index_made_without_filter_properties(graph):
    graph_driver.write(lambda tx: tx.run(f"DROP INDEX {schema.VECTOR_INDEX}").consume())
    graph_driver.write(lambda tx: tx.run(
        f"CREATE VECTOR INDEX {schema.VECTOR_INDEX} FOR (m:Memory) ON (m.embedding) "
        "OPTIONS {indexConfig: {`vector.dimensions`: 256, `vector.similarity_function`: 'cosine'}}").consume())
    assert schema.index_properties(schema.VECTOR_INDEX) == ["embedding"]

    schema.migrate()

    assert schema.index_properties(schema.VECTOR_INDEX) == ["embedding", "scope", "status", "recorded_at"]
    assert schema.vector_index_dimensions() == 256


def test_migrate_rebuilds_a_vector_index_built_with_the_servers_default_hnsw_settings(graph):
    graph_driver.write(lambda tx: tx.run(f"DROP INDEX {schema.VECTOR_INDEX}").consume())
    graph_driver.write(lambda tx: tx.run(
        f"CYPHER 25 CREATE VECTOR INDEX {schema.VECTOR_INDEX} FOR (m:Memory) ON (m.embedding) "
        "WITH [m.scope, m.status, m.recorded_at] "
        "OPTIONS {indexConfig: {`vector.dimensions`: 256, `vector.similarity_function`: 'cosine'}}").consume())
    assert schema.vector_index_config()["vector.hnsw.ef_construction"] == 100  # Neo4j's own default

    schema.migrate()

    config = schema.vector_index_config()
    built = (config["vector.hnsw.m"], config["vector.hnsw.ef_construction"], config["vector.dimensions"])
    assert built == (16, 40, 256)
    assert schema.index_properties(schema.VECTOR_INDEX) == ["embedding", "scope", "status", "recorded_at"]


def test_migrate_rebuilds_a_quantized_vector_index_without_quantization(graph):
    # What an index built by the previous release looks like on 2026.08: the wanted beam, binary quantization.
    graph_driver.write(lambda tx: tx.run(f"DROP INDEX {schema.VECTOR_INDEX}").consume())
    graph_driver.write(lambda tx: tx.run(
        f"CYPHER 25 CREATE VECTOR INDEX {schema.VECTOR_INDEX} FOR (m:Memory) ON (m.embedding) "
        "WITH [m.scope, m.status, m.recorded_at] "
        "OPTIONS {indexConfig: {`vector.dimensions`: 256, `vector.similarity_function`: 'cosine', "
        "`vector.hnsw.m`: 16, `vector.hnsw.ef_construction`: 40}}").consume())
    assert schema.vector_index_config()["vector.quantization.type"] == "BINARY"  # Neo4j's own default

    schema.migrate()

    config = schema.vector_index_config()
    assert (config["vector.quantization.type"], config["vector.default_search_expansion_factor"]) == ("NONE", 1.0)
    assert (config["vector.hnsw.m"], config["vector.hnsw.ef_construction"]) == (16, 40)


def _vector_index_id() -> int:
    return graph_driver.read(lambda tx: tx.run(
        "SHOW VECTOR INDEXES YIELD name, id WHERE name = $name RETURN id", name=schema.VECTOR_INDEX).single()["id"])


def test_migrate_keeps_a_vector_index_built_as_wanted(graph):
    schema.migrate()
    created = _vector_index_id()

    schema.migrate()

    assert _vector_index_id() == created


def test_a_client_whose_memory_was_all_deleted_gets_no_vector_candidates_and_no_error(crowded_graph):
    # Neo4j 2026.08.1 fails a filtered search matching no live entry once the index holds deleted ones.
    graph_driver.write(lambda tx: tx.run("MATCH (m:Memory {scope: $scope}) DETACH DELETE m", scope=SMALL).consume())

    assert vector_candidates([SMALL]) == []
    assert vector_candidates([SMALL, FIRM]) == [("firm-60deg", 0.75)]
    assert vector_candidates(["c-never-seen"]) == []
    june = datetime(2025, 6, 1, tzinfo=timezone.utc)
    assert vector_candidates([SMALL], as_of=june) == []
    assert vector_candidates([SMALL, FIRM], as_of=june) == [("firm-60deg", 0.75)]


def add_history(rows: list[tuple[str, str, str, list[float]]], **extra) -> None:
    """Memories of SMALL: (id, recorded_at, status, embedding)."""
    graph_driver.write(lambda tx: tx.run(
        """
        UNWIND $rows AS row
        CREATE (m:Memory {id: row[0], scope: $scope, status: row[2], level: 'observation', importance: 0.5,
                          text: row[0], recorded_at: datetime(row[1]), embedding: row[3]})
        SET m += $extra
        """, rows=rows, scope=SMALL, extra=extra).consume())
    graph_driver.read(lambda tx: tx.run("CALL db.awaitIndexes(60)").consume())


def test_a_point_in_time_read_asks_the_index_for_what_was_recorded_by_then_whatever_its_status_now(clean_graph):
    # The newer memories lie nearest the query; as of March only January's and February's were recorded. The
    # one forgotten since as decayed was still in view in March; the one forgotten as erroneous never counts.
    add_history([("jan", "2025-01-10T00:00:00Z", "active", unit((0, 1.0), (1, 1.0))),
                 ("feb-decayed", "2025-02-10T00:00:00Z", "forgotten", unit((0, 1.0), (1, 0.5))),
                 ("apr", "2025-04-10T00:00:00Z", "active", unit((0, 1.0))),
                 ("may", "2025-05-10T00:00:00Z", "active", unit((0, 1.0), (1, 0.1)))])
    graph_driver.write(lambda tx: tx.run(
        "MATCH (m:Memory {id: 'feb-decayed'}) SET m.forgotten_reason = 'decayed'").consume())

    assert [memory_id for memory_id, _ in vector_candidates([SMALL], as_of=datetime(2025, 3, 1, tzinfo=timezone.utc))] \
        == ["feb-decayed", "jan"]
    assert [memory_id for memory_id, _ in vector_candidates([SMALL])] == ["apr", "may", "jan"]


def test_a_point_in_time_read_whose_nearest_were_superseded_by_then_asks_the_index_again_for_more(clean_graph):
    # 20 facts recorded in January and superseded in February lie nearest the query: as of March, the index's
    # first fetch (3 x the list of 5) holds none in view, so it is asked again for more.
    add_history([(f"old-{i}", "2025-01-05T00:00:00Z", "active", unit((0, 1.0), (1 + i, 0.01))) for i in range(20)],
                superseded_at=datetime(2025, 2, 1, tzinfo=timezone.utc))
    add_history([("kept", "2025-01-20T00:00:00Z", "active", unit((0, 1.0), (1, 1.0)))])

    assert vector_candidates([SMALL], as_of=datetime(2025, 3, 1, tzinfo=timezone.utc)) == [("kept", 0.8536)]
