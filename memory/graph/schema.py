"""Constraints and indexes of the memory graph, created idempotently by `manage.py graph_migrate`.

The graph, in one picture:

    (:Session)-[:HAS_TURN]->(:Memory:Turn)-[:NEXT]->(:Memory:Turn)
    (:Memory:Observation|Event|Fact|PriceMention|Viewpoint)-[:DERIVED_FROM]->(:Memory:Turn)
    (:Memory)-[:ABOUT]->(:Entity:Client|Security|Sector|Goal|Topic|Person)
    (:Memory:Turn)-[:MENTIONS]->(:Entity)
    (:Memory:Fact)-[:SUPERSEDES]->(:Memory:Fact)
    (:Memory:PriceMention)-[:PRICE_OF]->(:Entity:Security)
    (:Memory:Viewpoint)-[:ON]->(:Entity:Security)
    (:Entity:Client)-[:TRACKS {last_price, alert_price}]->(:Entity:Security)
    (:Entity:Client)-[:SAW_MOVE {text, scope, drift_percent, status}]->(:Memory:Event {kind: 'market_move'})-[:ABOUT]->(:Security)
    (:Rollback)-[:WITHDREW]->(:Memory), (:Rollback)-[:REOPENED {valid_to, superseded_at}]->(:Memory:Fact)
    (:Memory:Summary|Profile)-[:SUMMARISES]->(:Memory)    consolidation (memory/graph/summaries.py)
    (:Memory:Summary|Profile)-[:DERIVED_FROM]->(:Memory:Turn)
    (:Memory:Profile)-[:SUPERSEDES]->(:Memory:Profile)
    (:Entity:Person)-[:SAME_PERSON {status}]->(:Entity:Person)  people resolution (memory/graph/lifecycle.py)
    (:Entity:Person)-[:MERGED_INTO]->(:Entity:Person)
    (:GraphMigration {name, completed_at})                 a data migration that completed (move_migration.py)

Every `:Memory` node carries `scope`: one opaque token per partition of visibility ("c…" for one
client's private memory, "f…" for memory shared across a firm, "m…" for market moves, which no
reader holds: a client reaches a move through their own `SAW_MOVE` link). Reads are always constrained to a
list of scope tokens *inside* the index they read: the full-text index stores the token as a second
field (so Lucene filters before ranking; a third field, the level, sets the summaries apart; the index of the `SAW_MOVE` links holds their client's token
the same way), and on Neo4j 2026.01 and later the vector index holds
`scope` and `status` as filter properties, so its approximate top-k is taken among the caller's
memories only (memory/graph/search.py filters on the scope, and on the status too when forgotten
memories crowd the nearest ones out). Neo4j 5.x cannot filter inside a vector index (a global top-k filtered
afterwards loses a client's results): there vector similarity is computed exactly over the nodes of
the caller's scopes, found through the `memory_scope` index, and no vector index is kept at all.
"""
from __future__ import annotations

import functools
import re

from django.conf import settings

from memory.graph import driver, episodes, move_migration

