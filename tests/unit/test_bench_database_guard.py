"""The bench empties only a database of its own: SQLite's var/bench-db.sqlite3 or PostgreSQL's advisor_bench."""
from __future__ import annotations

from tests.bench.run import is_bench_database

POSTGRES = "django.db.backends.postgresql"
SQLITE = "django.db.backends.sqlite3"


def test_the_bench_accepts_its_own_postgres_database_and_no_other():
    assert is_bench_database({"ENGINE": POSTGRES, "NAME": "advisor_bench"})
    assert not is_bench_database({"ENGINE": POSTGRES, "NAME": "advisor_twin"})  # what `make up` and tests use
    assert not is_bench_database({"ENGINE": POSTGRES, "NAME": "advisor_bench_copy"})


def test_the_bench_accepts_its_own_sqlite_file_and_no_other():
    assert is_bench_database({"ENGINE": SQLITE, "NAME": "/srv/app/var/bench-db.sqlite3"})
    assert not is_bench_database({"ENGINE": SQLITE, "NAME": "/srv/app/var/db.sqlite3"})
    assert not is_bench_database({"ENGINE": SQLITE, "NAME": "/srv/app/var/advisor_bench"})
