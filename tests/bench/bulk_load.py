"""Bulk loader for the firm-scale search bench: production-shaped memories, fast.

Growing a graph through `memory_import` costs the whole ingest pipeline (record, extract, embed,
write: 100k memories took 254 s), which is what the import bench measures, not what a search bench
needs. This loader writes the nodes the import writes, through the same writers, and skips the
rest:

- turns of the seeded corpus (`tests/bench/corpus.py`: varied clients, securities, dates), with the
  properties of `memory.nodes.memory_properties`, scope tokens from `memory.scope`, the session and
  `HAS_TURN`/`NEXT` links, exactly as `memory.services.ingest` builds them;
- one fact per planted statement (the corpus's gold `Plant`s stand in for the rule extractor, which
  runs at about 900 turns/s and would make a 1M load take 20 minutes), `DERIVED_FROM` its turn (the
  provenance link) and `ABOUT` the client, in the production slot (`SLOTS`); turns `MENTIONS` the
  securities they name (found as the rule extractor finds them);
- for the firm-research shape, firm-shared research notes (`observation`, kind `research`, `ABOUT`
  the security) and analyst viewpoints (`Fact:Viewpoint` in the slot `viewpoint:SYMBOL`, as
  `add_viewpoint` writes them), visible to every client of the firm.

Every distinct text is embedded once, by the real embedder (`memory.embeddings.embed_texts`), in
batches; rows are written by `memory.graph.episodes.write_batch` (UNWIND per statement), one managed
transaction per chunk. Fact supersession is not run: every fact stays current (the search bench
measures candidate generation, which reads current and superseded alike).

Shapes (`--shape`): `clients` (about 915 memories per client, as many clients as the size needs:
~1,100 for 1M), `big-client` (one client holding all of it), `firm-research` (up to `RESEARCH_CLIENTS`
ordinary clients holding at most a tenth, everything else firm research).
"""
from __future__ import annotations

import functools
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

from memory.embeddings import embed_texts
from memory.extraction.securities import find_securities
from memory.graph import driver, episodes
from memory.ids import stable_id
from memory.nodes import memory_properties
from memory.scope import client_scope
from tests.bench.corpus import SECURITIES, _ClientBuilder

SHAPES = ("clients", "big-client", "firm-research")
SESSIONS, TURNS = 30, 30  # per corpus client: 900 turns and their facts
RESEARCH_CLIENTS = 20  # ordinary clients of the firm-research shape (fewer below 200k memories)
BIG_CLIENT = "big-client"
CHUNK_MEMORIES = 20_000  # per write transaction
# Corpus slots as the production extractor names them (memory.services.retrieval.SLOT_HINTS).
SLOTS = {"risk": "risk_tolerance", "horizon": "time_horizon", "retirement": "goal:retirement", "house": "goal:house",
         "college": "goal:education", "exclusion": "exclusion", "preference": "preference", "concern": "concern",
         "employer": "employer", "baby": "life_event", "inheritance": "life_event", "buy": "holding", "sell": "holding"}
ANALYSTS = ["Ana Lyst", "Ravi Menon", "Claire Dubois", "Tom Becker", "Mei Lin", "Jonas Berg"]
STANCES = ["buy", "hold", "sell"]
# Research note sentences; {company}, {ticker}, numbers and dates vary per note.
RESEARCH = [
    "{company} ({ticker}) margins expanded {pct}% year on year; we raise our estimate to {price}.",
    "Channel checks on {company} point to softer demand in {region}; inventories are up {pct}%.",
    "{company} guided revenue growth of {pct}% for {year}, above consensus; free cash flow covers the dividend.",
    "We see regulatory risk for {company} in {region} after the {month} hearing; downside to {price}.",
    "{company}'s buyback of {amount} billion supports the shares; valuation at {pe} times earnings is fair.",
    "Supply chain costs for {company} eased in {month}; gross margin should recover toward {pct}%.",
    "{company} ({ticker}) remains a core holding for income portfolios; yield {yield_}% and rising.",
    "Sector note: {sector} names re-rated in {month}; {company} trades at a {pct}% discount to peers.",
    "Management at {company} changed the {year} outlook; we cut the target to {price} on weaker {region} sales.",
    "Earnings preview: {company} reports on {date}; options imply a {pct}% move.",
    "ESG review: {company} improved its emissions disclosure in {year}; no exclusion triggers for client mandates.",
    "Rates sensitivity: a 1% rise in yields cuts {company}'s fair value by about {pct}% in our model.",
]
REGIONS = ["Europe", "China", "North America", "Latin America", "Japan", "the UK", "India"]
SECTORS = ["technology", "healthcare", "consumer staples", "energy", "financials", "communication services"]