FULLTEXT_INDEX = "memory_text"
# A client's move is their sentence on their `SAW_MOVE` link, which the node index cannot see: this one
# holds the link's text and its client's scope token, so `+scope:(...)` filters it as it does memories.
MOVE_FULLTEXT_INDEX = "move_text"
VECTOR_INDEX = "memory_embedding"
# The first Neo4j release whose SEARCH clause filters on a vector index's own properties.
FILTERED_VECTOR_SEARCH_SINCE = (2026, 1)
# `recorded_at` lets a point-in-time read (`as_of`) ask the index for what had been recorded by then; without
# it such a read scored every memory of its scopes exactly: 2.2 s for the client with 100k memories
# (memory/graph/search.py, BENCHMARKS.md "Firm-scale targets").
FILTER_PROPERTIES = ["scope", "status", "recorded_at"]
# How the vector index is built (BENCHMARKS.md, "The vector index's build beam" and "The vector index without
# quantization"):
# - its HNSW graph with 16 links per node, as Neo4j's default, and a construction beam of 40 instead of its 100:
#   imports cost Neo4j 15% less CPU (4.88 against 5.71 s per 12,000 turns, 8 imports each), the bench graphs'
#   gold questions were found as often (recall@10 0.803 and 0.742, against 0.803 and 0.739), and the firm
#   research graph was searched faster (hybrid p95 25-29 against 35-36 ms);
# - of the embeddings as they are: 2026.06 and later otherwise quantize them to one bit per dimension and fetch
#   three times the top-k to score again. Without it, on the firm research graph of 1M memories, a search's
#   lookup of its 120 nearest cost 2 ms of Neo4j time against 4-5 (binary, freshly built) and 9.5 (binary, grown
#   by inserts), the index was built in 104-169 s against 137-199, and it agreed with the exact scan about as
#   often (the 100k client: 0.682 against 0.690 of the scan's ten best, `scale_recall --against-scan`). It is set
#   by the older flag, which 2026.08 still reads, not by the type, which releases before 2026.06 refuse.
VECTOR_INDEX_BUILD = {"vector.hnsw.m": 16, "vector.hnsw.ef_construction": 40, "vector.quantization.enabled": False}
# The full-text index's fields: the words, the scope token (Lucene filters on it before ranking) and the
# level, so the few summaries and profiles of a scope are sought apart from its other memories: one query
# fetching 400 hits of every level to reach them cost the firm research graph 8.8 ms of Neo4j time per
# search, 120 hits 4.4 ms (memory/graph/search.py, BENCHMARKS.md "Firm-scale targets").
FULLTEXT_FIELDS = ["text", "scope", "level"]


def statements(*, filtered_vector_search: bool) -> list[str]:
    dimensions = int(settings.MEMORY_EMBEDDING_DIMENSIONS)
    vector_index = (
        # Cypher 25 syntax: the WITH list makes scope, status and recorded_at filterable inside the index.
        f"CYPHER 25 CREATE VECTOR INDEX {VECTOR_INDEX} IF NOT EXISTS FOR (m:Memory) ON (m.embedding) "
        f"WITH [{', '.join('m.' + p for p in FILTER_PROPERTIES)}] "
        f"OPTIONS {{indexConfig: {{`vector.dimensions`: {dimensions}, `vector.similarity_function`: 'cosine', "
        + ", ".join(f"`{name}`: {_cypher_literal(value)}" for name, value in VECTOR_INDEX_BUILD.items()) + "}}"
        if filtered_vector_search
        # Never read on 5.x (retrieval scans the caller's partition), so not paid for on every write.
        else f"DROP INDEX {VECTOR_INDEX} IF EXISTS"
    )
    return [
        "CREATE CONSTRAINT memory_id IF NOT EXISTS FOR (m:Memory) REQUIRE m.id IS UNIQUE",
        "CREATE CONSTRAINT session_id IF NOT EXISTS FOR (s:Session) REQUIRE s.id IS UNIQUE",
        "CREATE CONSTRAINT entity_id IF NOT EXISTS FOR (e:Entity) REQUIRE e.id IS UNIQUE",
        "CREATE CONSTRAINT security_symbol IF NOT EXISTS FOR (s:Security) REQUIRE s.symbol IS UNIQUE",
        # Clients are found by id on every session write, alert and name lookup; :Entity(id) alone
        # would leave `(c:Client {id: ...})` scanning every client.
        "CREATE CONSTRAINT client_id IF NOT EXISTS FOR (c:Client) REQUIRE c.id IS UNIQUE",
        # Conversation rollbacks (memory/graph/rollback.py): merged on id, erased with the client by scope.
        "CREATE CONSTRAINT rollback_id IF NOT EXISTS FOR (r:Rollback) REQUIRE r.id IS UNIQUE",
        "CREATE INDEX rollback_scope IF NOT EXISTS FOR (r:Rollback) ON (r.scope)",
        "CREATE INDEX memory_scope IF NOT EXISTS FOR (m:Memory) ON (m.scope)",
        "CREATE INDEX memory_recorded IF NOT EXISTS FOR (m:Memory) ON (m.scope, m.recorded_at)",
        # Retrieval's coarse level (summaries, profiles) and the turns forgotten as redundant are a few
        # memories of a scope: seeking them keeps a search from reading the whole scope (a firm's million
        # research notes) for them (memory/graph/search.py).
        # The level index also serves a level's newest first (the graph candidates' walk per security).
        "CREATE INDEX memory_level IF NOT EXISTS FOR (m:Memory) ON (m.scope, m.level, m.recorded_at)",
        "CREATE INDEX memory_status IF NOT EXISTS FOR (m:Memory) ON (m.scope, m.status)",
        # Fact slots on every memory label (a revised fact is a :Note that keeps the slot).
        "CREATE INDEX memory_slot IF NOT EXISTS FOR (m:Memory) ON (m.scope, m.slot)",
        "CREATE INDEX fact_slot IF NOT EXISTS FOR (f:Fact) ON (f.scope, f.slot)",
        "CREATE INDEX turn_source IF NOT EXISTS FOR (t:Turn) ON (t.session_key)",
        "CREATE INDEX session_replaces IF NOT EXISTS FOR (s:Session) ON (s.replaces)",
        # A client's own entities (goals, topics, people), found by scope when the client is erased.
        # The composite (scope, kind, key) index of the first schema served no query: dropped.
        "DROP INDEX entity_scope IF EXISTS",
        "CREATE INDEX entity_in_scope IF NOT EXISTS FOR (e:Entity) ON (e.scope)",
        f"CREATE FULLTEXT INDEX {FULLTEXT_INDEX} IF NOT EXISTS FOR (m:Memory) "
        f"ON EACH [{', '.join('m.' + p for p in FULLTEXT_FIELDS)}] "
        "OPTIONS {indexConfig: {`fulltext.analyzer`: 'english', `fulltext.eventually_consistent`: false}}",
        f"CREATE FULLTEXT INDEX {MOVE_FULLTEXT_INDEX} IF NOT EXISTS FOR ()-[r:SAW_MOVE]-() ON EACH [r.text, r.scope] "
        "OPTIONS {indexConfig: {`fulltext.analyzer`: 'english', `fulltext.eventually_consistent`: false}}",
        vector_index,
    ]


