"""Settings come from the environment and refuse unsafe production configurations."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from memory.graph import driver as graph_driver

REPO = Path(__file__).resolve().parents[2]


# A key as `secrets.token_urlsafe(50)` makes one: long and varied enough for production.
STRONG_KEY = "kQ3v9Zp1Lr7XyB2nW8cT5mJ0sD4fH6gA-uE_oI9pYtRwVbNcMxZl"
SECURITY_SETTINGS = ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
                     "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_CONTENT_TYPE_NOSNIFF",
                     "SECURE_REDIRECT_EXEMPT", "SECURE_PROXY_SSL_HEADER")
ENV_SET_BY_TESTS = ("SECRET_KEY", "DEBUG", "DATABASE_URL", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
                    "TRUSTED_PROXY_SSL_HEADER")


def load_settings(*, show: str = "settings.DATABASES['default']['ENGINE']", **env: str) -> subprocess.CompletedProcess:
    """Import config.settings in a fresh process with exactly this environment; print `show`."""
    clean = {k: v for k, v in os.environ.items() if k not in ENV_SET_BY_TESTS}
    return subprocess.run(
        [sys.executable, "-c", "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; "
                               f"from django.conf import settings; print({show})"],
        cwd=REPO, env={**clean, **env}, capture_output=True, text=True, timeout=60,
    )


def security_settings(**env: str) -> dict:
    show = "repr({name: getattr(settings, name, None) for name in %r})" % (SECURITY_SETTINGS,)
    result = load_settings(show=show, **env)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip())


def test_secret_key_is_required_when_debug_is_off():
    result = load_settings(DEBUG="false")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_the_development_secret_key_is_refused_when_debug_is_off():
    result = load_settings(DEBUG="false", SECRET_KEY="insecure-local-development-key-do-not-use-in-production")

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is a development placeholder" in result.stderr
    assert "secrets.token_urlsafe(50)" in result.stderr


def test_djangos_insecure_placeholder_key_is_refused_when_debug_is_off():
    result = load_settings(DEBUG="false", SECRET_KEY="django-insecure-" + STRONG_KEY)

    assert result.returncode != 0
    assert "SECRET_KEY is a development placeholder" in result.stderr


@pytest.mark.parametrize("key, length, different", [("short-key-123", 13, 12), ("ab" * 30, 60, 2)],
                         ids=["too-short", "too-repetitive"])
def test_a_weak_secret_key_is_refused_when_debug_is_off_saying_why(key, length, different):
    result = load_settings(DEBUG="false", SECRET_KEY=key)

    assert result.returncode != 0
    assert f"SECRET_KEY is too weak ({length} characters, {different} different; at least 50 and 5" in result.stderr


def test_debug_runs_with_the_development_key_when_none_is_given():
    result = load_settings(DEBUG="true", show="settings.SECRET_KEY")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "insecure-local-development-key-do-not-use-in-production"


def test_production_is_https_only_with_hsts_secure_cookies_and_nosniff():
    values = security_settings(DEBUG="false", SECRET_KEY=STRONG_KEY)

    assert values == {
        "SECURE_SSL_REDIRECT": True, "SECURE_HSTS_SECONDS": 31_536_000, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True, "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REDIRECT_EXEMPT": ["^healthz$"], "SECURE_PROXY_SSL_HEADER": None,
    }


def test_production_ssl_redirect_hsts_and_proxy_header_follow_the_environment():
    values = security_settings(DEBUG="false", SECRET_KEY=STRONG_KEY, SECURE_SSL_REDIRECT="false",
                               SECURE_HSTS_SECONDS="3600", TRUSTED_PROXY_SSL_HEADER="true")

    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 3600
    assert values["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True


def test_debug_keeps_plain_http_and_ordinary_cookies_for_a_laptop():
    values = security_settings(DEBUG="true")

    assert values["SECURE_SSL_REDIRECT"] is False and values["SECURE_HSTS_SECONDS"] == 0
    assert values["SESSION_COOKIE_SECURE"] is False and values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] is True


def test_production_settings_pass_djangos_deployment_checks_except_the_opt_in_hsts_preload():
    clean = {k: v for k, v in os.environ.items() if k not in ENV_SET_BY_TESTS}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=REPO, capture_output=True,
                            text=True, timeout=120, env={**clean, "DEBUG": "false", "SECRET_KEY": STRONG_KEY})

    assert result.returncode == 0, result.stderr
    assert "System check identified 1 issue" in result.stdout + result.stderr, result.stdout + result.stderr
    assert "security.W021" in result.stdout + result.stderr  # HSTS preload: a decision for the operator


def test_database_url_selects_postgresql():
    result = load_settings(DEBUG="false", SECRET_KEY=STRONG_KEY, DATABASE_URL="postgres://u:p@db.example:5432/twin")

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


def test_each_process_caches_the_citations_of_250_full_chat_pages():
    from django.core.cache import caches

    from twin.services.chat import PAGE_ROUNDS

    assert caches["default"]._max_entries == 5000 == 250 * PAGE_ROUNDS
