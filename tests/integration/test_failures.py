"""Bad input or a failed dependency gets a clear error and loses nothing: the portal, /healthz and memory_search.

Our own services are never mocked. Redis "down" is Redis at an address nothing listens on (or, for a hung
Redis, a loopback socket that accepts connections and never answers); Neo4j "down" is Neo4j at such an
address. The Celery app is re-pointed the way a process started with that REDIS_URL would see it.
"""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from kombu import pools as kombu_pools

from advisor.models import Client, ConversationSession, Firm, User, Viewpoint
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
from memory.graph import driver as graph_driver
from memory.models import OutboxEntry
from memory.services.ingest import drain_outbox
from memory.services.retrieval import MAX_QUERY_CHARS

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
UNREACHABLE_NEO4J = "bolt://127.0.0.1:1"
# A Redis database no worker consumes: the session worker (tests/conftest.py) listens on REDIS_URL's.
WORKERLESS_REDIS = "redis://127.0.0.1:6379/11"
# A portal request may spend this long on a dead broker before it counts as hanging.
FAIL_FAST_SECONDS = 5.0
# Driver internals that must never reach a portal page.
DRIVER_NOISE = ("ResolvedIPv4Address", "Errno", "bolt://", "Couldn't connect")


# --- how a dependency is taken away -----------------------------------------------------------------

def _forget_celery_connections(app) -> None:
    """Drop the broker pools and result store Celery cached for the old URL, as a fresh process would."""
    kombu_pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@contextmanager
def redis_at(url: str) -> Iterator[None]:
    """Run as if the process had started with REDIS_URL=url: health checks, broker and result store."""
    from config.celery import app

    saved = {"broker_url": app.conf.broker_url, "result_backend": app.conf.result_backend}
    _forget_celery_connections(app)
    app.conf.update(broker_url=url, result_backend=url)
    try:
        with override_settings(REDIS_URL=url, CELERY_BROKER_URL=url, CELERY_RESULT_BACKEND=url):
            yield
    finally:
        _forget_celery_connections(app)
        app.conf.update(saved)


@contextmanager
def neo4j_unreachable() -> Iterator[None]:
    graph_driver.close_driver()
    try:
        with override_settings(NEO4J_URI=UNREACHABLE_NEO4J, NEO4J_CONNECTION_TIMEOUT=1.0):
            yield
    finally:
        graph_driver.close_driver()