class SchemaMismatch(Exception):
    """The graph's schema disagrees with the settings in a way `graph_migrate` must not fix silently."""


def migrate() -> list[str]:
    """Create what is missing, wait until every index is online, then bring data written in an older
    shape to the current one (`memory/graph/move_migration.py`). Returns the schema statements run.

    `IF NOT EXISTS` keeps an existing vector index as it is. One built with other filter properties (by
    Neo4j 5.x: none; before `recorded_at` was one) or other build settings (VECTOR_INDEX_BUILD) is rebuilt,
    as it holds nothing but what the nodes hold (vector search waits for it below: 2-6 minutes for a
    million memories here); a changed embedding dimension
    would otherwise go unnoticed until every vector query failed: it is checked and reported here.
    """
    filtered = filtered_vector_search()
    run = statements(filtered_vector_search=filtered)
    if filtered and (properties := index_properties(VECTOR_INDEX)) is not None and (
            properties[1:] != FILTER_PROPERTIES or not vector_index_built_as_wanted(vector_index_config() or {})):
        run.insert(0, f"DROP INDEX {VECTOR_INDEX}")
    if (fields := index_properties(FULLTEXT_INDEX)) is not None and fields != FULLTEXT_FIELDS:
        # Rebuilt from the nodes (about 30 s for a million memories here; full-text search waits for it below).
        run.insert(0, f"DROP INDEX {FULLTEXT_INDEX}")
    for statement in run:
        # Schema statements cannot share a transaction with each other; one managed tx each.
        driver.write(lambda tx, q=statement: tx.run(q).consume())
    driver.read(lambda tx: tx.run("CALL db.awaitIndexes(1800)").consume())
    _filters_on_recorded_at.cache_clear()  # this process may have asked before the rebuild
    episodes.fill_client_people()
    move_migration.migrate_moves()
    if not filtered:
        return run
    indexed = vector_index_dimensions()
    wanted = int(settings.MEMORY_EMBEDDING_DIMENSIONS)
    if indexed != wanted:
        raise SchemaMismatch(
            f"The vector index {VECTOR_INDEX} holds {indexed}-dimensional embeddings but "
            f"MEMORY_EMBEDDING_DIMENSIONS is {wanted}. Keep the setting, or drop the index "
            f"(DROP INDEX {VECTOR_INDEX}) and re-embed the memory with the new model."
        )
    return run


