"""Same answers from two versions of memory/graph/search.py: every seeded question, every mode.

    NEO4J_URI=... DATABASE_URL=... python -m tests.bench.search_equivalence --baseline 12198ca

Imports the recall bench's corpus (seed 7, 20 clients x 12 sessions x 30 turns) into an empty graph,
consolidates it (so summaries and the coarse level take part), then asks every gold question in
hybrid, vector and full-text mode, with both vector paths, through `memory.api.search` once with the
working tree's candidate queries and once with those of the baseline commit, and reports the
questions whose ranked results differ and both recalls@10. Identical results mean identical recall.
It empties the graph and the relational database it runs against: never point it at live data.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="the commit whose memory/graph/search.py is compared")
    parser.add_argument("--keep", action="store_true", help="ask the graph as it is (already imported)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from advisor.services.importer import import_sessions
    from memory import api
    from memory.services import consolidation, retrieval
    from tests.bench.corpus import generate
    from tests.conftest import empty_graph

    source = subprocess.run(["git", "show", f"{args.baseline}:memory/graph/search.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = ROOT / "var" / "search_baseline.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("search_baseline", path)
    baseline = importlib.util.module_from_spec(spec)
    sys.modules["search_baseline"] = baseline
    spec.loader.exec_module(baseline)

    firm = "bench-equivalence"
    corpus = generate(seed=7, clients=20, sessions_per_client=12, turns_per_session=30)
    if not args.keep:
        call_command("migrate", "--noinput", verbosity=0)
        empty_graph()
        call_command("flush", "--noinput", verbosity=0)
        report = import_sessions((json.dumps(s) for s in corpus.sessions), firm)
        assert not report.errors, report.errors[:3]
        consolidation.consolidate(firm_id=firm)
    differ, hits = [], {"current": 0, "baseline": 0}
    asked = 0
    for question in corpus.questions:
        for mode in ("hybrid", "vector", "fulltext"):
            for index in ((True, False) if mode != "fulltext" else (True,)):
                answers = {}
                for version, module in (("current", retrieval.graph_search), ("baseline", baseline)):
                    with mock.patch.object(retrieval, "graph_search", module), \
                            mock.patch.object(module, "filtered_vector_search", return_value=index), \
                            mock.patch.object(retrieval, "_note_access"):
                        results = api.search(firm_id=firm, client_id=question["client_id"], query=question["query"],
                                             k=10, mode=mode)
                    answers[version] = [(r.id, r.score) for r in results]
                    if mode == "hybrid" and index:
                        hits[version] += any(set(question["evidence"]) & set(r.sources) for r in results)
                asked += 1
                if answers["current"] != answers["baseline"]:
                    differ.append({"qid": question["qid"], "mode": mode, "index": index, **answers})
    total = len(corpus.questions)
    print(json.dumps({"searches_compared": asked, "differing": len(differ),
                      "hybrid_recall@10": {v: round(n / total, 3) for v, n in hits.items()},
                      "first_differences": differ[:5]}, indent=1))
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
