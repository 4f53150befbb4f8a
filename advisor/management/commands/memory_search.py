import json
from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from advisor.models import Client
from advisor.permissions import is_restricted
from memory import api
from memory.graph.driver import GraphUnavailable
from memory.services.retrieval import InvalidQuery


class Command(BaseCommand):
    help = "Search one client's memory (or a batch of queries from a JSON Lines file) and print JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--client", help="client id (as imported)")
        parser.add_argument("--query", help="what to look for")
        parser.add_argument("--queries", type=Path, help='JSON Lines of {"qid", "client_id", "query"}')
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--as-of", dest="as_of", help="ISO 8601: what had been said and was believed true then")
        parser.add_argument("--known-at", dest="known_at",
                            help="ISO 8601: what the twin itself knew then (sessions it took in later, and "
                                 "forgetting after it, are told apart)")
        parser.add_argument("--firm", help="firm slug, when the same client id exists in several firms")
        parser.add_argument("--mode", default="hybrid", choices=["hybrid", "fulltext", "vector"])
        # Part of the public contract (`... --json`), which outside tools pass; JSON is the only output.
        parser.add_argument("--json", action="store_true", help="accepted for the public contract; output is always JSON")

    def handle(self, *args, **options) -> None:
        self._firms: dict[str, str] = {}  # client id -> firm slug, looked up once per run
        as_of = _as_of(options["as_of"]) if options["as_of"] is not None else None
        known_at = _as_of(options["known_at"], "--known-at") if options["known_at"] is not None else None

        def run(client_id: str, query: str) -> list[dict]:
            firm_id = self._firm_for(client_id, options["firm"])
            if is_restricted(firm_id=firm_id, client_id=client_id):  # an erasure request: nothing to find
                return []
            return [r.to_contract() for r in api.search(firm_id=firm_id, client_id=client_id, query=query,
                                                        k=options["k"], as_of=as_of, mode=options["mode"],
                                                        known_at=known_at)]

        try:
            if options["queries"]:
                self._batch(options["queries"], run)
            elif options["client"] and options["query"] is not None:
                self.stdout.write(json.dumps(run(options["client"], options["query"])))
            else:
                raise CommandError("give --client and --query, or --queries FILE.jsonl")
        except (InvalidQuery, GraphUnavailable) as error:
            raise CommandError(str(error)) from error

    def _batch(self, path: Path, run) -> None:
        if not path.is_file():
            raise CommandError(f"{path} is not a readable file")
        for number, line in enumerate(path.open(encoding="utf-8"), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                qid, client_id, query = item["qid"], item["client_id"], item["query"]
            except (json.JSONDecodeError, KeyError, TypeError):
                self.stderr.write(f'line {number}: expected {{"qid", "client_id", "query"}}')
                continue
            try:
                results = run(client_id, query)
            except (InvalidQuery, CommandError) as error:
                self.stderr.write(f"line {number}: {error}")
                results = []
            self.stdout.write(json.dumps({"qid": qid, "results": results}))

    def _firm_for(self, client_id: str, firm: str | None) -> str:
        if firm:
            return firm
        firms = self._firms
        if client_id not in firms:
            slugs = list(Client.objects.filter(external_id=client_id).values_list("firm__slug", flat=True)[:2])
            if not slugs:
                raise CommandError(f"no client {client_id!r}")
            if len(slugs) > 1:
                raise CommandError(f"client {client_id!r} exists in several firms; pass --firm")
            firms[client_id] = slugs[0]
        return firms[client_id]


def _as_of(text: str, option: str = "--as-of") -> datetime:
    expected = "an ISO 8601 date-time with a time zone, e.g. 2024-03-01T00:00:00Z"
    try:
        moment = parse_datetime(text)
    except ValueError as error:  # well formed, but no such moment (e.g. 30 February)
        raise CommandError(f"{option} {text!r} is not a real date-time ({error}); give {expected}") from error
    if moment is None or moment.tzinfo is None:
        raise CommandError(f"{option} {text!r} is not {expected}")
    return moment
