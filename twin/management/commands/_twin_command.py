"""What `twin_ask` and `twin_brief` share: finding the client, reading --as-of, printing the contract."""
from __future__ import annotations

import json
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from advisor.models import Client
from advisor.permissions import MemoryAccessDenied
from memory.graph.driver import GraphUnavailable
from memory.services.retrieval import InvalidQuery
from twin.services.advice import AdviceResult, InvalidAdviceRequest


class TwinCommand(BaseCommand):
    def add_arguments(self, parser) -> None:
        parser.add_argument("--client", required=True, help="client id (as imported)")
        parser.add_argument("--firm", help="firm slug, when the same client id exists in several firms")
        parser.add_argument("--as-of", dest="as_of", help="ISO 8601: advise from what the twin knew at that moment")
        parser.add_argument("--json", action="store_true", help="JSON output (the default and only format)")

    def advise(self, client: Client, as_of: datetime | None, options: dict) -> AdviceResult:
        raise NotImplementedError

    def handle(self, *args, **options) -> None:
        client = client_named(options["client"], options["firm"])
        as_of = parse_as_of(options["as_of"]) if options["as_of"] is not None else None
        try:
            result = self.advise(client, as_of, options)
        except (InvalidAdviceRequest, InvalidQuery, GraphUnavailable, MemoryAccessDenied) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(json.dumps(result.to_contract()))


def client_named(external_id: str, firm: str | None) -> Client:
    clients = Client.objects.filter(external_id=external_id).select_related("firm")
    if firm:
        clients = clients.filter(firm__slug=firm)
    found = list(clients[:2])
    if not found:
        raise CommandError(f"no client {external_id!r}" + (f" in firm {firm!r}" if firm else ""))
    if len(found) > 1:
        raise CommandError(f"client {external_id!r} exists in several firms; pass --firm")
    return found[0]


def parse_as_of(text: str) -> datetime:
    expected = "an ISO 8601 date-time with a time zone, e.g. 2026-03-01T12:00:00Z"
    try:
        value = parse_datetime(text)
    except ValueError as error:  # well formed, but no such moment (30 February)
        raise CommandError(f"--as-of {text!r} is not a real date-time ({error}); give {expected}") from error
    if value is None or value.tzinfo is None:
        raise CommandError(f"--as-of {text!r} is not {expected}")
    return value
