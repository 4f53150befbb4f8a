from django.core.management.base import BaseCommand, CommandError

from memory.graph import schema
from memory.graph.driver import GraphUnavailable


class Command(BaseCommand):
    help = "Create the memory graph's constraints and indexes in Neo4j (idempotent; run on every start)."

    def handle(self, *args, **options) -> None:
        try:
            statements = schema.migrate()
        except GraphUnavailable as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"graph schema ready ({len(statements)} constraints and indexes checked)")
