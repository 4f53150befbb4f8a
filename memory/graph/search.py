"""Candidate generation for retrieval. Every query is confined to the caller's scope tokens.

- full text: the scope token is a second field of the Lucene index, so `+scope:(...)` filters
  inside the index before ranking: another client's memory can never fill the top-k;
- vector: on Neo4j 2026.01+, the vector index's approximate top-k taken among the caller's memories
  (`scope` is a filter property of the index, and `status` for when forgotten memories crowd the
  nearest ones out, see `schema` and `_VECTOR_NEAREST`); point-in-time
  (`as_of`) reads, which the index's current state cannot answer, and Neo4j 5.x, whose vector index
  cannot filter before its top-k (filtering a global top-k afterwards would lose a client's
  results), use an exact cosine scan of the caller's partition, found through the `memory_scope`
  index and bounded by that client's memory, not by the size of the graph;
- graph: memories linked to the entities the query names (securities, goals) or in the fact slots
  it asks about, each readable scope's list taken in turn;
- recent: the newest memories of the partition;
- period: when the question names a month, the memories recorded in it, by cosine similarity;
- market moves: a move is one shared event per security and day in the market scope, which no reader
  holds; a client's search reaches it only through the `SAW_MOVE` link from the client's own node
  (memory/graph/securities.py), scored exactly like the lists above (cosine of the shared embedding,
  the securities named, recency, the month) and returned under the link's id with the client's own
  sentence. A client's links are few (one per significant move of a security they discussed), so
  they are read exactly, and another client's moves or drift are never candidates. Full text reads
  the links' own index, which holds each link's client scope token and filters on it as above.

`as_of` keeps what had been said by then and not yet contradicted; `known_at` what the twin itself
had taken in by then and not yet forgotten or seen superseded (see IN_VIEW).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import zip_longest
from typing import Any

from neo4j import ManagedTransaction

from memory.graph import driver
from memory.graph.episodes import SESSION_PEOPLE
from memory.graph.schema import (
    FULLTEXT_INDEX,
    MOVE_FULLTEXT_INDEX,
    VECTOR_INDEX,
    filtered_vector_search,
    point_in_time_vector_search,
)
from memory.graph.securities import move_link_id, split_move_link_id
from memory.graph.values import epoch_micros, from_epoch_micros

# Which memories are in view, on either clock (memory/graph/lifecycle.py explains both):
# - now: active and not superseded (superseded too when `$superseded`, for questions about the past);
# - `$as_of`, what was said and believed true by then: what had been said by then and not yet
#   contradicted; a memory forgotten later for decay or redundancy was still true then, a retracted one
#   never was;
# - `$known_at`, what the twin knew then: what the graph had taken in by then and had not yet
#   forgotten, revised or seen superseded (by a memory it had itself taken in by then).
# Any other status (e.g. a withdrawn chat round) is out of every view.
IN_VIEW = """
  (($known_at IS NULL
    AND (m.status = 'active' OR ($as_of IS NOT NULL AND m.status = 'forgotten'
                                 AND m.forgotten_reason IN ['decayed', 'redundant']))
    AND ($as_of IS NULL OR (m.recorded_at <= $as_of AND (m.superseded_at IS NULL OR m.superseded_at > $as_of)))
    AND ($as_of IS NOT NULL OR $superseded OR m.superseded_at IS NULL))
   OR ($known_at IS NOT NULL AND m.status IN ['active', 'forgotten', 'revised']
    AND m.created_at <= $known_at
    AND (coalesce(m.believed_until, m.forgotten_at) IS NULL OR coalesce(m.believed_until, m.forgotten_at) > $known_at)
    AND NOT EXISTS { MATCH (newer:Memory)-[:SUPERSEDES]->(m) WHERE newer.created_at <= $known_at }))
"""
# IN_VIEW when `$known_at` is null, as its own text: the planner would otherwise evaluate the twin's-clock
# branch (a SUPERSEDES expansion per memory) for every candidate of every ordinary search.
_IN_VIEW_NOW = """
  ((m.status = 'active' OR ($as_of IS NOT NULL AND m.status = 'forgotten'
                            AND m.forgotten_reason IN ['decayed', 'redundant']))
   AND ($as_of IS NULL OR (m.recorded_at <= $as_of AND (m.superseded_at IS NULL OR m.superseded_at > $as_of)))
   AND ($as_of IS NOT NULL OR $superseded OR m.superseded_at IS NULL))
