"""Append-only enforced by the database: a trigger per table that aborts UPDATE and DELETE.

The one sanctioned exception is `maintenance_window()`: wiping a whole database (`manage.py flush`,
used between tests) or a purge after a retention period ends opens it for its own transaction.
On SQLite the window is a row in `append_only_maintenance`; PostgreSQL's TRUNCATE (what flush uses)
does not fire row triggers, and the purge sets a transaction-local setting.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection, migrations, transaction

WINDOW_TABLE = "append_only_maintenance"
_window_open: ContextVar[bool] = ContextVar("append_only_window_open", default=False)


def window_is_open() -> bool:
    """True inside `maintenance_window()`: the model layer's purge checks it, the trigger its own flag."""
    return _window_open.get()


@contextmanager
def maintenance_window() -> Iterator[None]:
    """Let append-only rows be deleted inside this block (flush, retention purge). Audit the reason."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute(f"INSERT INTO {WINDOW_TABLE} (opened) VALUES (1)")
            elif connection.vendor == "postgresql":
                cursor.execute("SELECT set_config('twin.append_only_maintenance', 'on', true)")
        token = _window_open.set(True)
        try:
            yield
        finally:
            _window_open.reset(token)
            with connection.cursor() as cursor:
                if connection.vendor == "sqlite":
                    cursor.execute(f"DELETE FROM {WINDOW_TABLE}")
                elif connection.vendor == "postgresql":  # closed again, even inside a longer outer transaction
                    cursor.execute("SELECT set_config('twin.append_only_maintenance', 'off', true)")


def _statements(vendor: str, table: str) -> tuple[list[str], list[str]]:
    if vendor == "sqlite":
        closed = f"WHEN NOT EXISTS (SELECT 1 FROM {WINDOW_TABLE})"
        create = [
            f"CREATE TABLE IF NOT EXISTS {WINDOW_TABLE} (opened integer)",
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} {closed} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;",
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} {closed} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;",
        ]
        drop = [f"DROP TRIGGER IF EXISTS {table}_no_update;", f"DROP TRIGGER IF EXISTS {table}_no_delete;"]
        return create, drop
    if vendor == "postgresql":
        create = [
            "CREATE OR REPLACE FUNCTION refuse_append_only_change() RETURNS trigger AS $$ "
            "BEGIN IF current_setting('twin.append_only_maintenance', true) = 'on' THEN "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END IF; "
            "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation'; "
            "END; $$ LANGUAGE plpgsql;",
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change();",
        ]
        return create, [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};"]
    return [], []


def append_only_operation(table: str) -> migrations.RunPython:
    """A migration operation installing the trigger for `table` on SQLite or PostgreSQL."""
    # The table name is one of ours, fixed in the migration, never user input.

    def forwards(apps, schema_editor) -> None:  # noqa: ANN001
        for statement in _statements(schema_editor.connection.vendor, table)[0]:
            schema_editor.execute(statement, params=None)  # '%' is PL/pgSQL's, not a placeholder

    def backwards(apps, schema_editor) -> None:  # noqa: ANN001
        for statement in _statements(schema_editor.connection.vendor, table)[1]:
            schema_editor.execute(statement, params=None)

    return migrations.RunPython(forwards, backwards)
