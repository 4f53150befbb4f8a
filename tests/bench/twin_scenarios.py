"""Scenario evaluation of the twin: does it raise what an expert expects, and avoid what it must not?

    python -m tests.bench.twin_scenarios tests/bench/eval/twin_scenarios.json [--json]

Each scenario (a JSON list; format in the module docstring of `load`) is seeded through the real
paths (import contract -> outbox -> Neo4j; quotes through the refresh; viewpoints through the
analyst service), in a firm of its own so scenarios never see each other's memory. Then the twin
briefs (question null) or answers the question. An expected {"kind", "about"} is found when an item
of that kind mentions `about` (in its text, key or a basis symbol, case-insensitive); a forbidden one
is avoided when no such item exists. Reports the share found and the share avoided.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

SCENARIO_KEYS = {"id", "client", "sessions", "holdings", "quotes", "viewpoints", "question", "expected", "forbidden",
                 # Read by people, not by the runner: the twin advises at the moment it runs (its quotes are the
                 # scenario's), so a scenario's own "as_of" is informative only.
                 "description", "as_of"}


class ScenarioError(ValueError):
    """A scenario file that cannot be run as given; the message names the scenario and the field."""


@dataclass
class ScenarioResult:
    id: str
    found: list[dict] = field(default_factory=list)
    missed: list[dict] = field(default_factory=list)
    avoided: list[dict] = field(default_factory=list)
    violated: list[dict] = field(default_factory=list)
    advice_id: str = ""
    items: list[dict] = field(default_factory=list)


class ScenarioQuotes:
    """A provider answering exactly the scenario's quotes; other securities are left untouched."""

    name = "scenario"

    def __init__(self, prices: dict[str, float], as_of: datetime) -> None:
        self.prices, self.as_of = prices, as_of

    def latest_quotes(self, symbols: list[str]):
        from marketdata.providers.base import Quote, QuoteBatch

        return QuoteBatch(quotes={s: Quote(s, float(self.prices[s]), "USD", self.as_of, self.name, self.as_of.date())
                                  for s in symbols if s in self.prices})


def load(path: Path) -> list[dict]:
    """A list of {"id", "client": {"client_id", "name"}, "sessions": [import-contract sessions],
    "holdings": [{"symbol", "quantity"}], "quotes": {"SYM": price}, "viewpoints": [{"symbol", "stance",
    "target_price", "published_at", "rationale"}], "question": str | null, "expected": [{"kind", "about"}],
    "forbidden": [{"kind", "about"}]}."""
    try:
        scenarios = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ScenarioError(f"{path}: {error}") from error
    if not isinstance(scenarios, list):
        raise ScenarioError(f"{path}: expected a JSON list of scenarios")
    for index, scenario in enumerate(scenarios):
        name = scenario.get("id", f"#{index + 1}") if isinstance(scenario, dict) else f"#{index + 1}"
        if not isinstance(scenario, dict) or not {"id", "client", "sessions"} <= set(scenario):
            raise ScenarioError(f"scenario {name}: needs at least id, client and sessions")
        unknown = set(scenario) - SCENARIO_KEYS
        if unknown:
            raise ScenarioError(f"scenario {name}: unknown fields {sorted(unknown)}")
        for key in ("expected", "forbidden"):
            for entry in scenario.get(key) or []:
                if not isinstance(entry, dict) or not isinstance(entry.get("kind"), str) or not isinstance(entry.get("about"), str):
                    raise ScenarioError(f"scenario {name}: every {key} entry needs a string kind and about")
    return scenarios


def mentions(item: dict, about: str) -> bool:
    needle = about.lower()
    symbols = " ".join(str(b.get("symbol", "")) for b in item.get("basis", []))
    return needle in f"{item['text']} {item.get('key', '')} {symbols}".lower()


def score(items: list[dict], expected: list[dict], forbidden: list[dict]) -> dict[str, list[dict]]:
    hit = lambda want: any(i["kind"] == want["kind"] and mentions(i, want["about"]) for i in items)  # noqa: E731
    return {"found": [e for e in expected if hit(e)], "missed": [e for e in expected if not hit(e)],
            "avoided": [f for f in forbidden if not hit(f)], "violated": [f for f in forbidden if hit(f)]}