"""


class _Clock:
    """A transaction whose statements use `_IN_VIEW_NOW` for IN_VIEW when no `known_at` is asked for."""

    def __init__(self, tx: ManagedTransaction, known_at: datetime | None) -> None:
        self._tx, self._now = tx, known_at is None

    def run(self, query: str, **params: Any):
        return self._tx.run(query.replace(IN_VIEW, _IN_VIEW_NOW) if self._now else query, **params)

    def candidates(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """The list of candidate maps a statement ending in `_CANDIDATES` returns."""
        return self.run(query, **params).single()["candidates"]


# The full-text index's `level` field (schema.FULLTEXT_FIELDS) holding a summary or a profile.
_COARSE_LEVEL_FIELD = "level:(summary profile)"
# Summaries and profile versions are not candidates of the base lists: `candidates(summaries=True)` reaches them.
# `$covered`: turns forgotten as redundant that a matching summary led to: out of the pool, they come back
# only through their summary, and are then ranked as any turn.
_VISIBLE = "NOT m.level IN ['summary', 'profile'] AND (m.id IN $covered OR " + IN_VIEW + ")"
# `recorded_at IS NOT NULL` (every memory has it) lets the (scope, level, recorded_at) index seek them.
_COARSE = "m.level IN ['summary', 'profile'] AND m.recorded_at IS NOT NULL AND " + IN_VIEW
# A turn forgotten as redundant (a summary quotes it whole), now: reachable only through that summary.
_COVERED = "($as_of IS NULL AND $known_at IS NULL AND m.status = 'forgotten' AND m.forgotten_reason = 'redundant')"
# What re-scoring needs about a candidate, and the reply to it when it is a question someone answered
# (the answer often shares no word with the query). Text and sources are fetched for the winners only.
# A reply forgotten as redundant comes back `open: false`: it counts only if a summary brought it back.
# The entries of a map projection of `m`; a statement returns its candidates as one list in one row
# (`_CANDIDATES`): the driver's Python work per row returned cost more than the rows' data (measured:
# 4 statements of 40 rows took 4.6 ms of this process's CPU as rows and 2.0 ms as one list each).
_CANDIDATE = """
  .id, .level, .importance, score: score, recorded: m.recorded_at.epochSeconds,
  reply: [(m)-[:NEXT]->(r) WHERE m.level = 'turn' AND m.text CONTAINS '?' AND r.speaker <> m.speaker
     AND (r.status = 'active' OR (r.status = 'forgotten' AND r.forgotten_reason = 'redundant'))
     AND ($as_of IS NULL OR r.recorded_at <= $as_of)
   | r {.id, .level, .importance, recorded: r.recorded_at.epochSeconds, open: r.status = 'active'}][0]
"""
_CANDIDATES = "collect(m {" + _CANDIDATE + "}) AS candidates"

# Full text and the summaries, one statement. Full text is two index queries: the memories other than
# summaries and profiles (`$lucene`, the best `$fetch` hits), and, when `$coarse`, the summaries and profiles
# (`$coarse_lucene`): the index's `level` field keeps each to its own (schema.FULLTEXT_FIELDS), so a scope's
# few summaries are reached without fetching past its many other hits. Each hit in scope is shelved: a
# summary or profile in view ("coarse"), any other memory in view ("fine"), or, with `$coarse`, a turn
# forgotten as redundant ("redundant": a candidate only if a matching summary quotes it); the best `$limit`
# of each shelf are returned. With `$coarse` and a `$vector`, the summaries and profiles nearest it
# ("coarse-vector", sought by level in the (scope, level, recorded_at) index, never scanned), and the turns
# forgotten as redundant that the summaries of either shelf quote (`covered`), read from each summary's own
# links and filtered afterwards: with the filter in the pattern, the planner may seek every memory of the
# scopes and join them back to the summary (it did, on the test graph: `test_search_at_scale.py`). One round
# trip where there were three: each costs this process and Neo4j about as much as the small statements it
# carried.
_TEXT_AND_SUMMARIES = f"""
CALL () {{
  UNWIND CASE WHEN $lucene IS NULL THEN [] ELSE [$lucene] END AS lucene
  CALL db.index.fulltext.queryNodes('{FULLTEXT_INDEX}', lucene, {{limit: $fetch}}) YIELD node AS m, score
  RETURN m, score
  UNION ALL
  UNWIND CASE WHEN $coarse AND $lucene IS NOT NULL THEN [$coarse_lucene] ELSE [] END AS coarse_lucene
  CALL db.index.fulltext.queryNodes('{FULLTEXT_INDEX}', coarse_lucene, {{limit: $coarse_fetch}}) YIELD node AS m, score
  RETURN m, score
}}
WITH m, score WHERE m.scope IN $scopes
WITH m, score, CASE WHEN m.level IN ['summary', 'profile'] THEN CASE WHEN $coarse AND {IN_VIEW} THEN 'coarse' END
                    WHEN {IN_VIEW} THEN 'fine'
                    WHEN $coarse AND {_COVERED} THEN 'redundant' END AS shelf
