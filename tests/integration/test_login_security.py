"""Logins are throttled per username and address (django-axes), and every form needs its CSRF token."""
from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, get_resolver

from advisor.models import Client, Firm, User

pytestmark = pytest.mark.django_db

PASSWORD = "pw-123456789"
ATTACKER = "10.0.0.66"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    """Each failed login checks a password; what is under test is the counting, not the hash's cost."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def advisor():
    firm = Firm.objects.create(slug="l-firm", name="L Firm")
    user = User.objects.create_user("l-adv", password=PASSWORD, role="advisor", firm=firm)
    Client.objects.create(firm=firm, external_id="ann", name="Ann Carter", advisor=user)
    return user


def log_in(client, username: str, password: str, address: str = ATTACKER):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def fail_until_locked(client, username: str) -> list[int]:
    return [log_in(client, username, "wrong-password").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]


# --- rate limiting ------------------------------------------------------------------------------------

def test_the_fifth_failed_login_locks_that_username_at_that_address_with_a_clear_message(client, advisor):
    statuses = fail_until_locked(client, "l-adv")

    assert settings.AXES_FAILURE_LIMIT == 5
    assert statuses == [200, 200, 200, 200, 429]
    locked = log_in(client, "l-adv", PASSWORD)  # even the right password, now
    page = locked.content.decode()
    assert locked.status_code == 429
    assert "Too many failed logins for “l-adv” from your address" in page
    assert "(5 in a row)" in page and "locked for\n    15 minutes" in page
    assert "_auth_user_id" not in client.session


def test_a_lockout_leaves_the_same_user_elsewhere_and_other_users_here_free_to_log_in(advisor):
    User.objects.create_user("l-other", password=PASSWORD, role="advisor", firm=advisor.firm)
    fail_until_locked(HttpClient(), "l-adv")

    elsewhere = log_in(HttpClient(), "l-adv", PASSWORD, address="10.0.0.7")
    neighbour = log_in(HttpClient(), "l-other", PASSWORD)

    assert elsewhere.status_code == 302 and elsewhere.url == "/"
    assert neighbour.status_code == 302 and neighbour.url == "/"


def test_the_lockout_ends_after_the_cool_off_time(client, advisor):
    fail_until_locked(client, "l-adv")
    assert log_in(client, "l-adv", PASSWORD).status_code == 429

    # Fifteen minutes and a second later (the attempts are dated, not the clock moved).
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=15, seconds=1))

    response = log_in(client, "l-adv", PASSWORD)
    assert response.status_code == 302 and response.url == "/"


def test_a_successful_login_forgets_earlier_failures(client, advisor):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "l-adv", "wrong-password")
    assert log_in(HttpClient(), "l-adv", PASSWORD).status_code == 302

    # Had the four failures stayed on record, this fifth one would lock the account.
    assert log_in(client, "l-adv", "wrong-password").status_code == 200
    assert log_in(HttpClient(), "l-adv", PASSWORD).status_code == 302


# --- CSRF ---------------------------------------------------------------------------------------------

def _routes(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace != "admin":
                found.extend(_routes(entry, prefix + str(entry.pattern)))
        else:
            found.append((prefix + str(entry.pattern), entry))
    return found


SAMPLE_VALUES = {"client_id": "ann", "symbol": "AAPL", "session_id": "s1", "advice_id": "adv_x", "pk": "1",
                 "digest_id": "1", "run_id": "1", "fingerprint": "f1", "merge_id": "m1"}


def own_post_endpoints() -> list[str]:
    """Every URL of ours (the admin is Django's own), with sample values for its parameters."""
    paths = []
    for route, _ in _routes(get_resolver()):
        for name, value in SAMPLE_VALUES.items():
            route = route.replace(f"<str:{name}>", value).replace(f"<int:{name}>", value)
        assert "<" not in route, f"give {route} a sample value in SAMPLE_VALUES"
        paths.append("/" + route)
    return paths


def test_the_walk_covers_the_forms_we_know():
    assert {"/login/", "/logout/", "/viewpoints/", "/clients/ann/sessions/new"} <= set(own_post_endpoints())


@pytest.mark.parametrize("path", own_post_endpoints() + ["/admin/login/"])
def test_a_post_without_the_csrf_token_is_refused(advisor, path):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(advisor)

    response = browser.post(path, {"username": "l-adv", "password": PASSWORD, "notes": "Ann Carter: hi.",
                                   "channel": "meeting", "started_at": "2024-05-01 10:00"})

    assert response.status_code == 403, path
    # Django's page for the portal; DRF's JSON for the API (session-authenticated API calls need the token too).
    assert b"CSRF verification failed" in response.content or b"CSRF Failed" in response.content


def test_the_login_form_with_its_csrf_token_is_accepted(advisor):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.get("/login/")
    token = browser.cookies["csrftoken"].value

    response = browser.post("/login/", {"username": "l-adv", "password": PASSWORD, "csrfmiddlewaretoken": token})

    assert response.status_code == 302 and response.url == "/"
