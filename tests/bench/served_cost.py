"""What one request costs through a real web server: the gunicorn worker's CPU and PostgreSQL's, per endpoint.

    NEO4J_URI=bolt://127.0.0.1:PORT DATABASE_URL=postgres://... REDIS_URL=redis://127.0.0.1:6379/DB \
        .venv/bin/python -m tests.bench.served_cost --i-understand-this-empties-the-graph [--url-suffix '?conn_max_age=0']

tests/bench/request_cost.py measures in process with Django's test client, which never closes its
database connection: what a server pays per request for opening one is invisible there. This empties the
graph and the database, seeds the same client (request_cost.seed), starts gunicorn (config.wsgi, 1 sync
worker, DEBUG off) on a free loopback port, has the client say `--chat-rounds` things first, then sends
`--requests` requests to each endpoint one after another (after 5 unmeasured ones) as the signed-in
advisor or client, and reads from /proc the CPU of the gunicorn worker and of every PostgreSQL process,
backends that ended included (the postmaster's reaped-children times). PostgreSQL must run on this
machine; `--url-suffix` is appended to DATABASE_URL for the server only (e.g. `?conn_max_age=0`: a
connection per request, as before config/settings.py kept them).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.bench.cpu import postgres_seconds, postmaster_pid, process_seconds
from tests.bench.request_cost import QUESTIONS

ROOT = Path(__file__).resolve().parents[2]


def _signed_in(user) -> str:  # noqa: ANN001
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY], session[BACKEND_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def run(*, requests: int, chat_rounds: int, url_suffix: str) -> list[dict]:
    import psutil

    from tests.bench.request_cost import seed

    people = seed()
    client_id = people["client"].external_id
    advisor_session, client_session = _signed_in(people["advisor"]), _signed_in(people["user"])
    postmaster = postmaster_pid()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "false", "SECURE_SSL_REDIRECT": "false",
           "LOG_LEVEL": "WARNING", "DATABASE_URL": os.environ["DATABASE_URL"] + url_suffix}
    log = ROOT / "var" / "served-cost-gunicorn.log"
    web = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}",
                            "--workers", "1"], cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                           start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, web, log)
        worker = psutil.Process(web.pid).children()[0].pid
        csrf = _csrf_token(base, client_session, client_id)
        headers = {"Cookie": f"sessionid={client_session}; csrftoken={csrf}", "Referer": base + "/"}

        def say(number: int) -> None:
            body = urllib.parse.urlencode({"text": f"{QUESTIONS[number % len(QUESTIONS)]} (#{number})",
                                           "csrfmiddlewaretoken": csrf}).encode()
            _send(urllib.request.Request(f"{base}/chat/{client_id}/say", data=body, headers=headers), expect=302,
                  location=f"/chat/{client_id}/")

        def ask(number: int) -> None:
            body = json.dumps({"question": QUESTIONS[number % len(QUESTIONS)]}).encode()
            _send(urllib.request.Request(f"{base}/api/clients/{client_id}/ask", data=body, headers={
                **headers, "X-CSRFToken": csrf, "Content-Type": "application/json"}), expect=201)

        def page(path: str, session: str) -> Callable[[int], None]:
            return lambda number: _send(urllib.request.Request(base + path, headers={"Cookie": f"sessionid={session}"}),
                                        expect=200)

        for number in range(chat_rounds):
            say(number)
        endpoints = [("GET /clients/<id>/ (client page)", page(f"/clients/{client_id}/", advisor_session)),
                     ("GET /chat/<id>/ (chat page)", page(f"/chat/{client_id}/", client_session)),
                     ("POST /chat/<id>/say", say), ("POST /api/clients/<id>/ask", ask)]
        rows = []
        for name, call in endpoints:
            for number in range(5):
                call(1000 + number)
            web_before, postgres_before = process_seconds(worker), postgres_seconds(postmaster)
            for number in range(requests):
                call(number)
            time.sleep(0.3)  # backends that closed with the last request are reaped
            web_after, postgres_after = process_seconds(worker), postgres_seconds(postmaster)
            rows.append({"request": name, "gunicorn_cpu_ms": round(1000 * (web_after - web_before) / requests, 1),
                         "postgres_cpu_ms": round(1000 * (postgres_after - postgres_before) / requests, 1)})
        return rows
    finally:
        os.killpg(web.pid, 15)
        web.wait(timeout=60)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return None


def _send(request: urllib.request.Request, *, expect: int, location: str = "") -> None:
    """The request, checked: a lost session answers a redirect to the login page, which must not count."""
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=60) as response:
            status, headers = response.status, response.headers
            response.read()
    except urllib.error.HTTPError as error:
        status, headers = error.code, error.headers
    if status != expect or location not in (headers.get("Location") or ""):
        raise RuntimeError(f"{request.get_method()} {request.full_url} answered {status} "
                           f"{headers.get('Location') or ''}, expected {expect} {location}".rstrip())


def _csrf_token(base: str, session: str, client_id: str) -> str:
    request = urllib.request.Request(f"{base}/chat/{client_id}/", headers={"Cookie": f"sessionid={session}"})
    with urllib.request.build_opener(_NoRedirect).open(request, timeout=60) as response:
        for header in response.headers.get_all("Set-Cookie") or []:
            if header.startswith("csrftoken="):
                return header.split("=", 1)[1].split(";", 1)[0]
    raise RuntimeError("the chat page set no CSRF cookie")


def _wait_until_up(base: str, web: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({web.returncode}); see {log}")
        try:
            urllib.request.urlopen(f"{base}/login/", timeout=2).read()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"gunicorn did not answer in 120 s; see {log}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--chat-rounds", type=int, default=10)
    parser.add_argument("--url-suffix", default="", help="appended to DATABASE_URL for the server, e.g. ?conn_max_age=0")
    parser.add_argument("--i-understand-this-empties-the-graph", dest="force", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # The server runs with DEBUG off, which refuses the development key; the sessions signed in here must
    # be valid there, so both processes share one key.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(64))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    if not args.force:
        sys.exit("this empties the graph and the database it runs against: pass --i-understand-this-empties-the-graph")
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        sys.exit("this measures PostgreSQL's CPU too: set DATABASE_URL to a PostgreSQL server on this machine")
    call_command("migrate", "--noinput", verbosity=0)
    call_command("flush", "--noinput", verbosity=0)
    from memory.graph import schema
    from tests.bench.report import table
    from tests.conftest import empty_graph

    empty_graph()
    schema.migrate()
    rows = run(requests=args.requests, chat_rounds=args.chat_rounds, url_suffix=args.url_suffix)
    print(f"{args.requests} requests each, one after another, through gunicorn (1 sync worker, DEBUG off), after "
          f"{args.chat_rounds} chat rounds; CPU ms per request from /proc.\n\n"
          + table(rows, ["request", "gunicorn_cpu_ms", "postgres_cpu_ms"]))


if __name__ == "__main__":
    main()