@dataclass
class LoadReport:
    shape: str
    memories: int = 0
    clients: int = 0
    distinct_texts: int = 0
    embed_seconds: float = 0.0
    write_seconds: float = 0.0
    seconds: float = 0.0
    questions: list[dict] = field(default_factory=list)  # the loaded clients' gold questions (client_id remapped)


class _Embedder:
    """The real embedder, each distinct text embedded once (corpus filler repeats across clients)."""

    def __init__(self) -> None:
        self._known: dict[str, np.ndarray] = {}

    def fill(self, rows: list[dict]) -> None:
        missing = list(dict.fromkeys(row["text"] for row in rows if row["text"] not in self._known))
        for start in range(0, len(missing), 4096):
            part = missing[start:start + 4096]
            for text, vector in zip(part, embed_texts(part), strict=True):
                self._known[text] = np.asarray(vector, dtype=np.float32)
        for row in rows:
            row["props"]["embedding"] = self._known[row.pop("text")].astype(float).tolist()

    @property
    def distinct(self) -> int:
        return len(self._known)


class _Chunk:
    """One write transaction's rows, built the way `memory.services.ingest._BatchBuilder` builds them."""

    def __init__(self, firm_id: str) -> None:
        self.firm_id = firm_id
        self.batch = episodes.GraphBatch()
        self.texts: list[dict] = []  # {text, props}: the embedding goes into props
        self.memories = 0
        self._clients: set[str] = set()

    def _memory(self, label: str, node: str, props: dict) -> None:
        self.texts.append({"text": props["text"], "props": props})
        self.batch.add_memory(label, node, props)
        self.memories += 1

    def _turn(self, session_node: str, node: str, props: dict) -> None:
        self.texts.append({"text": props["text"], "props": props})
        self.batch.add_turn(session_node, node, props)
        self.memories += 1

    def add_client_sessions(self, builder: _ClientBuilder, client_id: str, name: str, created_at: datetime) -> None:
        scope = client_scope(self.firm_id, client_id)
        if scope not in self._clients:
            self._clients.add(scope)
            self.batch.clients.append({"id": scope, "props": {
                "kind": "client", "key": client_id, "firm_id": self.firm_id, "client_id": client_id,
                "scope": scope, "name": name}})
        turn_nodes: dict[tuple[int, int], tuple[str, str, datetime]] = {}
        for number, session in enumerate(builder.sessions()):
            session_id = session["session_id"]
            started = datetime.fromisoformat(session["started_at"])
            session_node = stable_id("session", scope, session_id)
            participants = {(name if role == "client" else speaker): role
                            for speaker, role in session["participants"].items()}
            self.batch.add_session(session_node, scope, {
                "session_id": session_id, "firm_id": self.firm_id, "client_id": client_id, "scope": scope,
                "channel": session["channel"], "started_at": started, "participants": list(participants)})
            for position, turn in enumerate(session["turns"]):
                role = session["participants"].get(turn["speaker"], "")
                speaker = name if role == "client" else turn["speaker"]
                at = datetime.fromisoformat(turn["at"]) if turn.get("at") else started
                node = stable_id("turn", scope, session_id, turn["turn_id"])
                text = f"{speaker}: {turn['text']}"
                self._turn(session_node, node, memory_properties(
                    firm_id=self.firm_id, client_id=client_id, level="turn", kind="turn", text=text, importance=0.3,
                    source=f"session:{session_id}", valid_from=at, recorded_at=at, created_at=created_at,
                    session_id=session_id, turn_id=turn["turn_id"], session_key=session_node, position=position,
                    speaker=speaker, role=role))
                for symbol in _securities_named(turn["text"]):
                    self.batch.mentions_security.append({"turn": node, "symbol": symbol})
                    if not any(s["symbol"] == symbol for s in self.batch.securities):
                        self.batch.securities.append({"symbol": symbol, "name": symbol, "sector": None})
                turn_nodes[(number, position)] = (node, session_id, at)
        for plant in builder.plants:
            turn_node, session_id, at = turn_nodes[(plant.session, plant.position)]
            slot = SLOTS.get(plant.slot, plant.slot)
            attribute = slot.split(":")[-1]
            node = stable_id("fact", scope, slot, plant.value, session_id, plant.turn_id)
            self._memory("Fact", node, memory_properties(
                firm_id=self.firm_id, client_id=client_id, level="fact", kind=attribute,
                text=f"{name}: {attribute.replace('_', ' ')} {plant.value} ({plant.span})", importance=0.7,
                source=f"session:{session_id}", valid_from=at, recorded_at=at, created_at=created_at,
                session_id=session_id, attribute=attribute, slot=slot, value=plant.value))
            self.batch.derived_from.append({"memory": node, "turn": turn_node})
            self.batch.about.append({"memory": node, "entity": scope})

    def add_research(self, rng: random.Random, number: int, created_at: datetime) -> None:
        """One firm-shared research note (or, one in 20, an analyst viewpoint) on a corpus security."""
        ticker, names, (low, high) = SECURITIES[rng.randrange(len(SECURITIES))]
        published = datetime(2022, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=rng.randrange(3 * 365 * 24 * 60))
        analyst = rng.choice(ANALYSTS)
        common = {"firm_id": self.firm_id, "client_id": None, "valid_from": published, "recorded_at": published,
                  "created_at": created_at}
        if number % 20 == 0:
            stance, target = rng.choice(STANCES), round(rng.uniform(low, high), 2)
            text = (f"Analyst view on {ticker} by {analyst} ({published:%d %b %Y}): {stance.upper()}, target "
                    f"{target:.2f} within 12 months. " + self._research_sentence(rng, ticker, names, low, high, published))
            node = stable_id("viewpoint", self.firm_id, f"bulk-{number}")
            self._memory("Viewpoint", node, memory_properties(
                level="fact", kind="viewpoint", text=text, importance=0.7, source=f"viewpoint:bulk-{number}",
                attribute="viewpoint", slot=f"viewpoint:{ticker}", value=f"{stance}:{target}", symbol=ticker,
                stance=stance, analyst=analyst, target_price=target, horizon_months=12, **common))
            self.batch.viewpoint_on.append({"memory": node, "symbol": ticker})
        else:
            text = f"Research ({analyst}, {published:%d %b %Y}): " + self._research_sentence(
                rng, ticker, names, low, high, published)
            node = stable_id("research", self.firm_id, f"bulk-{number}")
            self._memory("Observation", node, memory_properties(
                level="observation", kind="research", text=text, importance=0.5, source=f"research:bulk-{number}",
                symbol=ticker, **common))
            self.batch.about_security.append({"memory": node, "symbol": ticker})
        if not any(s["symbol"] == ticker for s in self.batch.securities):
            self.batch.securities.append({"symbol": ticker, "name": names[0], "sector": None})

    @staticmethod
    def _research_sentence(rng: random.Random, ticker: str, names: tuple[str, ...], low: float, high: float,
                           published: datetime) -> str:
        return rng.choice(RESEARCH).format(
            company=rng.choice(names), ticker=ticker, pct=round(rng.uniform(0.5, 25), 1),
            price=f"{rng.uniform(low, high):.2f}", region=rng.choice(REGIONS), year=published.year + rng.choice((0, 1)),
            month=f"{published:%B}", amount=rng.choice((2, 5, 10, 15, 25, 40)), pe=rng.randint(11, 38),
            yield_=round(rng.uniform(0.4, 3.8), 1), sector=rng.choice(SECTORS), date=f"{published + timedelta(days=40):%d %b %Y}")