WHERE shelf IS NOT NULL
WITH shelf, collect({{m: m, score: score}})[..$limit] AS best
WITH collect({{shelf: shelf, best: best}}) AS shelves
CALL () {{
  UNWIND CASE WHEN $coarse AND $vector IS NOT NULL THEN [true] ELSE [] END AS wanted
  MATCH (m:Memory) USING INDEX SEEK m:Memory(scope, level, recorded_at)
  WHERE m.scope IN $scopes AND {_COARSE}
  WITH m, vector.similarity.cosine(m.embedding, $vector) AS score
  ORDER BY score DESC LIMIT $limit
  RETURN collect({{m: m, score: score}}) AS nearest
}}
WITH shelves + [{{shelf: 'coarse-vector', best: nearest}}] AS shelves
CALL (shelves) {{
  UNWIND [shelf IN shelves WHERE shelf.shelf IN ['coarse', 'coarse-vector']] AS shelf
  UNWIND shelf.best AS hit
  WITH hit.m AS summary
  UNWIND [m IN [(summary)-[:DERIVED_FROM]->(source) | source] WHERE m:Memory AND m.scope IN $scopes AND {_COVERED} | m.id]
    AS covered_id
  RETURN collect(DISTINCT covered_id) AS covered
}}
UNWIND shelves AS shelf
UNWIND shelf.best AS hit
WITH covered, shelf.shelf AS shelf, hit.m AS m, hit.score AS score
RETURN collect(m {{{_CANDIDATE}, shelf: shelf}}) AS candidates, coalesce(head(collect(covered)), []) AS covered
"""
_COVERED_BY_VECTOR = f"""
MATCH (m:Memory) WHERE m.id IN $covered AND m.scope IN $scopes
WITH m, vector.similarity.cosine(m.embedding, $vector) AS score
RETURN {_CANDIDATES}
"""


# The index's score is the exact cosine of the stored embeddings (measured: identical to
# `vector.similarity.cosine` on every result), so no embedding is read again.
# `_VECTOR_NEAREST` filters the index on the scope alone and drops what is out of view afterwards, reporting
# how many the index returned (`fetched`): measured on the firm research graph of 1M memories, a filter on
# scope and status together costs the index 12 ms of Neo4j time where one property costs 4 (BENCHMARKS.md,
# "Firm-scale targets"). The same lookup also serves a named month in the scopes too large to read it whole
# (see PERIOD_SCAN_MAX): those of the nearest that fall in it ("period", each with its scope: the lookup runs
# beside `_MONTH`, which tells which scopes those are, and `candidates` keeps theirs). Where forgotten memories
# crowd the nearest ones out (fewer than the list in view from a full fetch), `_VECTOR_ACTIVE` asks the index
# for active memories only.
# Neo4j 2026.08.1 fails a filtered vector search whose filter matches no live entry once the index
# holds deleted ones ("Index 33554431 out of bounds"): a new or erased client's search would fail.
# Such a search has no vector candidates anyway, so the index is asked only after a probe finds an
# indexed memory in the scopes (`test_vector_index.py`); the probe's row is passed into the subquery so
# that it runs once per probe row, and never without one.
_INDEXED_PROBE = """
MATCH (probe:Memory) WHERE probe.scope IN $index_scopes AND probe.status = 'active' AND probe.embedding IS NOT NULL
WITH probe LIMIT 1
"""
# A point-in-time read (`$as_of`) asks the index for what had been recorded by then, whatever its status now
# (`_VISIBLE` keeps what was in view then): `recorded_at` is a filter property of the index
# (schema.FILTER_PROPERTIES). Before, such a read scored every memory of its scopes exactly: 2.2 s for the
# client with 100k memories (BENCHMARKS.md, "Firm-scale targets"). Its probe looks for such a memory, through
# the (scope, recorded_at) index: a read as of a day before anything was recorded asks the index nothing.
_INDEXED_PROBE_AS_OF = """
MATCH (probe:Memory) WHERE probe.scope IN $index_scopes AND probe.recorded_at <= $as_of AND probe.embedding IS NOT NULL
WITH probe LIMIT 1
"""


def _nearest(*, probe: str, index_filter: str) -> str:
    return f"""
CYPHER 25
{probe}
CALL (probe) {{
  MATCH (m:Memory)
    SEARCH m IN (VECTOR INDEX {VECTOR_INDEX} FOR $vector WHERE {index_filter} LIMIT $fetch) SCORE AS score
  RETURN m, score
}}
WITH collect({{m: m, score: score}}) AS nearest
CALL (nearest) {{
  UNWIND nearest AS hit
  WITH hit.m AS m, hit.score AS score WHERE {_VISIBLE}
  WITH m, score ORDER BY score DESC
  RETURN collect({{m: m, score: score}}) AS visible
}}
CALL (visible) {{
  UNWIND [['vector', visible[..$limit]],
          ['period', [hit IN visible WHERE $start <= hit.m.recorded_at < $end]]]
    AS shelf
  UNWIND shelf[1] AS hit
  WITH shelf[0] AS list, hit.m AS m, hit.score AS score
  RETURN collect(m {{{_CANDIDATE}, list: list, scope: m.scope}}) AS candidates
}}
RETURN candidates, size(nearest) AS fetched
"""


_VECTOR_NEAREST = _nearest(probe=_INDEXED_PROBE, index_filter="m.scope IN $index_scopes")
_VECTOR_NEAREST_AS_OF = _nearest(probe=_INDEXED_PROBE_AS_OF,
                                 index_filter="m.scope IN $index_scopes AND m.recorded_at <= $as_of")
# Where a point-in-time read's nearest memories were crowded out of view (superseded or withdrawn by then), the
# index is asked again for this many times the list (as `_VECTOR_ACTIVE` is for the present).
AS_OF_CROWDED_FETCH = 30
_VECTOR_ACTIVE = f"""
CYPHER 25
{_INDEXED_PROBE}
CALL (probe) {{
  MATCH (m:Memory)
    SEARCH m IN (VECTOR INDEX {VECTOR_INDEX} FOR $vector WHERE m.scope IN $index_scopes AND m.status = 'active' LIMIT $fetch)
    SCORE AS score
  RETURN m, score
}}
WITH m, score WHERE {_VISIBLE}
WITH m, score ORDER BY score DESC LIMIT $limit
RETURN {_CANDIDATES}
"""
# The month a question names (`candidates(period=...)`): read whole in a scope that holds at most
# PERIOD_SCAN_MAX memories that month (a client's month: tens), otherwise (a firm's month of research, or a
# client of many years, can hold tens of thousands: an exact scan costs about 20 microseconds of Neo4j CPU per
# memory) those that fall in the month among the nearest memories' own index lookup, at no cost of its own.
# Measured on the firm research graph of 1M memories: a lookup of its own, of ten times the list, cost a month
# question 12 ms of Neo4j time, and one of 400 in place of the nearest memories' 120 cost 7; keeping the
# month's among the 120 found the answer to 39 month questions of 40 against 37 with 400 (the firm's month of
# research crowded the client's month less) (BENCHMARKS.md, "Firm-scale targets").
# With the index, one statement counts each scope's month (up to PERIOD_SCAN_MAX + 1) and reads the small ones
# whole; it runs with full text, while the index's lookup runs beside it (one round trip where there were three on
# the longer thread: measured on the graph of 1M memories over clients, a month question's other thread took
# 19.6 ms at p50, 7.4 of them in these two statements).
PERIOD_SCAN_MAX = 500
_MONTH = f"""
UNWIND $scopes AS scope
CALL (scope) {{
  MATCH (m:Memory) WHERE m.scope = scope AND $start <= m.recorded_at < $end
  WITH m LIMIT $scan_max + 1
  RETURN count(m) AS memories
}}
WITH collect(CASE WHEN 0 < memories <= $scan_max THEN scope END) AS small,
     collect(CASE WHEN memories > $scan_max THEN scope END) AS large
