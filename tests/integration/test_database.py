"""The system of record behaves the same on SQLite and PostgreSQL (`make test` runs this file on both).

PostgreSQL enforces what SQLite lets pass (column lengths, no NUL characters) and isolates concurrent
transactions differently (SQLite takes the write lock when a transaction begins; PostgreSQL lets two
run side by side until a unique index stops the second). Each test holds on either database.
"""
from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from advisor.models import Client, ConversationSession, Firm
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
from tests.conftest import REPO


def import_line(session_id: str, *, participants: dict | None = None, **turn: str) -> str:
    turn = {"turn_id": f"{session_id}-1", "speaker": "Kim Lee", "text": "I want to retire in 2036."} | turn
    return json.dumps({"client_id": "kim", "session_id": session_id, "started_at": "2024-02-01T09:00:00Z",
                       "participants": participants or {"Kim Lee": "client"}, "turns": [turn]})


@pytest.mark.django_db
@pytest.mark.parametrize("bad_line, error", [
    (import_line("b", speaker="S" * 201),
     "line 2: session 'b': turn 'b-1' needs a turn_id of at most 120 and a speaker of at most 200 characters"),
    (import_line("b", turn_id="t" * 121),
     f"line 2: session 'b': turn {'t' * 40!r} needs a turn_id of at most 120 and a speaker of at most 200 characters"),
    (import_line("b", participants={"Kim Lee": "client", "Alex": "r" * 41}),
     "line 2: session 'b': participant 'Alex' needs a name of at most 200 and a role of at most 40 characters"),
    (import_line("b", text="retire\u0000in 2036"),
     "line 2: session 'b': turn 'b-1' contains a NUL character (\\u0000), which cannot be stored"),
    (import_line("b", participants={"Kim Lee": "client", "Al\u0000ex": "advisor"}),
     "line 2: session 'b': a participant's name or role contains a NUL character (\\u0000), which cannot be stored"),
], ids=["long-speaker", "long-turn-id", "long-role", "nul-in-text", "nul-in-participant"])
def test_import_reports_a_line_the_database_cannot_store_and_keeps_the_lines_around_it(
        clean_graph, tmp_path, bad_line, error):
    # On PostgreSQL the refused row used to abort the import's transaction: the good lines were lost too.
    path = tmp_path / "sessions.jsonl"
    path.write_text("\n".join([import_line("a"), bad_line, import_line("c")]) + "\n")
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError, match=r"^1 lines could not be imported \(see above\); the rest were imported$"):
        call_command("memory_import", str(path), "--firm", "acme", stdout=out, stderr=err)

    assert err.getvalue().splitlines() == [error]
    assert out.getvalue().startswith("imported 2 sessions (2 turns), 0 unchanged, 1 lines with errors")
    assert sorted(ConversationSession.objects.values_list("external_id", flat=True)) == ["a", "c"]


def session_draft() -> SessionDraft:
    return SessionDraft(session_id="s-twice", channel="call", started_at=datetime(2024, 5, 1, 10, tzinfo=timezone.utc),
                        participants={"Ann Carter": "client"},
                        turns=(TurnDraft("s-twice-1", "Ann Carter", "I want to retire in 2034."),))


@pytest.mark.django_db(transaction=True)
def test_the_same_session_recorded_twice_at_once_is_stored_once_and_the_second_is_reported_unchanged():
    # Two imports of one file at the same time: the first has inserted the session but not committed yet
    # (an import commits every 200 sessions) when the second records it.
    firm = Firm.objects.create(slug="acme", name="Acme")
    client = Client.objects.create(firm=firm, external_id="ann", name="Ann Carter")
    first_inserted, first_may_commit = threading.Event(), threading.Event()
    outcomes, errors = {}, []

    def record(name: str, hold_open: bool) -> None:
        try:
            with transaction.atomic():
                outcomes[name] = record_session(client=client, draft=session_draft())
                if hold_open:
                    first_inserted.set()
                    first_may_commit.wait(timeout=30)
        except Exception as error:  # the assertion below shows it
            errors.append(f"{name}: {type(error).__name__}: {error}")
        finally:
            connection.close()

    first = threading.Thread(target=record, args=("first", True))
    first.start()
    assert first_inserted.wait(timeout=30)
    second = threading.Thread(target=record, args=("second", False))
    second.start()
    time.sleep(1.0)  # the second is now waiting: on the unique index (PostgreSQL) or the write lock (SQLite)
    first_may_commit.set()
    first.join(timeout=30)
    second.join(timeout=30)

    assert errors == []
    assert (outcomes["first"].created, outcomes["second"].created) == (True, False)
    assert outcomes["second"].session.pk == outcomes["first"].session.pk
    assert ConversationSession.objects.get().turns.count() == 1


def test_health_names_the_database_within_seconds_when_postgres_accepts_connections_and_never_answers():
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)
    env = dict(os.environ, DATABASE_URL=f"postgres://twin:secret@127.0.0.1:{hung.getsockname()[1]}/twin")
    probe = ("import django, json; django.setup(); from advisor.health import check_health; "
             "print(json.dumps(check_health()['database']))")
    try:
        # Without a connect timeout libpq waits as long as TCP does: the run would hit this timeout instead.
        result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env | {"DJANGO_SETTINGS_MODULE": "config.settings"},
                                capture_output=True, text=True, timeout=60)
    finally:
        hung.close()

    assert result.returncode == 0, result.stderr
    database = json.loads(result.stdout.splitlines()[-1])
    assert database["status"] == "down"
    assert database["detail"] == "OperationalError: connection timeout expired"
