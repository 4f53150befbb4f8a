"""Every page about a client answers 404 (or 403) to anyone who may not see that client, for every role.

The URLs are found by walking the URL configuration, so a page added later is checked too.
"""
from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from django.utils import timezone

from advisor.models import Client, ConversationSession, Firm, User
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
from twin.models import Advice

pytestmark = pytest.mark.django_db

SAMPLE_VALUES = {"symbol": "AAPL", "session_id": "s1", "advice_id": "adv_x", "merge_id": "m1"}


def client_routes(resolver: URLResolver | None = None, prefix: str = "") -> list[str]:
    """Every route of ours with a `<str:client_id>` in it (the admin has none)."""
    found = []
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace != "admin":
                found.extend(client_routes(entry, prefix + str(entry.pattern)))
        elif isinstance(entry, URLPattern) and "<str:client_id>" in str(entry.pattern):
            found.append("/" + prefix + str(entry.pattern))
    return found


def path_for(route: str, client_id: str) -> str:
    path = route.replace("<str:client_id>", client_id)
    for name, value in SAMPLE_VALUES.items():
        path = path.replace(f"<str:{name}>", value)
    assert "<" not in path, f"give {route} a sample value in SAMPLE_VALUES"
    return path


def request(http, path: str):
    """GET, or POST (a valid session form) where the page only takes POST."""
    response = http.get(path)
    if response.status_code == 405:
        response = http.post(path, {"channel": "meeting", "started_at": "2024-05-01 10:00",
                                    "notes": "Ann Carter: I want to retire in 2034."})
    return response


@pytest.fixture
def people():
    """Pages are opened with force_login, so nobody needs a (slow to hash) password."""
    firm, other = Firm.objects.create(slug="o-firm", name="O Firm"), Firm.objects.create(slug="o-other", name="Other")
    advisor = User.objects.create_user("o-adv", password=None, role="advisor", firm=firm)
    colleague = User.objects.create_user("o-adv2", password=None, role="advisor", firm=firm)
    client_user = User.objects.create_user("o-cli", password=None, role="client", firm=firm)
    Client.objects.create(firm=firm, external_id="ann", name="Ann Carter", advisor=advisor, user=client_user)
    Client.objects.create(firm=firm, external_id="bob", name="Bob Stone", advisor=colleague)
    foreign_advisor = User.objects.create_user("o-zadv", password=None, role="advisor", firm=other)
    Client.objects.create(firm=other, external_id="zed", name="Zed Other", advisor=foreign_advisor)
    for record in Client.objects.all():  # session "s1" exists for every client, so its page can open
        record_session(client=record, draft=SessionDraft("s1", "meeting", timezone.now(), {"Ann Carter": "client"},
                                                         (TurnDraft("t1", "Ann Carter", "Hello."),)))
    Advice.objects.create(id="adv_x", client=Client.objects.get(external_id="ann"), kind="ask", as_of=timezone.now(),
                          answer="", composer="test")  # Ann's only
    return {
        "advisor": advisor,
        "analyst": User.objects.create_user("o-ana", password=None, role="analyst", firm=firm),
        "client": client_user,
        "compliance": User.objects.create_user("o-comp", password=None, role="compliance", firm=firm),
    }


# Whose pages each role may not open: another firm's client always; another advisor's client, another
# client, and (for analysts, who see firm-shared memory only) every client's pages.
FORBIDDEN = {"advisor": ["bob", "zed"], "analyst": ["ann", "bob", "zed"], "client": ["bob", "zed"],
             "compliance": ["zed"]}
ALLOWED = {"advisor": ["ann"], "client": ["ann"], "compliance": ["ann", "bob"]}


def test_the_walk_finds_every_client_page():
    assert set(client_routes()) >= {"/clients/<str:client_id>/", "/clients/<str:client_id>/sessions/new",
                                    "/clients/<str:client_id>/memory", "/clients/<str:client_id>/prices/<str:symbol>"}


@pytest.mark.parametrize("role", sorted(FORBIDDEN))
def test_another_firms_or_another_clients_id_is_not_found_for_every_role(client, people, graph, role):
    client.force_login(people[role])

    answers = {path_for(route, other): request(client, path_for(route, other)).status_code
               for route in client_routes() for other in FORBIDDEN[role]}

    assert {path: status for path, status in answers.items() if status not in (403, 404)} == {}
    assert ConversationSession.objects.count() == 3  # the fixture's: nothing recorded through a refused page


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_the_same_pages_open_for_the_clients_the_role_may_see(client, people, graph, role):
    client.force_login(people[role])

    pages = {path_for(route, mine): client.get(path_for(route, mine)).status_code
             for route in client_routes() if not route.endswith("/sessions/new")
             for mine in ALLOWED[role]}

    # Every page opens (200) but: an action that only takes POST (405); compliance's audit trail and export,
    # refused to others (403), the export asking for its date range (400); Ann's advice on Bob's pages (404).
    def expected(path: str) -> int:
        if path.endswith(("/retry-memory", "/correct", "/ask", "/brief", "/erasure", "/say", "/back", "/corrections",
                          "/merges/m1")) or path.startswith("/digests/preferences/"):
            return 405
        if path.endswith(("/audit/", "/export")) and role != "compliance":
            return 403
        if path.endswith("/export"):
            return 400
        if path.endswith("/advice/adv_x") and "/ann/" not in path:
            return 404
        return 200

    assert {path: status for path, status in pages.items() if status != expected(path)} == {}, pages
