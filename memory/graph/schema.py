"""Constraints and indexes of the memory graph, created idempotently by `manage.py graph_migrate`.

The graph, in one picture:

    (:Session)-[:HAS_TURN]->(:Memory:Turn)-[:NEXT]->(:Memory:Turn)
    (:Memory:Observation|Event|Fact|PriceMention|Viewpoint)-[:DERIVED_FROM]->(:Memory:Turn)
    (:Memory)-[:ABOUT]->(:Entity:Client|Security|Sector|Goal|Topic|Person)
    (:Memory:Turn)-[:MENTIONS]->(:Entity)
    (:Memory:Fact)-[:SUPERSEDES]->(:Memory:Fact)
    (:Memory:PriceMention)-[:PRICE_OF]->(:Entity:Security)
    (:Memory:Viewpoint)-[:ON]->(:Entity:Security)
    (:Memory:Summary|Profile)-[:SUMMARISES]->(:Memory)    consolidation (memory/graph/summaries.py)
    (:Memory:Summary|Profile)-[:DERIVED_FROM]->(:Memory:Turn)
    (:Memory:Profile)-[:SUPERSEDES]->(:Memory:Profile)
    (:Entity:Person)-[:SAME_PERSON {status}]->(:Entity:Person)  people resolution (memory/graph/lifecycle.py)
    (:Entity:Person)-[:MERGED_INTO]->(:Entity:Person)

Every `:Memory` node carries `scope`: one opaque token per partition of visibility ("c…" for one
client's private memory, "f…" for memory shared across a firm). Reads are always constrained to a
list of scope tokens *inside* the query: the full-text index stores the token as a second field
(so Lucene filters before ranking) and vector similarity is computed only over the nodes of the
caller's scopes, found through the `memory_scope` index.
"""
from __future__ import annotations

from django.conf import settings

from memory.graph import driver

FULLTEXT_INDEX = "memory_text"
VECTOR_INDEX = "memory_embedding"


def statements() -> list[str]:
    dimensions = int(settings.MEMORY_EMBEDDING_DIMENSIONS)
    return [
        "CREATE CONSTRAINT memory_id IF NOT EXISTS FOR (m:Memory) REQUIRE m.id IS UNIQUE",
        "CREATE CONSTRAINT session_id IF NOT EXISTS FOR (s:Session) REQUIRE s.id IS UNIQUE",
        "CREATE CONSTRAINT entity_id IF NOT EXISTS FOR (e:Entity) REQUIRE e.id IS UNIQUE",
        "CREATE CONSTRAINT security_symbol IF NOT EXISTS FOR (s:Security) REQUIRE s.symbol IS UNIQUE",
        # Clients are found by id on every session write, alert and name lookup; :Entity(id) alone
        # would leave `(c:Client {id: ...})` scanning every client.
        "CREATE CONSTRAINT client_id IF NOT EXISTS FOR (c:Client) REQUIRE c.id IS UNIQUE",
        "CREATE INDEX memory_scope IF NOT EXISTS FOR (m:Memory) ON (m.scope)",
        "CREATE INDEX memory_recorded IF NOT EXISTS FOR (m:Memory) ON (m.scope, m.recorded_at)",
        "CREATE INDEX fact_slot IF NOT EXISTS FOR (f:Fact) ON (f.scope, f.slot)",
        "CREATE INDEX turn_source IF NOT EXISTS FOR (t:Turn) ON (t.session_key)",
        # A client's own entities (goals, topics, people), found by scope when the client is erased.
        # The composite (scope, kind, key) index of the first schema served no query: dropped.
        "DROP INDEX entity_scope IF EXISTS",
        "CREATE INDEX entity_in_scope IF NOT EXISTS FOR (e:Entity) ON (e.scope)",
        f"CREATE FULLTEXT INDEX {FULLTEXT_INDEX} IF NOT EXISTS FOR (m:Memory) ON EACH [m.text, m.scope] "
        "OPTIONS {indexConfig: {`fulltext.analyzer`: 'english', `fulltext.eventually_consistent`: false}}",
        f"CREATE VECTOR INDEX {VECTOR_INDEX} IF NOT EXISTS FOR (m:Memory) ON (m.embedding) "
        f"OPTIONS {{indexConfig: {{`vector.dimensions`: {dimensions}, `vector.similarity_function`: 'cosine'}}}}",
    ]


class SchemaMismatch(Exception):
    """The graph's schema disagrees with the settings in a way `graph_migrate` must not fix silently."""


def migrate() -> list[str]:
    """Create what is missing and wait until every index is online. Returns the statements run.

    `IF NOT EXISTS` keeps an existing vector index as it is, so a changed embedding dimension would
    otherwise go unnoticed until every vector query failed: it is checked and reported here.
    """
    run = statements()
    for statement in run:
        # Schema statements cannot share a transaction with each other; one managed tx each.
        driver.write(lambda tx, q=statement: tx.run(q).consume())
    driver.read(lambda tx: tx.run("CALL db.awaitIndexes(300)").consume())
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
    def _read(tx) -> int | None:
        record = tx.run("SHOW VECTOR INDEXES YIELD name, options WHERE name = $name RETURN options AS options",
                        name=VECTOR_INDEX).single()
        return int(record["options"]["indexConfig"]["vector.dimensions"]) if record else None

    return driver.read(_read)