@functools.lru_cache(maxsize=200_000)
def _securities_named(text: str) -> tuple[str, ...]:
    """The securities a turn names: the import links them with MENTIONS (corpus filler repeats: cached)."""
    return tuple(dict.fromkeys(ref.key for ref, _ in find_securities(text) if ref.kind == "security"))


def _write(chunk: _Chunk, embedder: _Embedder, report: LoadReport) -> None:
    started = time.perf_counter()
    embedder.fill(chunk.texts)
    report.embed_seconds += time.perf_counter() - started
    started = time.perf_counter()
    driver.write(lambda tx: episodes.write_batch(tx, chunk.batch))
    report.write_seconds += time.perf_counter() - started
    report.memories += chunk.memories


def _client_builders(seed: int, first: int) -> Iterator[_ClientBuilder]:
    index = first
    while True:
        builder = _ClientBuilder(random.Random(f"{seed}/{index}"), index, "L", SESSIONS, TURNS)
        builder.build()
        yield builder
        index += 1


def memory_count(firm_id: str) -> int:
    return driver.read(lambda tx: tx.run("MATCH (m:Memory) WHERE m.firm_id = $firm RETURN count(m) AS n",
                                         firm=firm_id).single()["n"])


def research_count(firm_id: str) -> int:
    return driver.read(lambda tx: tx.run("MATCH (m:Memory) WHERE m.firm_id = $firm AND m.client_id IS NULL "
                                         "RETURN count(m) AS n", firm=firm_id).single()["n"])


