"""DATABASE_URL: what the settings make of it, and the URL the test suite hands its Celery worker."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import environ
import pytest

from tests.conftest import REPO, database_url

PRINT_DATABASE = ("import django, json; django.setup(); from django.conf import settings; "
                  "print(json.dumps(settings.DATABASES['default']))")


def settings_with(url: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run([sys.executable, "-c", PRINT_DATABASE], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)


def test_settings_refuse_a_database_url_of_an_untested_vendor_without_showing_its_password():
    result = settings_with("mysql://twin:s3cret@db.example/twin")

    assert result.returncode != 0
    assert "DATABASE_URL must start with sqlite:/// or postgres:// (got a 'mysql' URL)." in result.stderr
    assert "s3cret" not in result.stderr


def test_postgres_connections_give_up_after_5_seconds_unless_the_url_says_otherwise():
    default = json.loads(settings_with("postgres://twin:pw@db.example:6432/twin").stdout)
    chosen = json.loads(settings_with("postgres://twin:pw@db.example/twin?connect_timeout=20&sslmode=require").stdout)

    assert default["ENGINE"] == "django.db.backends.postgresql"
    assert (default["HOST"], default["PORT"], default["NAME"]) == ("db.example", 6432, "twin")
    assert default["OPTIONS"] == {"connect_timeout": 5}
    assert chosen["OPTIONS"] == {"connect_timeout": 20, "sslmode": "require"}


@pytest.mark.parametrize("password", ["plain", "p@ss:w/rd?#%"], ids=["plain", "url-special-characters"])
def test_worker_database_url_names_the_same_postgres_database_as_the_settings(password):
    database = {"ENGINE": "django.db.backends.postgresql", "NAME": "test_advisor_twin", "USER": "advisor_twin",
                "PASSWORD": password, "HOST": "127.0.0.1", "PORT": 5433, "OPTIONS": {"connect_timeout": 5}}

    parsed = environ.Env.db_url_config(database_url(database))

    assert parsed == database


def test_worker_database_url_names_the_same_sqlite_file_as_the_settings(tmp_path):
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "db-test.sqlite3")}

    assert environ.Env.db_url_config(database_url(database))["NAME"] == database["NAME"]


def test_postgres_connections_are_kept_for_60_seconds_and_checked_before_reuse_unless_the_url_says_otherwise():
    default = json.loads(settings_with("postgres://twin:pw@db.example/twin").stdout)
    chosen = json.loads(settings_with("postgres://twin:pw@db.example/twin?conn_max_age=0&conn_health_checks=false").stdout)
    unlimited = json.loads(settings_with("postgres://twin:pw@db.example/twin?conn_max_age=None").stdout)

    assert (default["CONN_MAX_AGE"], default["CONN_HEALTH_CHECKS"]) == (60, True)
    assert (chosen["CONN_MAX_AGE"], chosen["CONN_HEALTH_CHECKS"]) == (0, False)
    assert unlimited["CONN_MAX_AGE"] is None


def test_sqlite_connections_are_still_opened_per_request():
    sqlite = json.loads(settings_with("sqlite:////tmp/advisor-twin-settings-test.sqlite3").stdout)

    assert sqlite.get("CONN_MAX_AGE", 0) == 0
