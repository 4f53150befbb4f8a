"""Hybrid retrieval: full text, vectors and the entity graph, fused and re-scored.

Measured on long conversations, vectors alone trail BM25 and naive fusion of the two trails BM25
too (docs/architecture.md, "retrieval"). So full text leads the fusion, vectors add paraphrase recall at a lower
weight, and the structure of memory does the rest: extracted facts and observations (which carry
their source turns) rank above raw turns for the questions they answer, and entities named in the
query (a ticker, a goal, "risk") pull in their graph neighbourhood.

Conversation shape counts too: the names of the people in scope are set aside (every turn starts
with its speaker's name), a month the question names is matched on dates rather than words, and
the reply to a matching question shares its score (answers rarely repeat the question's words).
Text and sources are fetched only for the k winners.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.utils import timezone

from memory.embeddings import embed_query
from memory.extraction.securities import find_securities
from memory.graph import driver as graph_driver
from memory.graph import search as graph_search
from memory.scope import Reader
from memory.services import access_notes

MODES = ("hybrid", "fulltext", "vector")
RRF_K = 60
WEIGHTS = {"fulltext": 1.0, "vector": 0.6, "graph": 0.8, "recent": 0.15, "period": 1.0,
           "summary": 3.0}  # "summary" only for broad questions: they are answered from summaries
REPLY_SHARE = 0.8  # of a matching turn's score, given to the reply that follows it
PERIOD_BOOST = 1.5  # a memory recorded in the month the question names
LEVEL_BOOST = {"fact": 1.25, "observation": 1.1, "turn": 1.0}
MAX_QUERY_CHARS = 2000

# Word stems in a question that point at a slot of semantic memory ("worr" matches worried, worrying).
SLOT_HINTS: dict[str, tuple[str, ...]] = {
    "risk_tolerance": ("risk", "volatil", "appetite", "cautious", "conservative", "aggressive", "toleran", "safe"),
    "time_horizon": ("horizon",),
    "goal:retirement": ("retir", "pension"),
    "goal:house": ("house", "home", "property", "deposit", "mortgage"),
    "goal:education": ("college", "universit", "educat", "tuition", "school"),
    "exclusion": ("exclu", "avoid", "ethic", "never", "tobacco", "fossil", "refus", "weapon"),
    "preference": ("prefer", "favo", "like", "interest"),
    "concern": ("worr", "concern", "anxi", "nervous", "afraid", "fear", "scare"),
    "life_event": ("baby", "marri", "wedding", "divorc", "inherit", "job", "event", "born", "famil"),
    "holding": ("own", "hold", "shares", "position", "bought"),
    "liquidity_need": ("cash", "liquidity", "withdraw"),
}
# Words asking for the big picture: the summaries and the profile themselves are then results.
BROAD_HINTS = {"overview", "summary", "summarise", "summarize", "recap", "overall", "profile", "background",
               "evolved", "evolution", "trajectory", "story"}
# Words asking what was believed before, not now: superseded memories are then candidates too.
HISTORY_HINTS = {"originally", "original", "initially", "first", "previously", "before", "earlier", "used", "old", "changed"}
# Words asking for what holds now: newer memories first.
CURRENT_HINTS = {"current", "currently", "now", "latest", "today", "lately", "recent", "recently", "anymore", "still",
                 "newest", "nowadays", "present"}
TIME_DIRECTION_BOOST = 0.3  # at most, for the newest (or, asked about the past, the oldest) candidate
_WORD = re.compile(r"[A-Za-z0-9]+")
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]
_MONTH_YEAR = re.compile(r"\b(" + "|".join(_MONTHS) + r")\s+((?:19|20)\d\d)\b", re.IGNORECASE)


class InvalidQuery(ValueError):
    """The search request cannot be run as given; the message says why."""


@dataclass
class SearchResult:
    id: str
    text: str
    level: str
    kind: str
    score: float
    valid_from: str | None
    valid_to: str | None
    recorded_at: str | None
    sources: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    origin: str = ""  # where the memory came from: "session:ID", "viewpoint:ID", "market:replay", "agent:twin"

    def to_contract(self) -> dict[str, Any]:
        """The public JSON shape (docs/architecture.md, "public contracts")."""
        data = asdict(self)
        return {key: data[key] for key in ("id", "text", "level", "score", "valid_from", "valid_to", "sources")}


def search(reader: Reader, query: str, *, k: int = 10, as_of: datetime | None = None,
           mode: str = "hybrid", known_at: datetime | None = None) -> list[SearchResult]:
    """The k best memories for `query`. Two clocks: `as_of` answers from what had been said and was
    believed true by then; `known_at` from what the twin itself knew then (a session imported later,
    or a memory forgotten later, is told apart)."""
    if mode not in MODES:
        raise InvalidQuery(f"mode must be one of {', '.join(MODES)}")
    if not 1 <= k <= 100:
        raise InvalidQuery("k must be between 1 and 100")
    query = (query or "").strip()
    if not query:
        raise InvalidQuery("the query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"the query is too long ({len(query)} characters; at most {MAX_QUERY_CHARS})")
    if as_of is not None and as_of.tzinfo is None:
        raise InvalidQuery("as_of needs a time zone")
    if known_at is not None and known_at.tzinfo is None:
        raise InvalidQuery("known_at needs a time zone")
    # The people named, the candidates and the winners' details: one transaction, whose reads are one round
    # trip each (the vector index's and the other independent lists run beside it, in their own).
    found = graph_driver.read_together(
        lambda: _ranked(reader, query, k=k, as_of=as_of, mode=mode, known_at=known_at))
    if as_of is None and known_at is None:
        _note_access([result.id for result in found])
    return found


def _ranked(reader: Reader, query: str, *, k: int, as_of: datetime | None, mode: str,
            known_at: datetime | None) -> list[SearchResult]:
    """`search`'s work once the request is valid: only reads (the block may run again on a retry)."""
    scopes = reader.scopes
    period = named_period(query) if mode == "hybrid" else None
    topic = topic_of(query, graph_search.people_named(scopes) if reader.client_id else set())
    words = [w.lower() for w in _WORD.findall(topic) if len(w) > 1]
    use_text = mode in ("hybrid", "fulltext")
    use_vector = mode in ("hybrid", "vector")
    symbols = [ref.key for ref, _ in find_securities(query)] if mode == "hybrid" else []
    slots = [slot for slot, stems in SLOT_HINTS.items() if any(w.startswith(stems) for w in words)] if mode == "hybrid" else []
    pool = max(k * 4, 40)
    vector = embed_query(topic) if use_vector else None  # once: every level below ranks by the same vector
    ranked = graph_search.candidates(
        scopes=scopes,
        lucene=lucene_query(words, scopes) if use_text and words else None,
        vector=vector,
        symbols=symbols,
        slots=slots,
        limit=pool,
        as_of=as_of,
        include_recent=mode == "hybrid",
        include_superseded=mode == "hybrid" and any(w in HISTORY_HINTS for w in words),
        period=period,
        known_at=known_at,
        summaries=mode == "hybrid",
    )
    _broad_question_summaries(ranked, words, topic)
    fused: dict[str, float] = {}
    methods: dict[str, list[str]] = {}
    known: dict[str, graph_search.Candidate] = {}
    for method, found in ranked.items():
        for rank, candidate in enumerate(found):
            fused[candidate.id] = fused.get(candidate.id, 0.0) + WEIGHTS[method] / (RRF_K + rank + 1)
            methods.setdefault(candidate.id, []).append(method)
            known.setdefault(candidate.id, candidate)
    if not fused:
        return []
    if mode == "hybrid":
        _credit_replies(ranked, fused, methods, known)
        now = (as_of or known_at or timezone.now()).timestamp()
        for memory_id in fused:
            fused[memory_id] *= _structure_factor(known[memory_id], now, period)
        _time_direction(fused, known, words)
    best = sorted(fused, key=lambda memory_id: (-fused[memory_id], memory_id))[:k]
    details = graph_search.details(best, scopes, vector=vector)
    return [
        SearchResult(
            id=memory_id, text=row["text"], level=row["level"], kind=row["kind"] or row["level"],
            score=round(fused[memory_id], 6), valid_from=iso_datetime(row["valid_from"]), valid_to=iso_datetime(row["valid_to"]),
            recorded_at=iso_datetime(row["recorded_at"]), sources=list(dict.fromkeys(row["sources"] or [])),
            methods=methods[memory_id], origin=row["source"] or "",
        )
        for memory_id in best if (row := details.get(memory_id)) is not None
    ]


