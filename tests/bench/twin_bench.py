"""Twin latency: `ask` and `brief` end to end with the deterministic composer, on one client whose
memory holds about 5,000 nodes. Run through `make bench BENCH_ARGS=--twin` (a dedicated Neo4j).

Each timed call does everything a real one does: reads the profile, holdings, quotes, remembered
prices, viewpoints and price history, retrieves memory (ask), applies the rules, composes, stores
the Advice row and writes the advice into memory. The memory search alone is timed on the same
questions, so the twin's own share of an answer's latency can be read off.
"""
from __future__ import annotations

import json
import random
import statistics
import time
from datetime import datetime, timezone
from decimal import Decimal

from advisor.services.importer import import_sessions
from memory import api
from memory.graph import driver as graph_driver
from memory.scope import client_scope
from tests.bench.corpus import generate

FIRM = "bench-twin"
HOLDINGS = {"AAPL": 50, "MSFT": 40, "IBM": 30, "GOOG": 10, "KO": 100}
QUOTES = {"AAPL": 210.0, "MSFT": 410.0, "IBM": 180.0, "GOOG": 170.0, "KO": 62.0}
SESSIONS_PER_1000_NODES = 32  # the corpus yields about 31 memory nodes per 30-turn session


class InstantQuotes:
    name = "bench"

    def latest_quotes(self, symbols: list[str]):
        from marketdata.providers.base import Quote, QuoteBatch

        now = datetime.now(timezone.utc)
        return QuoteBatch(quotes={s: Quote(s, QUOTES[s], "USD", now, self.name, now.date()) for s in symbols if s in QUOTES})


def client_memory_count(client_id: str) -> int:
    scope = client_scope(FIRM, client_id)
    return graph_driver.read(lambda tx: tx.run("MATCH (m:Memory {scope: $scope}) RETURN count(m) AS n",
                                               scope=scope).single()["n"])


def percentile(timings: list[float], share: float) -> float:
    ordered = sorted(timings)
    return round(ordered[max(0, int(len(ordered) * share) - 1)], 1)


def seed_client(memories: int, seed: int = 23):
    """One client grown through the import path to about `memories` memory nodes, with holdings, quotes
    and two viewpoints (one reversing the other)."""
    from advisor.models import Client, Holding, User
    from advisor.services.viewpoints import publish_viewpoint
    from advisor.services.quotes import refresh_client_quotes
    from memory.services.ingest import drain_outbox

    sessions = max(1, memories * SESSIONS_PER_1000_NODES // 1000)
    corpus = generate(seed=seed, clients=1, sessions_per_client=sessions, turns_per_session=30, id_prefix="T")
    started = time.perf_counter()
    report = import_sessions((json.dumps(s) for s in corpus.sessions), FIRM)
    load_seconds = time.perf_counter() - started
    assert not report.errors, report.errors[:3]
    client = Client.objects.get(firm__slug=FIRM, external_id=corpus.sessions[0]["client_id"])
    for symbol, quantity in HOLDINGS.items():
        Holding.objects.update_or_create(client=client, symbol=symbol, defaults={"quantity": Decimal(quantity)})
    refresh_client_quotes(InstantQuotes())
    analyst, _ = User.objects.get_or_create(username="bench-analyst", defaults={"role": User.Role.ANALYST,
                                                                                 "firm": client.firm})
    publish_viewpoint(analyst=analyst, symbol="AAPL", stance="buy", rationale="Growth.", target_price=Decimal(240))
    publish_viewpoint(analyst=analyst, symbol="AAPL", stance="hold", rationale="Fully valued.", target_price=Decimal(215))
    drain_outbox()
    return client, corpus, load_seconds


def latency_run(memories: int = 5000, calls: int = 100, warm_up: int = 10, seed: int = 23) -> dict:
    from twin.services.advice import ask, brief

    client, corpus, load_seconds = seed_client(memories, seed)
    nodes = client_memory_count(client.external_id)
    questions = [q["query"] for q in corpus.questions] or ["What did we discuss last time?"]
    rng = random.Random(seed)
    for _ in range(warm_up):  # page cache, query plans, price history backfilled once
        ask(client=client, question=rng.choice(questions), channel="cli")
        brief(client=client, channel="cli")
    timings: dict[str, list[float]] = {"ask": [], "brief": [], "memory search alone (k=5)": []}
    for _ in range(calls):
        question = rng.choice(questions)
        started = time.perf_counter()
        api.search(firm_id=FIRM, client_id=client.external_id, query=question, k=5)
        timings["memory search alone (k=5)"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        ask(client=client, question=question, channel="cli")
        timings["ask"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        brief(client=client, channel="cli")
        timings["brief"].append((time.perf_counter() - started) * 1000)
    rows = [{"call": name, "client_memory_nodes": nodes, "calls": len(values),
             "p50_ms": percentile(values, 0.5), "p95_ms": percentile(values, 0.95),
             "mean_ms": round(statistics.mean(values), 1)}
            for name, values in timings.items()]
    return {"rows": rows, "load_seconds": round(load_seconds, 1)}