def vector_index_dimensions() -> int | None:
    config = vector_index_config()
    return int(config["vector.dimensions"]) if config is not None else None


def vector_index_config() -> dict | None:
    """The vector index's `indexConfig` as the server reports it (None: no vector index)."""

    def _read(tx) -> dict | None:
        record = tx.run("SHOW VECTOR INDEXES YIELD name, options WHERE name = $name RETURN options AS options",
                        name=VECTOR_INDEX).single()
        return dict(record["options"]["indexConfig"]) if record else None

    return driver.read(_read)


def vector_index_built_as_wanted(config: dict) -> bool:
    """Built with VECTOR_INDEX_BUILD. Servers from 2026.06 report quantization as its type (`NONE` when off)
    in place of the flag it was created with."""
    quantized = str(config.get("vector.quantization.type", "NONE")).upper() != "NONE"
    reported = {**config, "vector.quantization.enabled": config.get("vector.quantization.enabled", quantized)}
    return all(reported.get(name) == value for name, value in VECTOR_INDEX_BUILD.items())


def _cypher_literal(value: bool | int) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def index_properties(name: str) -> list[str] | None:
    """An index's properties in order (None: no such index): for the vector index, the embedding first,
    then its filter properties; for the full-text index, its fields."""

    def _read(tx) -> list[str] | None:
        record = tx.run("SHOW INDEXES YIELD name, properties WHERE name = $name RETURN properties", name=name).single()
        return list(record["properties"]) if record else None

    return driver.read(_read)


def filtered_vector_search() -> bool:
    """Whether the server filters inside a vector index (Neo4j 2026.01+), asked once per server."""
    return _filtered_vector_search(settings.NEO4J_URI, settings.NEO4J_DATABASE)


@functools.cache
def _filtered_vector_search(uri: str, database: str) -> bool:
    return server_version() >= FILTERED_VECTOR_SEARCH_SINCE


def point_in_time_vector_search() -> bool:
    """Whether the vector index filters on `recorded_at` too, asked once per server. An index built before it
    was a filter property (until `migrate` rebuilds it) would refuse such a filter: point-in-time reads then
    score their scopes exactly, as Neo4j 5.x does."""
    return filtered_vector_search() and _filters_on_recorded_at(settings.NEO4J_URI, settings.NEO4J_DATABASE)


@functools.cache
def _filters_on_recorded_at(uri: str, database: str) -> bool:
    return "recorded_at" in (index_properties(VECTOR_INDEX) or [])


def server_version() -> tuple[int, int]:
    """(major, minor) of the Neo4j kernel: (5, 26) for 5.26.x, (2026, 8) for 2026.08.x."""

    def _read(tx) -> str:
        record = tx.run("CALL dbms.components() YIELD name, versions WHERE name = 'Neo4j Kernel' "
                        "RETURN versions[0] AS version").single()
        return record["version"] if record else ""

    return parse_version(driver.read(_read))


def parse_version(version: str) -> tuple[int, int]:
    """(major, minor) from a kernel version string: "2026.08.1", "5.26.30", "5-aura" (no minor: 0)."""
    match = re.match(r"(\d+)(?:\.(\d+))?", version)
    if not match:
        raise SchemaMismatch(f"Cannot read the Neo4j version from {version!r} (CALL dbms.components()).")
    return int(match.group(1)), int(match.group(2) or 0)
