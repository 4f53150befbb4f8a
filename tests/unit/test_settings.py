"""Settings come from the environment and refuse unsafe production configurations."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.test import override_settings

from memory.graph import driver as graph_driver

REPO = Path(__file__).resolve().parents[2]


def load_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-c", "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; "
                               "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"],
        cwd=REPO, env={**clean, **env}, capture_output=True, text=True, timeout=60,
    )


def test_secret_key_is_required_when_debug_is_off():
    result = load_settings(DEBUG="false")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_database_url_selects_postgresql():
    result = load_settings(DEBUG="false", SECRET_KEY="x" * 50, DATABASE_URL="postgres://u:p@db.example:5432/twin")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.postgresql"


def test_routing_uri_for_a_cluster_or_aura_is_accepted_unchanged():
    graph_driver.close_driver()
    try:
        with override_settings(NEO4J_URI="neo4j+s://cluster.example.invalid:7687", NEO4J_PASSWORD="secret"):
            created = graph_driver.get_driver()
            assert type(created).__name__ == "Neo4jDriver"  # routing driver, no connection made yet
    finally:
        graph_driver.close_driver()
