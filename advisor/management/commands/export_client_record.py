from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from advisor.models import Client
from advisor.services.export import FORMATS, ExportRejected, export_client_record, render
from memory.graph.driver import GraphUnavailable


def _instant(value: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"{option} {value!r} is not an ISO 8601 time, e.g. 2024-01-01T00:00:00Z") from None
    if moment.tzinfo is None:
        raise CommandError(f"{option} {value!r} needs a time zone, e.g. 2024-01-01T00:00:00Z")
    return moment


class Command(BaseCommand):
    help = ("Export one client's full record for a date range (sessions with every version, turns, memory with its "
            "versions, advice with its basis, audit entries) as JSON, or as a zip of CSV files. The export is audited.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--firm", required=True, help="firm slug")
        parser.add_argument("--client", required=True, help="client id")
        parser.add_argument("--since", required=True, help="ISO 8601 with time zone")
        parser.add_argument("--until", required=True, help="ISO 8601 with time zone")
        parser.add_argument("--format", choices=FORMATS, default="json")
        parser.add_argument("--out", required=True, help="file to write (a .zip for csv)")
        parser.add_argument("--actor", default="cli", help="who exports (kept in the audit trail)")

    def handle(self, *args, firm: str, client: str, since: str, until: str, format: str, out: str, actor: str,
               **options) -> None:
        record = Client.objects.filter(firm__slug=firm, external_id=client).select_related("firm").first()
        if record is None:
            raise CommandError(f"no client {client!r} in firm {firm!r}")
        try:
            exported = export_client_record(client=record, since=_instant(since, "--since"),
                                            until=_instant(until, "--until"), actor=actor)
        except (ExportRejected, GraphUnavailable) as error:
            raise CommandError(str(error)) from error
        Path(out).write_bytes(render(exported, format))
        counts = ", ".join(f"{len(rows)} {name}" for name, rows in exported["sections"].items())
        self.stdout.write(f"wrote {out}: {counts}")
