"""Search at firm scale: p50/p95 and Neo4j CPU per search, and memory (RSS), by shape and size.

    NEO4J_URI=bolt://127.0.0.1:7743 NEO4J_LOCAL_NAME=neo4j-scale \\
      python -m tests.bench.scale_bench --shape clients --sizes 10000,100000,1000000

Grows one firm's graph with the bulk loader (`tests/bench/bulk_load.py`) to each size in turn, then
asks sampled gold questions of the loaded clients through `memory.api.search` (k=10), in hybrid and
vector mode (and, with `--as-of DAY`, hybrid as of that day), once per vector path (`index`: the vector index filtered by scope; `scan`: the exact
cosine scan of the reader's scopes), alternating which path goes first. It empties the graph first
(`--keep` grows what is there), so it refuses any Neo4j but a local bench instance on a port other
than the ones `make up`/`make test` use unless forced.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from tests.bench.cpu import neo4j_pid

FIRM = "bench-scale"
ROOT = Path(__file__).resolve().parents[2]


def clients_missing(questions: list[dict], firm_id: str = FIRM) -> list[str]:
    """The clients of saved questions that the graph does not hold. `--keep` on a graph another load filled would
    otherwise take them as loaded, load only the rest (research, for that shape) and ask questions of nobody."""
    from memory.graph import driver
    from memory.scope import client_scope

    scopes = {client_scope(firm_id, question["client_id"]): question["client_id"] for question in questions}
    held = set(driver.read(lambda tx: tx.run("UNWIND $ids AS id MATCH (c:Client {id: id}) RETURN collect(c.id) AS held",
                                             ids=sorted(scopes)).single()["held"]))
    return sorted(client for scope, client in scopes.items() if scope not in held)


def rss_mb(pid: int | None) -> float | None:
    """Resident set size of a process and its children (gunicorn's and celery's workers), in MB."""
    if pid is None:
        return None
    import psutil

    try:
        process = psutil.Process(pid)
        return round(sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20)
    except psutil.Error:
        return None


def measure(questions: list[dict], *, queries: int, seed: int, paths: tuple[str, ...],
            as_of: datetime | None = None) -> list[dict]:
    from unittest import mock

    from memory import api
    from tests.bench.cpu import Meter

    rng = random.Random(seed)
    sample = [rng.choice(questions) for _ in range(queries)]
    timings: dict[tuple[str, str], list[float]] = defaultdict(list)
    neo4j_cpu: dict[tuple[str, str], float] = defaultdict(float)
    jit: dict[tuple[str, str], float] = defaultdict(float)  # of neo4j_cpu: its JVM compiling hot code
    for number, question in enumerate(sample[:20] + sample):  # the first 20: warm-up (page cache, plans)
        for mode in ("hybrid", "vector") + (("hybrid-as-of",) if as_of else ()):
            for path in (paths if number % 2 else paths[::-1]):
                with mock.patch("memory.graph.search.filtered_vector_search", return_value=path == "index"):
                    with Meter() as meter:
                        api.search(firm_id=FIRM, client_id=question["client_id"], query=question["query"], k=10,
                                   mode=mode.removesuffix("-as-of"), as_of=as_of if mode.endswith("as-of") else None)
                if number >= 20:
                    timings[(mode, path)].append(meter.wall * 1000)
                    neo4j_cpu[(mode, path)] += meter.neo4j or 0.0
                    jit[(mode, path)] += meter.jit or 0.0
    rows = []
    for (mode, path), found in sorted(timings.items()):
        found.sort()
        rows.append({"mode": mode, "vector_path": path, "p50_ms": round(statistics.median(found), 1),
                     "p95_ms": round(found[int(len(found) * 0.95) - 1], 1),
                     "neo4j_cpu_ms_per_search": round(neo4j_cpu[(mode, path)] * 1000 / len(found), 1),
                     "of_which_jit_ms": round(jit[(mode, path)] * 1000 / len(found), 1)})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=("clients", "big-client", "firm-research"), default="clients")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="memory node counts, grown in turn")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--paths", default="index,scan", help="vector paths to time (index, scan)")
    parser.add_argument("--keep", action="store_true", help="do not empty the graph first")
    parser.add_argument("--out", default="var/scale-bench.jsonl", help="one JSON line per size is appended here")
    parser.add_argument("--i-understand-this-empties-the-graph", dest="force", action="store_true")
    parser.add_argument("--as-of", type=datetime.fromisoformat, metavar="YYYY-MM-DD",
                        help="also time hybrid searches as of this day (UTC): a point-in-time read")
    parser.add_argument("--seed", type=int, help="which questions are sampled (default: the size); a run after a "
                        "warm-up with other questions measures a warm server, not a cached answer")
    parser.add_argument("--profile", metavar="QUESTION", help="PROFILE each statement of one search and exit")
    parser.add_argument("--client", help="the reader's client for --profile (none: firm-shared memory only)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    if args.profile:
        for row in profile(client_id=args.client, query=args.profile):
            print(json.dumps(row))
        return
    from django.conf import settings

    from memory import api  # noqa: F401  (imported before the long load: the code measured is the code started)
    from memory.graph import driver, schema
    from tests.bench import bulk_load
    from tests.conftest import empty_graph

    if not args.force and settings.NEO4J_URI.rsplit(":", 1)[-1] in ("7687", "7688"):
        sys.exit(f"refusing to load into {settings.NEO4J_URI}: use a bench Neo4j, or pass the flag")
    if not args.keep:
        empty_graph()
    schema.migrate()
    import psutil

    # The loaded clients' questions, kept next to the graph so `--keep` can measure it again.
    saved = ROOT / "var" / f"scale-questions-{args.shape}.jsonl"
    state: dict = {}
    questions: list[dict] = []
    if args.keep and saved.exists():
        questions = [json.loads(line) for line in saved.read_text().splitlines()]
        if missing := clients_missing(questions):
            sys.exit(f"--keep: {len(missing)} of the clients of {saved.relative_to(ROOT)} ({', '.join(missing[:3])}) "
                     "are not in this graph, which another load filled: run without --keep")
        state["clients"] = len({q["qid"].rsplit("-q", 1)[0] for q in questions})
        state["research"] = bulk_load.research_count(FIRM)
    elif saved.exists():
        saved.unlink()
    for size in (int(s) for s in args.sizes.split(",")):
        loaded = bulk_load.load(shape=args.shape, firm_id=FIRM, target=size, state=state)
        questions.extend(loaded.questions)
        with saved.open("a") as out:
            out.writelines(json.dumps(q) + "\n" for q in loaded.questions)
        driver.read(lambda tx: tx.run("CALL db.awaitIndexes(3600)").consume())
        as_of = args.as_of.replace(tzinfo=UTC) if args.as_of else None
        seed = size if args.seed is None else args.seed
        rows = measure(questions, queries=args.queries, seed=seed, paths=tuple(args.paths.split(",")), as_of=as_of)
        result = {
            "shape": args.shape, "memories": state["memories"], "clients": loaded.clients,
            "load": {"seconds": round(loaded.seconds), "embed_seconds": round(loaded.embed_seconds),
                     "write_seconds": round(loaded.write_seconds), "distinct_texts": loaded.distinct_texts,
                     "memories": loaded.memories},
            "rss_mb": {"neo4j": rss_mb(neo4j_pid()), "search_process": rss_mb(os.getpid())},
            "load_average": [round(x, 2) for x in psutil.getloadavg()],
            "search": rows,
        }
        print(json.dumps(result), flush=True)
        with open(ROOT / args.out, "a") as out:
            out.write(json.dumps(result) + "\n")



def profile(*, client_id: str | None, query: str, mode: str = "hybrid") -> list[dict]:
    """Each statement one search runs, re-run under PROFILE: rows, db hits and the server's time.

    `python -m tests.bench.scale_bench --profile "What is my risk tolerance?" --client L00000`
    """
    from unittest import mock

    from memory import api
    from memory.graph import driver

    statements: list[tuple[str, dict]] = []
    real_run = driver._run

    def capture(kind, work, **params):
        if kind != "read":  # noting access: not part of the answer, and PROFILE would write again
            return real_run(kind, work, **params)

        def wrapped(tx, **kw):
            class Recording:
                def run(self, query, parameters=None, **more):
                    statements.append((query, {**(parameters or {}), **more}))
                    return tx.run(query, parameters, **more)
            return work(Recording(), **kw)
        return real_run(kind, wrapped, **params)

    with mock.patch.object(driver, "_run", capture):
        api.search(firm_id=FIRM, client_id=client_id, query=query, k=10, mode=mode)
    found = []
    for statement, params in statements:
        text = statement.strip()
        profiled = ("CYPHER 25 PROFILE " + text[len("CYPHER 25"):]) if text.startswith("CYPHER 25") else "PROFILE " + text
        summary = driver.read(lambda tx, q=profiled, p=params: tx.run(q, p).consume())
        plan = summary.profile or {}

        def hits(node: dict) -> int:
            return int(node.get("dbHits", 0)) + sum(hits(child) for child in node.get("children", []))

        found.append({"statement": " ".join(text.split())[:110], "rows": plan.get("rows"), "db_hits": hits(plan),
                      "server_ms": summary.result_available_after + summary.result_consumed_after})
    return found


if __name__ == "__main__":
    main()
