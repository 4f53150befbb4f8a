"""Which clients' memory changed since they were last consolidated: two counters on the client node.

Hourly consolidation (memory/services/consolidation.py) reads only the clients whose input may have
changed. The marker, on `(:Client)` (whose `id` is the client's scope token):

- `memory_version`: raised by one in the SAME transaction as every write that changes what consolidation
  reads of the client (`memory/graph/summaries.py` `client_material`: the client, its sessions, its active
  turns, facts and observations with their turns, its summaries' digests; and the people and merge
  decisions `memory/services/entities.py` reads). The writes that raise it: ingestion (`episodes.write_batch`,
  which also locks the batch's clients with it), session corrections (`session_versions`), fact supersession
  (`facts.apply_supersessions`), corrections (`corrections.supersede_fact`), notes written, revised and
  forgotten (`notes`), forgetting (`lifecycle.mark_forgotten`), people merges decided by an advisor
  (`lifecycle.decide_merge`), rollbacks (`rollback.withdraw_sessions`), erasure (`erasure.erase_scope`, in
  case it stops half way) and the market-move migration (`move_migration`, which deletes old per-client
  moves). Consolidation's own writes (summaries, profiles, people it resolves) raise nothing.
- `consolidated_version` and `consolidated_with`: the `memory_version` consolidation read BEFORE reading
  the material (Neo4j reads committed data: a write landing after that read either shows in the material or
  not, and either way raised the counter past the value kept), and what consolidated (`consolidated_with`:
  the derivation's revision and the session summaries' writer), set in the transaction that writes the
  summaries (`summaries.write_levels`). The client is due while the counters differ, so a write landing
  during its consolidation leaves it due: a compare-and-set for free, as the counter only grows.

A counter rather than a `memory_changed_at` timestamp: equal or skewed clocks between workers cannot hide a
change. A client never consolidated (a graph from before the marker) has no `consolidated_version`, so it
is due: nothing needs migrating. Not marked, because consolidation does not read them: a client's market
moves (`SAW_MOVE` links to shared events in the market scope), access counts, tracked prices and
quotes. A change made outside this code (a hand-written Cypher statement) is not marked: run
`manage.py consolidate_memory --full` after one.
"""
from __future__ import annotations

from collections.abc import Iterable

from neo4j import ManagedTransaction

# Raises the memory version of the client bound to `c` in the statement it is part of.
RAISE_CLIENT_VERSION = "SET c.memory_version = coalesce(c.memory_version, 0) + 1"


def mark_clients(tx: ManagedTransaction, scopes: Iterable[str]) -> None:
    """Raise the memory version of these scopes' clients (a firm's or the market's scope has none), in id order."""
    tx.run("UNWIND $scopes AS scope MATCH (c:Client {id: scope}) " + RAISE_CLIENT_VERSION,
           scopes=sorted(set(scopes))).consume()


def mark_client_of(node: str) -> str:
    """A Cypher clause raising the memory version of the client whose scope the node `node` is in (none for a
    firm's or the market's scope); the rows pass through unchanged. `node` is a variable name of the query."""
    return f"WITH * CALL ({node}) {{ MATCH (c:Client {{id: {node}.scope}}) {RAISE_CLIENT_VERSION} }}"
