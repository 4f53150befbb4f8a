"""Fixtures that talk to the real services `make test` started (Neo4j, Redis, Celery).

Nothing here mocks our own infrastructure: when Neo4j or Redis is missing the tests that need
them fail with a message saying how to start them, they are never skipped.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings
from hypothesis import settings as hypothesis_settings


from memory.graph import driver as graph_driver
from memory.graph import schema

REPO = Path(__file__).resolve().parent.parent

# Property tests are deterministic (the same examples every run, nothing remembered between runs)
# and modest in size (tests may ask for fewer or more), so they cost the suite seconds.
hypothesis_settings.register_profile("suite", derandomize=True, database=None, deadline=None, max_examples=50)
hypothesis_settings.load_profile("suite")

TEST_OUTPUT = REPO / "test-output"


@pytest.fixture(scope="session")
def graph(django_db_blocker) -> Iterator[None]:
    """The real Neo4j, reachable and migrated."""
    try:
        graph_driver.ping()
    except graph_driver.GraphUnavailable as error:
        pytest.fail(f"{error}\nStart it with `make services` (or run the suite with `make test`).")
    schema.migrate()
    yield


def empty_graph() -> None:
    from memory.services import access_notes

    access_notes.flush()  # an earlier test's searches must not count as accesses of this test's memories

    # Relationships first, then nodes, a bounded batch per transaction (DETACH: for a link written meanwhile).
    # Nodes deleted with their relationships are bounded by nothing on a bench graph (a security can hold 100k
    # mentions): 50,000 nodes of the firm research graph of 1M memories ran out of Neo4j's transaction memory.
    for statement in ("MATCH ()-[r]->() WITH r LIMIT 50000 DELETE r RETURN count(*) AS deleted",
                      "MATCH (n) WITH n LIMIT 20000 DETACH DELETE n RETURN count(*) AS deleted"):
        while graph_driver.write(lambda tx, q=statement: tx.run(q).single()["deleted"]):
            pass


@pytest.fixture
def clean_graph(graph) -> Iterator[None]:
    """An empty graph for one test."""
    empty_graph()
    yield


@pytest.fixture(scope="session")
def redis_client():
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {settings.REDIS_URL} is unavailable ({error}). Run the suite with `make test`.")
    return client


def database_url(database: dict) -> str:
    """DATABASE_URL for a Django database settings dict: how a worker process reaches the same database."""
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{database['NAME']}"
    if database["ENGINE"] == "django.db.backends.postgresql":
        credentials = quote(database["USER"], safe="")
        if database["PASSWORD"]:
            credentials += ":" + quote(database["PASSWORD"], safe="")
        options = f"?{urlencode(database['OPTIONS'])}" if database.get("OPTIONS") else ""
        return (f"postgres://{credentials}@{database['HOST']}:{database['PORT'] or 5432}/"
                f"{quote(database['NAME'], safe='')}{options}")
    raise ValueError(f"no DATABASE_URL form for {database['ENGINE']}")


def _worker_env() -> dict[str, str]:
    """The worker's environment: this run's services, and the test database pytest-django created."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env["DATABASE_URL"] = database_url(settings.DATABASES["default"])  # pytest-django set its NAME
    return env


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, redis_client, graph) -> Iterator[subprocess.Popen]:
    """A real Celery worker process consuming every queue, against the real Redis broker."""
    redis_client.flushdb()
    log = open(TEST_OUTPUT / "celery-worker.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO", "--concurrency=1",
         "--pool=prefork", "-Q", "default,ingest,quotes,digests", "-n", f"pytest-{os.getpid()}@%h"],
        cwd=REPO, env=_worker_env(), stdout=log, stderr=subprocess.STDOUT,
    )
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Celery worker exited early; see {log.name}")
        replies = app.control.ping(timeout=1.0) or []
        if any(name.startswith(f"pytest-{os.getpid()}@") for reply in replies for name in reply):
            break
    else:
        process.kill()
        pytest.fail(f"Celery worker did not answer ping within 60 s; see {log.name}")
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session", autouse=True)
def _test_output_dir() -> Path:
    TEST_OUTPUT.mkdir(exist_ok=True)
    return TEST_OUTPUT


def pytest_collection_modifyitems(config, items) -> None:
    """Tests that stop a real service run last, so a slow restart cannot disturb the others.

    PYTEST_ONLY_UNDER=DIR keeps only the selected tests below DIR: `make test` runs whatever
    PYTEST_ARGS selects on SQLite, then the integration tests among them again on PostgreSQL.
    """
    only_under = os.environ.get("PYTEST_ONLY_UNDER")
    if only_under:
        root = (REPO / only_under).resolve()
        outside = [item for item in items if not item.path.is_relative_to(root)]
        if outside:
            config.hook.pytest_deselected(items=outside)
            items[:] = [item for item in items if item.path.is_relative_to(root)]
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


def wait_until(condition, what: str, *, seconds: float) -> None:  # noqa: ANN001
    """Poll `condition` until it holds; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what} after {seconds} s"
        time.sleep(0.05)


def local_neo4j_command(action: str) -> subprocess.CompletedProcess:
    """Run `bin/neo4j-local ACTION` for the instance this test run uses."""
    return subprocess.run([str(REPO / "bin" / "neo4j-local"), action], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ))


def uses_local_neo4j() -> bool:
    return os.environ.get("NEO4J_LOCAL_NAME") is not None and local_neo4j_command("status").returncode == 0