def run_scenario(scenario: dict, index: int) -> ScenarioResult:
    from advisor.models import Firm, Holding, User, Viewpoint
    from advisor.services.viewpoints import publish_viewpoint
    from advisor.services.quotes import refresh_client_quotes
    from advisor.services.importer import import_sessions
    from memory.services.ingest import drain_outbox
    from twin.services.advice import ask, brief

    slug = "twin-eval-" + re.sub(r"[^a-z0-9-]+", "-", str(scenario["id"]).lower()).strip("-")[:40] + f"-{index}"
    client_info = scenario["client"]
    for session in scenario["sessions"]:
        session.setdefault("client_id", client_info["client_id"])
    report = import_sessions([json.dumps(s) for s in scenario["sessions"]], slug)
    if report.errors:
        raise ScenarioError(f"scenario {scenario['id']}: sessions rejected: {report.errors[:3]}")
    firm = Firm.objects.get(slug=slug)
    client = firm.clients.get(external_id=client_info["client_id"])
    if client_info.get("name"):
        client.name = client_info["name"]
        client.save(update_fields=["name"])
    for holding in scenario.get("holdings") or []:
        Holding.objects.update_or_create(client=client, symbol=holding["symbol"].upper(),
                                         defaults={"quantity": Decimal(str(holding["quantity"]))})
    if scenario.get("quotes"):
        refresh_client_quotes(ScenarioQuotes({s.upper(): p for s, p in scenario["quotes"].items()},
                                                 datetime.now(timezone.utc) - timedelta(seconds=1)))
    if scenario.get("viewpoints"):
        analyst, _ = User.objects.get_or_create(username=f"{slug}-analyst"[:150],
                                                defaults={"role": User.Role.ANALYST, "firm": firm})
        for view in scenario["viewpoints"]:
            target = view.get("target_price")
            published = publish_viewpoint(analyst=analyst, symbol=view["symbol"], stance=view["stance"],
                                          rationale=view.get("rationale") or "No rationale given.",
                                          target_price=Decimal(str(target)) if target is not None else None)
            if view.get("published_at"):
                when = datetime.fromisoformat(view["published_at"].replace("Z", "+00:00"))
                Viewpoint.objects.filter(pk=published.pk).update(published_at=when)
        drain_outbox()
    question = scenario.get("question")
    result = (ask(client=client, question=question, channel="cli") if question
              else brief(client=client, channel="cli")).to_contract()
    scored = score(result["items"], scenario.get("expected") or [], scenario.get("forbidden") or [])
    return ScenarioResult(id=str(scenario["id"]), advice_id=result["advice_id"], items=result["items"], **scored)


def evaluate(path: Path) -> dict[str, Any]:
    scenarios = load(path)
    results = [run_scenario(scenario, index) for index, scenario in enumerate(scenarios)]
    expected = sum(len(r.found) + len(r.missed) for r in results)
    forbidden = sum(len(r.avoided) + len(r.violated) for r in results)
    return {
        "scenarios": len(results),
        "expected": expected, "found": sum(len(r.found) for r in results),
        "found_share": round(sum(len(r.found) for r in results) / expected, 3) if expected else None,
        "forbidden": forbidden, "avoided": sum(len(r.avoided) for r in results),
        "avoided_share": round(sum(len(r.avoided) for r in results) / forbidden, 3) if forbidden else None,
        "per_scenario": [{"id": r.id, "advice_id": r.advice_id, "missed": r.missed, "violated": r.violated}
                         for r in results],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, nargs="?", default=Path(__file__).parent / "eval" / "twin_scenarios.json")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    try:
        report = evaluate(args.path)
    except ScenarioError as error:
        sys.exit(str(error))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['scenarios']} scenarios: expected items found {report['found']}/{report['expected']} "
          f"({report['found_share']}), forbidden items avoided {report['avoided']}/{report['forbidden']} "
          f"({report['avoided_share']})")
    for row in report["per_scenario"]:
        for miss in row["missed"]:
            print(f"  {row['id']}: missed {miss['kind']} about {miss['about']!r}")
        for bad in row["violated"]:
            print(f"  {row['id']}: raised forbidden {bad['kind']} about {bad['about']!r}")


if __name__ == "__main__":
    main()