CALL (small) {{
  MATCH (m:Memory) WHERE m.scope IN small AND $start <= m.recorded_at < $end AND {_VISIBLE}
  WITH m, vector.similarity.cosine(m.embedding, $vector) AS score
  ORDER BY score DESC LIMIT $limit
  RETURN {_CANDIDATES}
}}
RETURN candidates, large
"""
_PERIOD_SCAN = f"""
MATCH (m:Memory) WHERE m.scope IN $period_scopes AND $start <= m.recorded_at < $end AND {_VISIBLE}
WITH m, vector.similarity.cosine(m.embedding, $vector) AS score
ORDER BY score DESC LIMIT $limit
RETURN {_CANDIDATES}
"""
_VECTOR_SCAN = f"""
MATCH (m:Memory) WHERE m.scope IN $scopes AND {_VISIBLE}
WITH m, vector.similarity.cosine(m.embedding, $vector) AS score
ORDER BY score DESC LIMIT $limit
RETURN {_CANDIDATES}
"""

# A client's move (`r`, the link) to a shared event (`m`) in view, on the same two clocks as IN_VIEW: the
# event's `recorded_at` is when the move happened, the link's `created_at` when the twin took it in, and
# the link's status is the client's own (a client forgets their move, not the market's event).
_MOVE_IN_VIEW = """
  m.status = 'active' AND
  (($known_at IS NULL
    AND (r.status = 'active' OR ($as_of IS NOT NULL AND r.status = 'forgotten'
                                 AND r.forgotten_reason IN ['decayed', 'redundant']))
    AND ($as_of IS NULL OR m.recorded_at <= $as_of))
   OR ($known_at IS NOT NULL AND r.status IN ['active', 'forgotten'] AND r.created_at <= $known_at
    AND (r.forgotten_at IS NULL OR r.forgotten_at > $known_at)))
"""
_MOVE_CANDIDATE = """
  m.id AS id, c.id AS client, score, m.level AS level, m.importance AS importance,
  m.recorded_at.epochSeconds AS recorded
"""
_MOVES = f"""
MATCH (c:Client)-[r:SAW_MOVE]->(m:Event) WHERE c.id IN $scopes AND $vector IS NOT NULL AND {_MOVE_IN_VIEW}
WITH c, r, m, vector.similarity.cosine(m.embedding, $vector) AS score ORDER BY score DESC LIMIT $limit
RETURN 'vector' AS method, {_MOVE_CANDIDATE}
UNION ALL
MATCH (c:Client)-[r:SAW_MOVE]->(m:Event) WHERE c.id IN $scopes AND m.symbol IN $symbols AND {_MOVE_IN_VIEW}
WITH c, r, m, 1.5 AS score ORDER BY m.recorded_at DESC LIMIT $limit
RETURN 'graph' AS method, {_MOVE_CANDIDATE}
UNION ALL
MATCH (c:Client)-[r:SAW_MOVE]->(m:Event) WHERE c.id IN $scopes AND $recent AND {_MOVE_IN_VIEW}
WITH c, r, m, 1.0 AS score ORDER BY m.recorded_at DESC LIMIT $limit
RETURN 'recent' AS method, {_MOVE_CANDIDATE}
UNION ALL
MATCH (c:Client)-[r:SAW_MOVE]->(m:Event)
WHERE c.id IN $scopes AND $vector IS NOT NULL AND $start IS NOT NULL AND $start <= m.recorded_at < $end
  AND {_MOVE_IN_VIEW}
