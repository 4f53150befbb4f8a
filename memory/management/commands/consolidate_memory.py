from django.core.management.base import BaseCommand, CommandError

from memory.graph.driver import GraphUnavailable
from memory.services.consolidation import consolidate


class Command(BaseCommand):
    help = ("Consolidate clients' memory into session, topic and period summaries and a versioned profile: "
            "the clients whose memory changed since they were last consolidated, or every client with --full. "
            "Idempotent: a second run changes nothing.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--firm", help="only this firm's clients (its slug); all firms when omitted")
        parser.add_argument("--full", action="store_true",
                            help="read every client, changed or not (after the graph was changed by hand)")

    def handle(self, *args, firm: str | None, full: bool, **options) -> None:
        try:
            report = consolidate(firm_id=firm, full=full)
        except GraphUnavailable as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"consolidated {report.clients} clients ({report.sessions} sessions) in {report.seconds:.1f} s, "
            f"skipped {report.skipped} unchanged: "
            f"{report.written} summaries or profile versions written, {report.unchanged} unchanged, "
            f"{report.profile_versions} profile versions in all")
