"""Hybrid retrieval: full text, vectors and the entity graph, fused and re-scored.

Measured on long conversations, vectors alone trail BM25 and naive fusion of the two trails BM25
too (DESIGN.md section 7). So full text leads the fusion, vectors add paraphrase recall at a lower
weight, and the structure of memory does the rest: extracted facts and observations (which carry
their source turns) rank above raw turns for the questions they answer, and entities named in the
query (a ticker, a goal, "risk") pull in their graph neighbourhood.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from memory.embeddings import embed_query
from memory.extraction.securities import find_securities
from memory.graph import search as graph_search
from memory.scope import Reader

MODES = ("hybrid", "fulltext", "vector")
RRF_K = 60
WEIGHTS = {"fulltext": 1.0, "vector": 0.6, "graph": 0.8, "recent": 0.15}
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
# Words asking what was believed before, not now: superseded memories are then candidates too.
HISTORY_HINTS = {"originally", "original", "initially", "first", "previously", "before", "earlier", "used", "old", "changed"}
_WORD = re.compile(r"[A-Za-z0-9]+")


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

    def to_contract(self) -> dict[str, Any]:
        """The public JSON shape (DESIGN.md section 4)."""
        data = asdict(self)
        return {key: data[key] for key in ("id", "text", "level", "score", "valid_from", "valid_to", "sources")}


def search(reader: Reader, query: str, *, k: int = 10, as_of: datetime | None = None,
           mode: str = "hybrid") -> list[SearchResult]:
    if mode not in MODES:
        raise InvalidQuery(f"mode must be one of {', '.join(MODES)}")
    if not 1 <= k <= 100:
        raise InvalidQuery("k must be between 1 and 100")
    query = (query or "").strip()[:MAX_QUERY_CHARS]
    if not query:
        raise InvalidQuery("the query is empty")
    if as_of is not None and as_of.tzinfo is None:
        raise InvalidQuery("as_of needs a time zone")

    words = [w.lower() for w in _WORD.findall(query)]
    scopes = reader.scopes
    use_text = mode in ("hybrid", "fulltext")
    use_vector = mode in ("hybrid", "vector")
    symbols = [ref.key for ref, _ in find_securities(query)] if mode == "hybrid" else []
    slots = [slot for slot, stems in SLOT_HINTS.items() if any(w.startswith(stems) for w in words)] if mode == "hybrid" else []
    pool = max(k * 4, 40)
    ranked = graph_search.candidates(
        scopes=scopes,
        lucene=lucene_query(words, scopes) if use_text and words else None,
        vector=embed_query(query) if use_vector else None,
        symbols=symbols,
        slots=slots,
        limit=pool,
        as_of=as_of,
        include_recent=mode == "hybrid",
        include_superseded=mode == "hybrid" and any(w in HISTORY_HINTS for w in words),
    )
    fused: dict[str, float] = {}
    methods: dict[str, list[str]] = {}
    for method, pairs in ranked.items():
        for rank, (memory_id, _) in enumerate(pairs):
            fused[memory_id] = fused.get(memory_id, 0.0) + WEIGHTS[method] / (RRF_K + rank + 1)
            methods.setdefault(memory_id, []).append(method)
    if not fused:
        return []
    details = graph_search.details(list(fused), scopes)
    now = as_of or timezone.now()
    results = []
    for memory_id, score in fused.items():
        row = details.get(memory_id)
        if row is None:
            continue
        if mode == "hybrid":
            score *= _structure_factor(row, now)
        results.append(SearchResult(
            id=memory_id, text=row["text"], level=row["level"], kind=row["kind"] or row["level"],
            score=round(score, 6), valid_from=_iso(row["valid_from"]), valid_to=_iso(row["valid_to"]),
            recorded_at=_iso(row["recorded_at"]), sources=list(dict.fromkeys(row["sources"] or [])),
            methods=methods[memory_id],
        ))
    results.sort(key=lambda r: (-r.score, r.id))
    return results[:k]


def lucene_query(words: list[str], scopes: list[str]) -> str:
    """`+scope:(...)` is required, so Lucene filters by scope before it ranks anything."""
    terms = " ".join(dict.fromkeys(words[:64]))
    return f"+scope:({' '.join(scopes)}) +text:({terms})"


def _structure_factor(row: dict[str, Any], now: datetime) -> float:
    importance = float(row.get("importance") or 0.3)
    recorded = row.get("recorded_at")
    age_days = max((now - recorded.to_native()).total_seconds() / 86400, 0.0) if recorded is not None else 365.0
    recency = math.exp(-age_days / 730)
    return LEVEL_BOOST.get(row["level"], 1.0) * (1 + 0.3 * importance) * (1 + 0.1 * recency)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    native = value.to_native() if hasattr(value, "to_native") else value
    return native.isoformat()