def load(*, shape: str, firm_id: str, target: int, seed: int = 11, state: dict | None = None) -> LoadReport:
    """Grow the firm's memory to about `target` nodes in the given shape (call again with the same
    `state` dict to grow further: 10k, then 100k, then 1M). Returns what was written this call."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}")
    state = state if state is not None else {}
    state.setdefault("clients", 0)
    state.setdefault("research", 0)
    state.setdefault("memories", memory_count(firm_id))
    state.setdefault("embedder", _Embedder())
    report = LoadReport(shape=shape)
    started = time.perf_counter()
    created_at = datetime.now(timezone.utc)
    builders = _client_builders(seed, state["clients"])
    chunk = _Chunk(firm_id)

    def flush() -> None:
        nonlocal chunk
        if chunk.memories:
            _write(chunk, state["embedder"], report)
            state["memories"] += chunk.memories
        chunk = _Chunk(firm_id)

    def remaining() -> int:
        return target - state["memories"] - chunk.memories

    if shape == "firm-research":
        # A few ordinary clients (at most a tenth of the memory, at least one), firm research for the rest.
        while state["clients"] < min(RESEARCH_CLIENTS, max(1, target // 10 // 915)):
            _add_client(chunk, next(builders), state, report, created_at, one_client=False)
        rng = random.Random(f"{seed}/research/{state['research']}")
        while remaining() > 0:
            chunk.add_research(rng, state["research"], created_at)
            state["research"] += 1
            if chunk.memories >= CHUNK_MEMORIES:
                flush()
    else:
        while remaining() > 0:
            _add_client(chunk, next(builders), state, report, created_at, one_client=shape == "big-client")
            if chunk.memories >= CHUNK_MEMORIES:
                flush()
    flush()
    report.clients = 1 if shape == "big-client" else state["clients"]
    report.distinct_texts = state["embedder"].distinct
    report.seconds = time.perf_counter() - started
    return report


def _add_client(chunk: _Chunk, builder: _ClientBuilder, state: dict, report: LoadReport, created_at: datetime, *,
                one_client: bool) -> None:
    """A corpus client's sessions, as its own client or (big-client) as more history of the one client."""
    client_id, name = (BIG_CLIENT, "Ann Carter") if one_client else (builder.client_id, builder.name)
    chunk.add_client_sessions(builder, client_id, name, created_at)
    state["clients"] += 1
    for question in builder.questions:
        query = question["query"].replace(builder.name, name) if one_client else question["query"]
        report.questions.append({**question, "client_id": client_id, "query": query})