@pytest.fixture
def silent_redis_url() -> Iterator[str]:
    """A loopback port that accepts connections and never answers: a hung Redis, not a refused one."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []

    def accept_forever() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept_forever, daemon=True).start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    listener.close()
    for connection in accepted:
        connection.close()


@pytest.fixture(params=["refused", "silent"])
def dead_broker_url(request) -> str:
    """Redis that is down (nothing listens) or hung (accepts, never answers)."""
    if request.param == "refused":
        return UNREACHABLE_REDIS
    return request.getfixturevalue("silent_redis_url")


# --- people and data --------------------------------------------------------------------------------

@pytest.fixture
def firm_people(db):
    firm = Firm.objects.create(slug="f-firm", name="F Firm")
    advisor = User.objects.create_user("f-adv", password="pw-123456789", role="advisor", firm=firm)
    analyst = User.objects.create_user("f-ana", password="pw-123456789", role="analyst", firm=firm)
    ann = Client.objects.create(firm=firm, external_id="ann", name="Ann Carter", advisor=advisor)
    return {"advisor": advisor, "analyst": analyst, "ann": ann}


def recorded_session(client: Client) -> ConversationSession:
    draft = SessionDraft(
        session_id="s-kept", channel="meeting", started_at=datetime(2024, 5, 1, 10, tzinfo=timezone.utc),
        participants={"Ann Carter": "client"},
        turns=(TurnDraft("s-kept-1", "Ann Carter", "I want to retire in 2034."),),
    )
    return record_session(client=client, draft=draft).session


# --- 1. the portal saves first and never waits on a dead broker ----------------------------------------

@pytest.mark.django_db
def test_session_recorded_while_redis_is_down_is_saved_pending_and_the_request_fails_fast(
        client, firm_people, clean_graph, dead_broker_url):
    client.force_login(firm_people["advisor"])

    with redis_at(dead_broker_url):
        started = time.monotonic()
        response = client.post("/clients/ann/sessions/new", {
            "channel": "meeting", "started_at": "2024-05-01 10:00",
            "notes": "Ann Carter: I want to retire in 2034.\nAlex: Noted.",
        })
        elapsed = time.monotonic() - started
        page = client.get(response.url).content.decode()
        home = client.get("/").content.decode()

    assert response.status_code == 302 and response.url == "/clients/ann/"
    assert elapsed < FAIL_FAST_SECONDS, f"recording a session waited {elapsed:.1f} s on a dead broker"
    assert "Session saved. It shows as pending memory" in page
    session = ConversationSession.objects.get()
    assert session.memory_status == "pending" and session.turns.count() == 2
    entry = OutboxEntry.objects.get()
    assert (entry.kind, entry.object_id, entry.processed_at) == ("session", session.pk, None)
    assert "1 pending memory" in home
    # Nothing was lost: the next sweep takes the session in.
    assert drain_outbox().sessions == 1
    session.refresh_from_db()
    assert session.memory_status == "stored"


@pytest.mark.django_db
def test_viewpoint_published_while_redis_is_down_is_saved_with_its_outbox_entry_and_the_request_fails_fast(
        client, firm_people, dead_broker_url):
    client.force_login(firm_people["analyst"])

    with redis_at(dead_broker_url):
        started = time.monotonic()
        response = client.post("/viewpoints/", {"symbol": "MSFT", "stance": "buy", "rationale": "Cloud.",
                                                "target_price": "450"})
        elapsed = time.monotonic() - started
        page = client.get(response.url).content.decode()

    assert response.status_code == 302 and response.url == "/viewpoints/"
    assert elapsed < FAIL_FAST_SECONDS, f"publishing a viewpoint waited {elapsed:.1f} s on a dead broker"
    assert "Viewpoint published. Every twin in the firm will use it." in page
    viewpoint = Viewpoint.objects.get()
    assert (viewpoint.symbol, viewpoint.stance, viewpoint.rationale) == ("MSFT", "buy", "Cloud.")
    entry = OutboxEntry.objects.get()
    assert (entry.kind, entry.object_id, entry.processed_at) == ("viewpoint", viewpoint.pk, None)


@pytest.mark.django_db(transaction=True)
def test_with_redis_up_the_portals_nudge_reaches_a_real_worker_which_takes_the_session_in(
        client, firm_people, clean_graph, celery_worker_process):
    # The fail-fast path must still deliver: no beat runs in tests, so only the portal's nudge can drain.
    client.force_login(firm_people["advisor"])

    response = client.post("/clients/ann/sessions/new", {
        "channel": "meeting", "started_at": "2024-05-01 10:00", "notes": "Ann Carter: I want to retire in 2034.",
    })

    assert response.status_code == 302
    session = ConversationSession.objects.get()
    deadline = time.monotonic() + 60
    while session.memory_status == "pending" and time.monotonic() < deadline:
        time.sleep(0.5)
        session.refresh_from_db()
    assert session.memory_status == "stored"
    assert OutboxEntry.objects.get().processed_at is not None


def test_the_portals_nudge_keeps_its_broker_connection_but_never_uses_it_for_another_broker():
    from kombu.exceptions import OperationalError

    from memory import tasks

    tasks.queue_outbox_drain()
    kept = tasks._kept.connection
    tasks.queue_outbox_drain()
    assert tasks._kept.connection is kept  # the second message went out on the first one's connection

    with redis_at(UNREACHABLE_REDIS), pytest.raises(OperationalError):
        tasks.queue_outbox_drain()  # fails on the broker it is told to use, not on the one it kept

    assert tasks._kept.connection is None
    tasks.queue_outbox_drain()
    assert tasks._kept.connection is not None and tasks._kept.connection[1] is not kept[1]


# --- 2 and 3. /healthz names what is down -------------------------------------------------------------

@pytest.mark.django_db
def test_healthz_is_503_naming_redis_and_celery_when_redis_is_unreachable(client, graph):
    with redis_at(UNREACHABLE_REDIS):
        response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 503, body
    assert body["status"] == "degraded"
    assert body["down"] == ["redis", "celery"]
    assert body["parts"] == {"database": {"status": "up"}, "neo4j": {"status": "up"},
                             "redis": {"status": "down"}, "celery": {"status": "down"}}


@pytest.mark.django_db
def test_healthz_tells_anonymous_callers_nothing_of_why_even_when_they_ask_for_detail(client, graph):
    with redis_at(UNREACHABLE_REDIS):
        response = client.get("/healthz", {"detail": "1"})

    assert response.status_code == 503
    assert "127.0.0.1" not in response.content.decode()
    assert response.json()["parts"]["redis"] == {"status": "down"}


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["staff", "compliance"])
def test_healthz_detail_tells_staff_and_compliance_why_redis_and_celery_are_down(client, graph, who):
    user = User.objects.create_user(f"h-{who}", password="pw-123456789", role="compliance" if who == "compliance" else "advisor",
                                    is_staff=who == "staff")
    client.force_login(user)

    with redis_at(UNREACHABLE_REDIS):
        response = client.get("/healthz", {"detail": "1"})

    body = response.json()
    assert response.status_code == 503
    assert "127.0.0.1:1" in body["parts"]["redis"]["detail"]
    assert body["parts"]["celery"]["detail"] == "cannot ask workers: Redis is down"


@pytest.mark.django_db
def test_healthz_detail_is_refused_to_an_advisor_who_is_not_staff(client, graph, firm_people):
    client.force_login(firm_people["advisor"])

    with redis_at(UNREACHABLE_REDIS):
        response = client.get("/healthz", {"detail": "1"})

    assert response.status_code == 503
    assert response.json()["parts"]["redis"] == {"status": "down"}


@pytest.mark.django_db
def test_healthz_logs_why_a_part_is_down(client, graph, caplog):
    with redis_at(UNREACHABLE_REDIS), caplog.at_level("WARNING", logger="advisor.health"):
        client.get("/healthz")

    assert any("redis is down" in r.getMessage() and "127.0.0.1:1" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_healthz_is_503_naming_celery_when_redis_is_up_but_no_worker_answers(client, graph, celery_worker_process):
    staff = User.objects.create_user("h-staff", password="pw-123456789", is_staff=True)
    client.force_login(staff)
    # A worker serves the suite's own Redis database; none consumes WORKERLESS_REDIS.
    with redis_at(WORKERLESS_REDIS):
        response = client.get("/healthz", {"detail": "1"})

    body = response.json()
    assert response.status_code == 503, body
    assert body["down"] == ["celery"]
    assert body["parts"]["celery"]["detail"] == "RuntimeError: no Celery worker answered within 1.5 s"
    assert body["parts"]["redis"]["status"] == "up"
    assert body["parts"]["database"]["status"] == "up"
    assert body["parts"]["neo4j"]["status"] == "up"


# --- 4. Neo4j down: the relational record still shows, memory says it is unavailable ------------------

@pytest.mark.django_db
def test_client_page_lists_sessions_and_says_memory_is_unavailable_when_neo4j_is_down(client, firm_people):
    recorded_session(firm_people["ann"])
    client.force_login(firm_people["advisor"])

    with neo4j_unreachable():
        response = client.get("/clients/ann/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "The twin&#x27;s memory cannot be reached right now" in page
    assert "Sessions are safe and will be remembered when it is back." in page
    assert "1 May 2024" in page and "Pending memory" in page
    assert not [noise for noise in DRIVER_NOISE if noise in page]


@pytest.mark.django_db
def test_memory_search_page_is_503_with_a_readable_message_when_neo4j_is_down(client, firm_people):
    client.force_login(firm_people["advisor"])

    with neo4j_unreachable():
        response = client.get("/clients/ann/memory", {"q": "retirement plans"})

    page = response.content.decode()
    assert response.status_code == 503
    assert "The twin&#x27;s memory cannot be reached right now" in page
    assert not [noise for noise in DRIVER_NOISE if noise in page]


# --- 5. memory_search refuses bad input with a message a person can act on -----------------------------

def search_command(*args: str) -> str:
    out = StringIO()
    call_command("memory_search", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["", "   "], ids=["empty", "blank"])
def test_memory_search_command_refuses_an_empty_query(firm_people, query):
    with pytest.raises(CommandError, match="^the query is empty$"):
        search_command("--client", "ann", "--query", query)


@pytest.mark.django_db
def test_memory_search_command_refuses_a_query_longer_than_the_limit(firm_people):
    too_long = "retirement " * (MAX_QUERY_CHARS // 10)

    with pytest.raises(CommandError) as raised:
        search_command("--client", "ann", "--query", too_long)

    assert str(raised.value) == f"the query is too long ({len(too_long.strip())} characters; at most {MAX_QUERY_CHARS})"


@pytest.mark.django_db
@pytest.mark.parametrize("as_of", ["yesterday", "2024-03-01", "2024-03-01T00:00:00", "2024-02-30T00:00:00Z"],
                         ids=["words", "date-only", "no-time-zone", "no-such-day"])
def test_memory_search_command_refuses_an_invalid_as_of(firm_people, as_of):
    with pytest.raises(CommandError) as raised:
        search_command("--client", "ann", "--query", "retirement", "--as-of", as_of)

    assert str(raised.value).startswith(f"--as-of {as_of!r} is not")
    assert "ISO 8601 date-time with a time zone, e.g. 2024-03-01T00:00:00Z" in str(raised.value)


@pytest.mark.django_db
def test_portal_memory_search_explains_an_over_long_query(client, firm_people):
    client.force_login(firm_people["advisor"])

    response = client.get("/clients/ann/memory", {"q": "x" * (MAX_QUERY_CHARS + 1)})

    assert response.status_code == 400
    assert f"the query is too long ({MAX_QUERY_CHARS + 1} characters; at most {MAX_QUERY_CHARS})" in \
        response.content.decode()