WITH c, r, m, vector.similarity.cosine(m.embedding, $vector) AS score ORDER BY score DESC LIMIT $limit
RETURN 'period' AS method, {_MOVE_CANDIDATE}
"""
# A client's moves by the words of their own sentence (when `$lucene`): the link index
# (schema.MOVE_FULLTEXT_INDEX) holds the client's scope token, so the query's `+scope:(...)` keeps every
# other client's links out of its top-k; the start node is checked again. Forgotten links are still
# indexed: fetched with a margin, dropped here. One statement with the other lists of moves.
_MOVES_FULLTEXT = f"""
UNWIND CASE WHEN $lucene IS NULL THEN [] ELSE [$lucene] END AS lucene
CALL db.index.fulltext.queryRelationships('{MOVE_FULLTEXT_INDEX}', lucene, {{limit: $fetch}})
YIELD relationship AS r, score
WITH r, score, startNode(r) AS c, endNode(r) AS m
WHERE c:Client AND c.id IN $scopes AND m:Event AND {_MOVE_IN_VIEW}
WITH c, r, m, score LIMIT $limit
RETURN 'fulltext' AS method, {_MOVE_CANDIDATE}
"""
_ALL_MOVES = _MOVES + "UNION ALL" + _MOVES_FULLTEXT
# How each method's list is ordered, so the lists read on the two threads, and a client's moves, merge in order.
_ORDER = {"fulltext": lambda c: -c.score, "vector": lambda c: -c.score, "period": lambda c: -c.score,
          "graph": lambda c: (-c.score, -(c.recorded or 0)), "recent": lambda c: -(c.recorded or 0)}


# The newest facts and observations of each scope (turns are never "recent"; summaries and profiles are
# out of `_VISIBLE`), read backwards per level through the (scope, level, recorded_at) index and stopped
# at $limit, then merged: a firm's million research notes, or a client's hundred thousand turns, cost
# what the newest few cost. The index only serves the order when it is sorted on before the filter and
# on all its properties. The walk starts at `$recorded_by` (`as_of`, or the end of time): a point-in-time
# read starting from the newest walked past everything recorded since (1.3 s as of mid-2023 on the firm
# research graph of 1M memories).
def _newest(scopes: str) -> str:
    """The statement of the newest memories of the scopes that the Cypher list `scopes` names."""
    return f"""
