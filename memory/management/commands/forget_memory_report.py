from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from memory.graph.driver import GraphUnavailable
from memory.services.forgetting import forget


class Command(BaseCommand):
    help = ("Show what forgetting would do (decayed and redundant memories, and what citations keep); "
            "with --apply, forget them. Forgetting marks a status with a reason; it never deletes.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--firm", help="only this firm's clients (its slug)")
        parser.add_argument("--at", help="judge decay as of this ISO 8601 date-time (default: now)")
        parser.add_argument("--apply", action="store_true", help="forget them (default: dry run)")
        parser.add_argument("--limit", type=int, default=20, help="items listed per reason")

    def handle(self, *args, firm: str | None, at: str | None, apply: bool, limit: int, **options) -> None:
        moment = None
        if at:
            moment = parse_datetime(at)
            if moment is None or moment.tzinfo is None:
                raise CommandError(f"--at {at!r} is not an ISO 8601 date-time with a time zone, e.g. 2027-01-01T00:00:00Z")
        try:
            report = forget(firm_id=firm, at=moment, dry_run=not apply)
        except GraphUnavailable as error:
            raise CommandError(str(error)) from error
        verb = "forgot" if apply else "would forget"
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(report.by_reason.items())) or "nothing"
        self.stdout.write(f"{verb} {len(report.items) if not apply else report.forgotten} of {report.considered} "
                          f"memories as of {report.at:%Y-%m-%d %H:%M} UTC: {reasons}")
        for why, n in sorted(report.protected.items()):
            self.stdout.write(f"  kept {n}: {why}")
        for reason in sorted(report.by_reason):
            self.stdout.write(f"{reason}:")
            for item in [i for i in report.items if i.reason == reason][:limit]:
                self.stdout.write(f"  {item.id} [{item.kind}, retention {item.retention:.3f}] {item.text[:100]}")
