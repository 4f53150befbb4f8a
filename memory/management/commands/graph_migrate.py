from django.core.management.base import BaseCommand, CommandError

from memory.embeddings import EmbeddingMismatch, check_embedding_dimensions
from memory.graph import schema
from memory.graph.driver import GraphUnavailable


class Command(BaseCommand):
    help = "Create the memory graph's constraints and indexes in Neo4j (idempotent; run on every start)."

    def handle(self, *args, **options) -> None:
        try:
            check_embedding_dimensions()
            statements = schema.migrate()
        except (GraphUnavailable, schema.SchemaMismatch, EmbeddingMismatch) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"graph schema ready ({len(statements)} constraints and indexes checked)")
