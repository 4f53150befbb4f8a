"""`flush` wipes the whole database, append-only tables included (tests use it between cases)."""
from django.core.management.commands.flush import Command as DjangoFlush
from django.db import connections

from audit.triggers import WINDOW_TABLE


class Command(DjangoFlush):
    def handle(self, **options) -> None:  # noqa: ANN003
        connection = connections[options.get("database") or "default"]
        opened = connection.vendor == "sqlite" and WINDOW_TABLE in connection.introspection.table_names()
        if opened:
            with connection.cursor() as cursor:
                cursor.execute(f"INSERT INTO {WINDOW_TABLE} (opened) VALUES (1)")
        try:
            super().handle(**options)
        finally:
            if opened:
                with connection.cursor() as cursor:
                    cursor.execute(f"DELETE FROM {WINDOW_TABLE}")