UNWIND {scopes} AS scope
UNWIND ['fact', 'observation'] AS level
CALL (scope, level) {{
  MATCH (m:Memory) USING INDEX SEEK m:Memory(scope, level, recorded_at)
  WHERE m.scope = scope AND m.level = level AND m.recorded_at <= $recorded_by
  WITH m ORDER BY m.scope DESC, m.level DESC, m.recorded_at DESC
  WITH m WHERE {_VISIBLE}
  RETURN m LIMIT $limit
}}
WITH m, 1.0 AS score ORDER BY m.recorded_at DESC LIMIT $limit
RETURN {_CANDIDATES}
"""


# The newest (when `$recent`) and the client's market moves, in one statement: one round trip fewer on the
# thread beside the search's own, which is the longer of the two in most searches.
_RECENT_AND_MOVES = f"""
CALL () {{
{_newest("CASE WHEN $recent THEN $scopes ELSE [] END")}
}}
CALL () {{
  CALL () {{
{_ALL_MOVES}
  }}
  RETURN collect({{method: method, id: id, client: client, score: score, level: level, importance: importance,
                  recorded: recorded}}) AS moves
}}
RETURN candidates AS recent, moves
"""


# Memories in the fact slots the question asks about or about the securities it names, ranked per scope
# facts first, then observations, then turns, newest first within each; the scopes' lists are then taken in
# turn (`_interleave`), so that a firm's many analyst views on a security do not push the client's own
# mentions of it (what they paid, why they hold it) out of the list: measured on the firm research graph,
# with one list a question about a client's own position found its answer in 1 of 68 (BENCHMARKS.md,
# "Firm-scale targets"). A memory of any other level (summary, profile) is out of `_VISIBLE`, so these
# three levels are the whole of what can match.
# Work is bounded by what can be returned: slots are sought in the (scope, slot) index; securities
# per scope and level, walking the (scope, level, recorded_at) index newest first (from `$recorded_by`, as
# the newest memories do, `_newest`) and stopping at
# $limit matches, since no older memory of that level can outrank them, or after the newest GRAPH_WALK
# of the level when the security is rarely named (older mentions stay within reach of the other lists).
# (A scan of the scopes read every memory of a firm's million research notes.) Each memory walked costs
# about 7 microseconds of Neo4j time (its view and its links to the security): for the client with 100k
# memories, a security named rarely cost 20 ms per search with a walk of 1,000 and 9 ms with 500.
# Levels are walked in the list's order, and a scope's walk ends once it has `$limit` matches (later levels
# cannot outrank them); the named securities are looked up once, not per memory walked. Measured on the
# firm research graph of 1M memories, both halved the statement's Neo4j time for a question naming a
# security (11 to 5-8 ms, the same results).
_GRAPH_LEVELS = ["fact", "observation", "turn"]
END_OF_TIME = datetime.max.replace(tzinfo=UTC)  # `$recorded_by` when nothing bounds it
GRAPH_WALK = 500
_GRAPH = f"""
OPTIONAL MATCH (named:Security) WHERE named.symbol IN $symbols
WITH collect(named) AS named
UNWIND range(0, size($scopes) - 1) AS place
WITH named, place, $scopes[place] AS scope
CALL (scope, named) {{
  UNWIND $slots AS slot
  MATCH (m:Memory) USING INDEX m:Memory(scope, slot) WHERE m.scope = scope AND m.slot = slot AND {_VISIBLE}
  RETURN m
  UNION
  UNWIND $slot_prefixes AS prefix
  MATCH (m:Memory) USING INDEX m:Memory(scope, slot) WHERE m.scope = scope AND m.slot STARTS WITH prefix AND {_VISIBLE}
  RETURN m
  UNION
  CALL (scope, named) {{
    UNWIND CASE WHEN size($symbols) > 0 THEN {_GRAPH_LEVELS} ELSE [] END AS level
    CALL (scope, level, named) {{
      MATCH (m:Memory) USING INDEX SEEK m:Memory(scope, level, recorded_at)
      WHERE m.scope = scope AND m.level = level AND m.recorded_at <= $recorded_by
      WITH m ORDER BY m.scope DESC, m.level DESC, m.recorded_at DESC LIMIT $walk
      WITH m WHERE {_VISIBLE} AND (m.symbol IN $symbols OR EXISTS {{ (m)-[:ABOUT|MENTIONS]->(s) WHERE s IN named }})
      RETURN m LIMIT $limit
    }}
    RETURN m LIMIT $limit
  }}
  RETURN m
}}
WITH place, m, CASE m.level WHEN 'fact' THEN 2.0 WHEN 'observation' THEN 1.5 ELSE 1.0 END AS score
ORDER BY place, score DESC, m.recorded_at DESC
WITH place, collect({{m: m, score: score}})[..$limit] AS best
UNWIND best AS hit
WITH place, hit.m AS m, hit.score AS score
RETURN collect(m {{{_CANDIDATE}, place: place}}) AS candidates
"""


@dataclass(frozen=True)
class Candidate:
    id: str
    score: float
    level: str
    importance: float
    recorded: int | None  # epoch seconds
    reply: Candidate | None = None  # the next turn, by someone else, when this turn asks a question


def candidates(
    *,
    scopes: list[str],
    lucene: str | None,
    vector: list[float] | None,
    symbols: list[str],
    slots: list[str],
    limit: int,
    as_of: datetime | None,
    include_recent: bool,
    include_superseded: bool = False,
    period: tuple[datetime, datetime] | None = None,
    known_at: datetime | None = None,
    summaries: bool = False,
) -> dict[str, list[Candidate]]:
    """Ranked candidates per method.

    With `summaries`, the summaries (and current profile) that best match come back as "summary",
    ranked by fused full-text and vector rank, and the turns forgotten as redundant that they quote are
    candidates again, ranked as any turn: they left the pool, not the summaries' sources.

    Two read transactions at once: the lists that need nothing from the summaries (the vector index's
    lookup, the longest single statement at firm scale, the newest memories and the client's market moves)
    run on another thread (`driver.read_beside`) while this one runs full text (which the summaries share),
    the summaries and the lists that can hold the turns they bring back (`covered`). Measured on the graph
    of 1M memories over 1,095 clients: with the vector lookup alone on the other thread, this one was the
    longer in four searches of five; with the newest memories and the moves there too, in one of three.
    """
    # A point-in-time read asks the index for what was recorded by then (`point_in_time_vector_search`); with
    # both clocks at once (`as_of` and `known_at`) it keeps the exact scan: the index's `as_of` filter would
    # narrow what the twin's clock alone decides.
    use_index = vector is not None and filtered_vector_search() and (
        as_of is None or (known_at is None and point_in_time_vector_search()))
    params = {"scopes": scopes, "limit": limit, "as_of": as_of, "known_at": known_at,
              "recorded_by": as_of or END_OF_TIME, "superseded": include_superseded, "covered": []}
    beside = driver.read_beside(_independent_lists, vector=vector, params=params, period=period, use_index=use_index,
                                recent=include_recent, symbols=symbols, lucene=lucene)

    # The graph list per scope, in the order of `scopes`: a client's market moves join their client's.
    graph: list[list[Candidate]] = [[] for _ in scopes]

    def _read(tx: ManagedTransaction) -> tuple[dict[str, list[Candidate]], set[str], set[str]]:
        tx = _Clock(tx, known_at)
        ranked: dict[str, list[Candidate]] = {}
        large_months: set[str] = set()  # the scopes whose named month the index's lookup serves (`_MONTH`)
        for scope_list in graph:  # a retried transaction starts again
            scope_list.clear()
        hits: list[dict[str, Any]] = []
        covered: set[str] = set()
        if lucene or (summaries and vector is not None):
            # Margins past the list: memories out of view (forgotten, superseded) are dropped after the index's top-k.
            found = tx.run(_TEXT_AND_SUMMARIES, lucene=lucene and f"{lucene} -{_COARSE_LEVEL_FIELD}", fetch=limit * 3,
                           coarse_lucene=lucene and f"{lucene} +{_COARSE_LEVEL_FIELD}", coarse_fetch=limit * 2,
                           coarse=summaries, vector=vector, **params).single()
            hits, covered = sorted(found["candidates"], key=lambda hit: -hit["score"]), set(found["covered"])
        if summaries:
            ranked["summary"] = _fuse(_candidates([hit for hit in hits if hit["shelf"] == "coarse"]),
                                      _candidates([hit for hit in hits if hit["shelf"] == "coarse-vector"]))
        # A copy: `params` is shared with the other thread, and a retried transaction starts again.
        params_now = {**params, "covered": sorted(covered)}
        if lucene:
            ranked["fulltext"] = _candidates([hit for hit in hits if hit["shelf"] == "fine" or (
                hit["shelf"] == "redundant" and hit["id"] in covered)][:limit], covered)
        if vector is not None and not use_index:
            ranked["vector"] = _candidates(tx.candidates(_VECTOR_SCAN, vector=vector, **params_now), covered)
        elif vector is not None and covered:  # the index list was read before these were known: score them exactly
            ranked["vector"] = _candidates(tx.candidates(_COVERED_BY_VECTOR, vector=vector, **params_now), covered)
        if symbols or slots:
            for row in tx.candidates(_GRAPH, symbols=symbols, slots=slots, slot_prefixes=[s + ":" for s in slots],
                                     walk=GRAPH_WALK, **params_now):
                graph[row["place"]].append(_candidate(row, covered))
        if period is not None and vector is not None and not use_index:
            ranked["period"] = _candidates(tx.candidates(
                _PERIOD_SCAN, period_scopes=scopes, vector=vector, start=period[0], end=period[1], **params_now), covered)
        elif period is not None and vector is not None:
            month = tx.run(_MONTH, scan_max=PERIOD_SCAN_MAX, vector=vector, start=period[0], end=period[1],
                           **params_now).single()
            ranked["period"], large_months = _candidates(month["candidates"], covered), set(month["large"])
        return ranked, covered, large_months

    ranked, covered, large_months = driver.read(_read)
    for method, rows in beside.result().items():
        if method == "period":  # the index's nearest of the month count only in the scopes too large to read whole
            rows = [row for row in rows if isinstance(row, Candidate) or row["scope"] in large_months]
        more = [row if isinstance(row, Candidate) else _candidate(row, covered) for row in rows]
        if method == "graph":  # market moves, found by the securities named: into their client's list, in order
            places = [scopes.index(split_move_link_id(move.id)[1]) for move in more]
            for place, move in zip(places, more, strict=True):
                graph[place].append(move)
            for place in set(places):
                graph[place].sort(key=_ORDER["graph"])  # stable: the graph list's own order among equals
        else:
            ranked[method] = sorted(ranked.get(method, []) + more, key=_ORDER[method])[:limit]
    if any(graph):
        ranked["graph"] = _interleave(graph)[:limit]
    return ranked


def _interleave(lists: list[list[Candidate]]) -> list[Candidate]:
    """The first of each list, then the second of each, and so on."""
    return [candidate for rank in zip_longest(*lists) for candidate in rank if candidate is not None]


def _independent_lists(tx: ManagedTransaction, *, vector: list[float] | None, params: dict[str, Any],
                       period: tuple[datetime, datetime] | None, use_index: bool, recent: bool, symbols: list[str],
                       lucene: str | None) -> dict[str, list[dict[str, Any] | Candidate]]:
    """The lists that need nothing from the summaries, as candidate maps (made candidates once `covered` is known)
    or, for market moves, candidates:
    - with the index, the vector lists (`_from_index`);
    - the newest facts and observations (never a turn, so never one a summary brings back);
    - the client's market moves, per method that found them.
    """
    tx = _Clock(tx, params["known_at"])
    found: dict[str, list[dict[str, Any] | Candidate]] = _from_index(tx, vector=vector, params=params, period=period) \
        if use_index else {}
    start, end = period if period is not None else (None, None)
    row = tx.run(_RECENT_AND_MOVES, vector=vector, symbols=symbols, recent=recent, start=start, end=end, lucene=lucene,
                 fetch=params["limit"] * 3, **params).single()
    if recent:
        found["recent"] = row["recent"]
    for method, moves in _moves(row["moves"]).items():
        found[method] = found.get(method, []) + moves
    return found


def _from_index(tx: _Clock, *, vector: list[float], params: dict[str, Any],
                period: tuple[datetime, datetime] | None) -> dict[str, list[dict[str, Any]]]:
    """The vector lists through the index: the nearest memories of the scopes in view (as of `as_of`, among
    those recorded by then), and those of them in a named month (`candidates` keeps those of the scopes whose
    month is too large to read whole, and reads the others exactly). A turn forgotten as redundant that a
    summary brings back is scored by `candidates` (this list is read before those are known)."""
    found: dict[str, list[dict[str, Any]]] = {}
    index = {"vector": vector, "index_scopes": params["scopes"], **params}
    # A margin for superseded facts (they leave the index's top-k afterwards) and for the index's
    # approximation: twice the list lost a seeded question against the exact scan, three times none
    # (BENCHMARKS.md, "Firm-scale targets").
    fetch = params["limit"] * 3
    start, end = period if period is not None else (None, None)
    as_of = params["as_of"] is not None
    nearest = tx.run(_VECTOR_NEAREST_AS_OF if as_of else _VECTOR_NEAREST, fetch=fetch, start=start, end=end,
                     **index).single()
    rows = nearest["candidates"]
    found["vector"] = [row for row in rows if row["list"] == "vector"]
    if period is not None:
        found["period"] = [row for row in rows if row["list"] == "period"]
    if len(found["vector"]) < params["limit"] and nearest["fetched"] == fetch:
        # Crowded out of view (a full fetch, fewer than the list in view). Fewer than asked for means the
        # scopes hold no more, so nothing is asked again then (an empty or erased client's search included).
        if as_of:
            wider = tx.run(_VECTOR_NEAREST_AS_OF, fetch=params["limit"] * AS_OF_CROWDED_FETCH, start=None, end=None,
                           **index).single()
            found["vector"] = [row for row in wider["candidates"] if row["list"] == "vector"]
        else:
            found["vector"] = tx.candidates(_VECTOR_ACTIVE, fetch=fetch, **index)
    return found


def _fuse(*lists: list[Candidate]) -> list[Candidate]:
    """Reciprocal-rank fusion of ranked lists (ties by id, so the order is stable)."""
    fused: dict[str, float] = {}
    found: dict[str, Candidate] = {}
    for ranked in lists:
        for rank, candidate in enumerate(ranked):
            fused[candidate.id] = fused.get(candidate.id, 0.0) + 1 / (60 + rank + 1)
            found.setdefault(candidate.id, candidate)
    return [found[i] for i in sorted(fused, key=lambda i: (-fused[i], i))]


def _moves(records: list[dict[str, Any]]) -> dict[str, list[Candidate]]:
    """The reader's client's market moves, per method that found them."""
    found: dict[str, list[Candidate]] = {}
    for record in records:
        found.setdefault(record["method"], []).append(Candidate(
            move_link_id(record["id"], record["client"]), float(record["score"]), record["level"],
            _importance(record["importance"]), record["recorded"]))
    return found


def _candidates(records: list[dict[str, Any]], covered: set[str] | frozenset[str] = frozenset()) -> list[Candidate]:
    return [_candidate(record, covered) for record in records]


def _candidate(record: dict[str, Any], covered: set[str] | frozenset[str]) -> Candidate:
    """A candidate from its row. Its reply counts when active, or when forgotten as redundant and brought
    back by a matching summary (`covered`)."""
    reply = record["reply"]
    if reply is not None and not (reply["open"] or reply["id"] in covered):
        reply = None
    return Candidate(record["id"], float(record["score"]), record["level"], _importance(record["importance"]),
                     record["recorded"],
                     reply and Candidate(reply["id"], 0.0, reply["level"], _importance(reply["importance"]),
                                         reply["recorded"]))


def _importance(value: float | None) -> float:
    return float(value) if value is not None else 0.3


def people_named(scopes: list[str]) -> set[str]:
    """The names of the clients in these scopes and of everyone in their sessions (`people` on the client,
    written with each session: memory/graph/episodes.py; read from the sessions for a client written before).

    Every turn's text starts with its speaker's name, so a question that names the client ("What is
    Ann Carter's horizon?") would otherwise match all of that client's turns equally.
    """

    def _read(tx: ManagedTransaction) -> set[str]:
        record = tx.run(
            """
            MATCH (c:Client) WHERE c.id IN $scopes
            RETURN collect(c.name) + reduce(names = [], people IN collect(coalesce(c.people, """ + SESSION_PEOPLE + """))
                                            | names + people) AS names
            """,
            scopes=scopes,
        ).single()
        return {name for name in (record["names"] if record else []) if name}

    return driver.read(_read)


def details(ids: list[str], scopes: list[str], vector: list[float] | None = None) -> dict[str, dict[str, Any]]:
    """What a result shows about each memory, re-checking scope (defence in depth), its instants as aware
    datetimes. With the query's `vector`, a memory's source turns come best match first (a session summary
    cites all its turns)."""

    def _read(tx: ManagedTransaction) -> dict[str, dict[str, Any]]:
        result = tx.run(
            """
            UNWIND $ids AS wanted
            MATCH (m:Memory {id: wanted}) WHERE m.scope IN $scopes
            OPTIONAL MATCH (m)-[:DERIVED_FROM]->(t:Turn)
            WITH m, t ORDER BY coalesce(-vector.similarity.cosine(t.embedding, $vector), 0.0), t.recorded_at, t.position
            WITH m, collect(t.turn_id) AS derived
            RETURN m.id AS id, m.text AS text, m.level AS level, m.kind AS kind, m.importance AS importance,
                   """ + epoch_micros("m.valid_from") + """ AS valid_from, """ + epoch_micros("m.valid_to") + """ AS valid_to,
                   """ + epoch_micros("m.recorded_at") + """ AS recorded_at, m.session_id AS session_id,
                   m.source AS source, CASE WHEN m.level = 'turn' THEN [m.turn_id] ELSE derived END AS sources
            """,
            ids=ids, scopes=scopes, vector=vector,
        )
        found = {record["id"]: _with_datetimes(record.data()) for record in result}
        links = [{"id": memory_id, "event": parts[0], "client": parts[1]} for memory_id in ids
                 if memory_id not in found and (parts := split_move_link_id(memory_id)) and parts[1] in scopes]
        if links:
            # A client's move: the shared event, in the client's own words from their link.
            for record in tx.run(
                """
                UNWIND $links AS link
                MATCH (c:Client {id: link.client})-[r:SAW_MOVE]->(m:Memory {id: link.event})
                RETURN link.id AS id, r.text AS text, m.level AS level, m.kind AS kind, m.importance AS importance,
                       """ + epoch_micros("m.valid_from") + """ AS valid_from, null AS valid_to,
                       """ + epoch_micros("m.recorded_at") + """ AS recorded_at, null AS session_id, m.source AS source,
                       [] AS sources
                """,
                links=links,
            ):
                found[record["id"]] = _with_datetimes(record.data())
        return found

    return driver.read(_read)


def _with_datetimes(row: dict[str, Any]) -> dict[str, Any]:
    """A details row with its instants as datetimes (read as epoch microseconds: memory/graph/values.py)."""
    return {**row, **{key: from_epoch_micros(row[key]) for key in ("valid_from", "valid_to", "recorded_at")}}