def _time_direction(fused: dict[str, float], known: dict[str, graph_search.Candidate], words: list[str]) -> None:
    """A question about now favours the newer candidates, one about the past the older ones.

    Position in time is relative to the candidates themselves (0 the oldest, 1 the newest), so it works
    the same for a client of two years and one of twenty.
    """
    current = any(w in CURRENT_HINTS for w in words)
    past = any(w in HISTORY_HINTS for w in words)
    if current == past:
        return
    times = sorted({c.recorded for c in known.values() if c.recorded is not None})
    if len(times) < 2:
        return
    place = {moment: index / (len(times) - 1) for index, moment in enumerate(times)}
    for memory_id in fused:
        recorded = known[memory_id].recorded
        if recorded is not None:
            newness = place[recorded]
            fused[memory_id] *= 1 + TIME_DIRECTION_BOOST * (newness if current else 1 - newness)


def _note_access(ids: list[str]) -> None:
    """What retrieval returns is used: access slows its decay (memory/services/forgetting.py). Noted
    after the answer, by this process's writer (memory/services/access_notes.py)."""
    access_notes.note(ids)


def _broad_question_summaries(ranked: dict[str, list[graph_search.Candidate]], words: list[str], topic: str) -> None:
    """Summaries are keys that lead to turns, beside the turns (not instead of them).

    The summaries that match lead back to the turns forgotten as redundant that they quote
    (`graph_search.candidates(summaries=True)`): out of the pool, such a turn is found again only through
    a summary that matched, and is then scored against the query as any turn, so forgetting shrinks the
    pool without losing the turn. Only a broad question keeps the summaries themselves as results, their
    sources best turn first (`graph_search.details`). Measured, also ranking every turn beneath the best
    summaries as a list of its own lowered recall (BENCHMARKS.md, "Memory levels"): a summary's match
    does not displace the turns that match directly.
    """
    summaries = ranked.pop("summary", [])
    if summaries and (any(w in BROAD_HINTS for w in words) or " over time" in topic.lower()):
        ranked["summary"] = summaries


