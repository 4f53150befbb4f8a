import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from advisor.services.importer import import_sessions
from memory.graph.driver import GraphUnavailable


# Two drain processes write two graph transactions at once: from as fast as one to 1.7 times one's rate
# on two cores, depending on how busy Neo4j already is (BENCHMARKS.md); more than the cores take turns.
DEFAULT_WORKERS = max(1, min(2, os.cpu_count() or 1))


class Command(BaseCommand):
    help = "Import conversations from a JSON Lines file (one session per line) into memory. Idempotent."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--firm", default="imported", help="firm slug the clients belong to (created if new)")
        parser.add_argument("--defer", action="store_true", help="record only; let the Celery workers write memory")
        parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                            help=f"processes writing memory while and after recording (default {DEFAULT_WORKERS}: "
                                 "one per core, at most 2)")

    def handle(self, *args, file: Path, firm: str, defer: bool, workers: int, **options) -> None:
        if not file.is_file():
            raise CommandError(f"{file} is not a readable file")
        if workers < 1:
            raise CommandError(f"--workers must be at least 1 (got {workers})")
        # surrogateescape: a byte that is not UTF-8 is reported on its line instead of silently replaced.
        with file.open(encoding="utf-8", errors="surrogateescape") as lines:
            try:
                report = import_sessions(lines, firm, drain=not defer, drain_workers=workers)
            except GraphUnavailable as error:
                raise CommandError(
                    f"{error}\nThe sessions are recorded and stay queued; they will reach memory when Neo4j is back."
                ) from error
        for message in report.errors:
            self.stderr.write(message)
        self.stdout.write(
            f"imported {report.sessions} sessions ({report.turns} turns), {report.unchanged} unchanged, "
            f"{len(report.errors)} lines with errors, {report.pending} waiting for memory"
        )
        if report.errors:
            raise CommandError(f"{len(report.errors)} lines could not be imported (see above); the rest were imported")