def lucene_query(words: list[str], scopes: list[str]) -> str:
    """`+scope:(...)` is required, so Lucene filters by scope before it ranks anything."""
    terms = " ".join(dict.fromkeys(words[:64]))
    return f"+scope:({' '.join(scopes)}) +text:({terms})"


def _credit_replies(ranked: dict[str, list[graph_search.Candidate]], fused: dict[str, float],
                    methods: dict[str, list[str]], known: dict[str, graph_search.Candidate]) -> None:
    """A turn that matches is often the question; the answer is the reply that follows it.

    ("Let's revisit the retirement timeline." -> "Let's plan on me finishing work in 2036.")
    The reply gets a share of the question's fused score, so the answer can surface without sharing
    a word with the query.
    """
    questions = {c.id: c.reply for found in ranked.values() for c in found if c.reply}
    for question, reply in questions.items():
        fused[reply.id] = fused.get(reply.id, 0.0) + REPLY_SHARE * fused[question]
        methods.setdefault(reply.id, []).append("reply")
        known.setdefault(reply.id, reply)


def named_period(query: str) -> tuple[datetime, datetime] | None:
    """The month a question names ("when we spoke in March 2023"), as a UTC [start, end) range."""
    match = _MONTH_YEAR.search(query)
    if not match:
        return None
    year, month = int(match.group(2)), _MONTHS.index(match.group(1).lower()) + 1
    start = datetime(year, month, 1, tzinfo=dt_timezone.utc)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt_timezone.utc)
    return start, end


def topic_of(query: str, people: set[str]) -> str:
    """The query without the names of the people in scope and without a named month.

    Scope already says whose memory is searched, and a month is matched on dates, not words;
    left in, both match text that only shares the name or the month ("a deadline in November").
    """
    tokens = sorted({t.lower() for name in people for t in _WORD.findall(name) if len(t) > 1}, key=len, reverse=True)
    topic = _MONTH_YEAR.sub(" ", query)
    if tokens:
        topic = re.sub(r"\b(?:" + "|".join(map(re.escape, tokens)) + r")(?:'s)?\b", " ", topic, flags=re.IGNORECASE)
    topic = " ".join(topic.split())
    return topic if _WORD.search(topic) else query


def _structure_factor(candidate: graph_search.Candidate, now: float, period: tuple[datetime, datetime] | None) -> float:
    """Level, importance, recency and the named month re-weigh the fused rank."""
    recorded = candidate.recorded
    age_days = max((now - recorded) / 86400, 0.0) if recorded is not None else 365.0
    recency = math.exp(-age_days / 730)
    in_period = period is not None and recorded is not None and period[0].timestamp() <= recorded < period[1].timestamp()
    return (LEVEL_BOOST.get(candidate.level, 1.0) * (1 + 0.3 * candidate.importance) * (1 + 0.1 * recency)
            * (PERIOD_BOOST if in_period else 1.0))


def iso_datetime(value: Any) -> str | None:
    """A Neo4j or Python date-time as ISO 8601 text (None stays None)."""
    if value is None:
        return None
    native = value.to_native() if hasattr(value, "to_native") else value
    return native.isoformat()
