"""An import records each chunk of sessions together; drains of different partitions take different clients."""
from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from advisor.models import ConversationSession, ConversationTurn, SessionMemoryState
from advisor.services.importer import import_sessions
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
from audit import services as audit
from audit.models import AuditEntry
from memory.graph import driver as graph_driver
from memory.graph import episodes
from memory.models import OutboxEntry
from memory.services import ingest, outbox
from memory.services.ingest import drain_outbox
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db


def line(session_id: str, text: str = "I want to retire in 2031.", client_id: str = "olga") -> str:
    return json.dumps({
        "client_id": client_id, "session_id": session_id, "channel": "call", "started_at": "2024-04-01T12:00:00Z",
        "participants": {"Olga Petrova": "client", "Sam": "advisor"},
        "turns": [{"turn_id": f"{session_id}-1", "speaker": "Olga Petrova", "text": text},
                  {"turn_id": f"{session_id}-2", "speaker": "Sam", "text": "Noted."}],
    })


def test_a_chunk_records_each_new_session_once_with_its_turns_outbox_entry_and_audit_entry_in_order():
    lines = [line("a1"), "not json", line("b1", client_id="piet"), line("a1"), line("b1", "Changed.", "piet")]

    report = import_sessions(lines, "batches", drain=False)

    assert (report.sessions, report.unchanged, report.turns) == (2, 1, 4)
    assert [error.split(":")[0] for error in report.errors] == ["line 2", "line 5"]
    assert "already recorded with different content" in report.errors[1]
    sessions = list(ConversationSession.objects.order_by("pk").values_list("client__external_id", "external_id"))
    assert sessions == [("olga", "a1"), ("piet", "b1")]
    assert list(ConversationTurn.objects.filter(session__external_id="a1").order_by("position")
                .values_list("external_id", "role", "text")) == [("a1-1", "client", "I want to retire in 2031."),
                                                                ("a1-2", "advisor", "Noted.")]
    assert SessionMemoryState.objects.filter(status="pending").count() == 2
    queued = list(OutboxEntry.objects.order_by("pk").values_list("client_id", "payload__session_id", "status"))
    assert queued == [("olga", "a1", "pending"), ("piet", "b1", "pending")]
    entries = list(AuditEntry.objects.order_by("pk").values_list("action", "actor", "client_id", "target", "detail"))
    assert entries == [("session.recorded", "import", "olga", "session:a1", {"turns": 2, "channel": "call"}),
                       ("session.recorded", "import", "piet", "session:b1", {"turns": 2, "channel": "call"})]
    assert audit.verify_chain().ok


def test_turns_keep_their_order_speaker_role_text_and_instant_through_an_import_and_a_single_recording():
    timed = json.dumps({
        "client_id": "olga", "session_id": "t1", "channel": "call", "started_at": "2024-04-01T12:00:00Z",
        "participants": {"Olga Petrova": "client"},
        "turns": [{"turn_id": "t1-1", "speaker": "Olga Petrova", "text": "Zürich, 5 % — ok?", "at": "2024-04-01T14:05:00+02:00"},
                  {"turn_id": "t1-2", "speaker": "Guest", "text": "Hello."}],
    })
    import_sessions([timed], "batches", drain=False)
    client = ConversationSession.objects.get(external_id="t1").client
    record_session(client=client, actor="test", draft=SessionDraft(
        session_id="t2", channel="call", started_at=datetime(2024, 4, 2, tzinfo=UTC),
        participants={"Olga Petrova": "client"},
        turns=(TurnDraft("t2-1", "Olga Petrova", "Later.", datetime(2024, 4, 2, 9, 30, tzinfo=UTC)),)))

    turns = list(ConversationTurn.objects.order_by("session__external_id", "position").values_list(
        "session__external_id", "position", "external_id", "speaker", "role", "text", "spoken_at"))

    assert turns == [
        ("t1", 0, "t1-1", "Olga Petrova", "client", "Zürich, 5 % — ok?", datetime(2024, 4, 1, 12, 5, tzinfo=UTC)),
        ("t1", 1, "t1-2", "Guest", "", "Hello.", None),
        ("t2", 0, "t2-1", "Olga Petrova", "client", "Later.", datetime(2024, 4, 2, 9, 30, tzinfo=UTC))]


def test_reimporting_a_chunk_records_nothing_new():
    lines = [line("a1"), line("a2")]
    import_sessions(lines, "batches", drain=False)

    again = import_sessions(lines, "batches", drain=False)

    assert (again.sessions, again.unchanged, again.errors) == (0, 2, [])
    assert (ConversationSession.objects.count(), OutboxEntry.objects.count(), AuditEntry.objects.count()) == (2, 2, 2)


def test_partitions_of_the_outbox_split_it_by_client_without_overlap_or_gap():
    clients = [f"c{n}" for n in range(12)]
    import_sessions([line(f"{client}-s{n}", client_id=client) for client in clients for n in range(2)], "batches",
                    drain=False)

    parts = [outbox.due_entries(1000, partition=(part, 3)) for part in range(3)]

    taken = [entry.pk for part in parts for entry in part]
    assert sorted(taken) == sorted(OutboxEntry.objects.values_list("pk", flat=True))  # every record once
    owners = {entry.client_id: part for part, entries in enumerate(parts) for entry in entries}
    assert all(owners[entry.client_id] == part for part, entries in enumerate(parts) for entry in entries)
    assert sum(1 for entries in parts if entries) >= 2  # 12 clients do not all hash to one partition
    assert [e.pk for e in outbox.due_entries(2, partition=(0, 3))] == [e.pk for e in parts[0][:2]]  # oldest first
    with pytest.raises(ValueError, match="partition 3 of 3 does not exist"):
        outbox.due_entries(10, partition=(3, 3))


def test_a_partitioned_drain_writes_only_its_clients(clean_graph):
    import_sessions([line("a1", client_id="olga"), line("b1", client_id="piet")], "batches", drain=False)
    olga = outbox.client_partition(OutboxEntry.objects.get(client_id="olga"), 2)
    piet = outbox.client_partition(OutboxEntry.objects.get(client_id="piet"), 2)

    report = drain_outbox(partition=(olga, 2))

    assert report.sessions == (2 if olga == piet else 1)
    assert OutboxEntry.objects.get(client_id="olga").status == "stored"
    assert OutboxEntry.objects.get(client_id="piet").status == ("stored" if olga == piet else "pending")


def test_chunks_written_while_the_next_is_extracted_still_isolate_a_failing_build_and_a_failing_write(
        clean_graph, monkeypatch):
    real_extractor, real_write = ingest.get_extractor(), episodes.write_batch

    class Extractor:
        def extract(self, session):  # noqa: ANN001, ANN201
            if session.session_id == "s2":
                raise ValueError("the extractor tripped over s2")
            return real_extractor.extract(session)

    def write_batch(tx, batch):  # noqa: ANN001, ANN202
        if any(row["props"]["session_id"] == "s4" for row in batch.sessions):
            raise ValueError("Neo4j refused s4")
        real_write(tx, batch)

    monkeypatch.setattr(ingest, "DRAIN_BATCH_TURNS", 2)  # one session per chunk: five chunks in a row
    monkeypatch.setattr(ingest, "get_extractor", lambda: Extractor())
    monkeypatch.setattr(episodes, "write_batch", write_batch)
    import_sessions([line(f"s{n}") for n in range(1, 6)], "batches", drain=False)

    report = drain_outbox()

    assert (report.sessions, report.turns, report.failed, report.remaining) == (3, 6, 2, 2)
    written = graph_driver.read(lambda tx: sorted(r["s"] for r in tx.run(
        "MATCH (t:Turn {client_id: 'olga'}) RETURN DISTINCT t.session_id AS s")))
    assert written == ["s1", "s3", "s5"]
    states = dict(OutboxEntry.objects.values_list("payload__session_id", "status"))
    assert states == {"s1": "stored", "s2": "pending", "s3": "stored", "s4": "pending", "s5": "stored"}
    held_back = OutboxEntry.objects.filter(status="pending")
    assert all(e.attempts == 1 and e.next_attempt_at > timezone.now() for e in held_back)
    assert {e.last_error for e in held_back} == {"the extractor tripped over s2", "Neo4j refused s4"}


@pytest.mark.django_db(transaction=True)
def test_an_import_drained_by_two_processes_writes_every_clients_sessions_once(clean_graph, monkeypatch, tmp_path):
    clients = ("olga", "piet", "ann", "ben", "cem")
    lines = [line(f"{client}-{n}", f"I want to retire in {2030 + n}.", client) for client in clients for n in range(3)]
    real_drain = ingest.drain_outbox

    def drain_noting_its_process(*args, **kwargs):  # the forked children inherit it
        (tmp_path / f"drain-{os.getpid()}").write_text(str(kwargs.get("partition")))
        return real_drain(*args, **kwargs)

    monkeypatch.setattr(ingest, "drain_outbox", drain_noting_its_process)
    report = import_sessions(lines, "two-drains", drain_workers=2)

    drains = {path.name: path.read_text() for path in tmp_path.glob("drain-*")}
    assert sorted(drains.values()) == ["(0, 2)", "(1, 2)"] and f"drain-{os.getpid()}" not in drains

    assert (report.sessions, report.turns, report.pending, report.errors) == (15, 30, 0, [])
    turns = graph_driver.read(lambda tx: tx.run(
        "MATCH (t:Turn) WHERE t.firm_id = 'two-drains' RETURN t.client_id AS client, count(*) AS n").values())
    assert sorted(turns) == sorted([client, 6] for client in clients)
    assert set(OutboxEntry.objects.values_list("status", flat=True)) == {"stored"}
    assert set(SessionMemoryState.objects.values_list("status", flat=True)) == {"stored"}  # each child's signal
    partitions = {outbox.client_partition(entry, 2) for entry in OutboxEntry.objects.all()}
    assert partitions == {0, 1}  # both processes had clients to write


@pytest.mark.django_db(transaction=True)
def test_drains_write_what_is_recorded_while_the_rest_is_still_being_recorded(clean_graph):
    with ingest.drain_alongside(2) as drained:
        import_sessions([line("early", client_id="olga"), line("early-too", client_id="piet")], "alongside",
                        drain=False)
        wait_until(lambda: OutboxEntry.objects.filter(payload__session_id__in=["early", "early-too"],
                                                      status="stored").count() == 2,
                   "the sessions recorded first to be written while this block still runs", seconds=60)
        import_sessions([line("late", client_id="olga")], "alongside", drain=False)

    assert (drained.report.sessions, drained.report.turns, drained.report.remaining) == (3, 6, 0)
    assert set(OutboxEntry.objects.values_list("status", flat=True)) == {"stored"}
    turns = graph_driver.read(lambda tx: tx.run(
        "MATCH (t:Turn) WHERE t.firm_id = 'alongside' RETURN t.client_id AS client, count(*) AS n").values())
    assert sorted(turns) == [["olga", 4], ["piet", 2]]


@pytest.mark.django_db(transaction=True)
def test_when_recording_fails_the_drains_still_write_what_was_recorded_and_the_error_is_raised(clean_graph):
    with pytest.raises(RuntimeError, match="the disk filled up"):
        with ingest.drain_alongside(2):
            import_sessions([line("kept", client_id="olga")], "alongside-failed", drain=False)
            raise RuntimeError("the disk filled up")

    assert list(OutboxEntry.objects.values_list("status", flat=True)) == ["stored"]
    assert graph_driver.read(lambda tx: tx.run(
        "MATCH (t:Turn) WHERE t.firm_id = 'alongside-failed' RETURN count(*)").single()[0]) == 2


@pytest.mark.django_db(transaction=True)
def test_drain_processes_start_after_a_celery_ping_left_a_broker_channel_waiting(clean_graph, redis_client):
    """`control.ping(limit=1)` (/healthz, the suite's worker check) returns with a BRPOP still waiting on a
    pooled broker connection. Kombu closes inherited connections in a forked child, and closing that
    channel read the reply from the parent's socket: the drain processes hung for ever."""
    from kombu import Queue

    from config.celery import app

    # What a ping leaves behind, whether or not a worker answers: a pooled connection whose channel still
    # waits on a BRPOP after its consumer stopped.
    with app.pool.acquire(block=True) as connection:
        with connection.Consumer(Queue("drain-fork-test", auto_delete=True), accept=["json"]):
            with contextlib.suppress(socket.timeout):
                connection.drain_events(timeout=0.2)
    pooled = [connection for connection in app.pool._resource.queue if hasattr(connection, "transport")]
    assert any(getattr(channel, "_in_poll", False) for connection in pooled
               for channel in connection.transport.cycle._channels)  # what hung the children
    finished = threading.Event()
    reports = []

    def run() -> None:
        reports.append(import_sessions([line(f"{client}-1", client_id=client) for client in ("olga", "piet")],
                                       "after-ping", drain_workers=2))
        finished.set()

    threading.Thread(target=run, daemon=True).start()
    assert finished.wait(90), "the drain processes did not finish"
    assert (reports[0].sessions, reports[0].pending) == (2, 0)


@pytest.mark.django_db(transaction=True)
def test_an_import_drained_by_two_processes_keeps_every_session_queued_when_neo4j_is_down(clean_graph, settings):
    from memory.graph.driver import GraphUnavailable

    settings.NEO4J_URI, settings.NEO4J_CONNECTION_TIMEOUT = "bolt://127.0.0.1:1", 1.0
    graph_driver.close_driver()
    try:
        with pytest.raises(GraphUnavailable):
            import_sessions([line(f"{client}-1", client_id=client) for client in ("olga", "piet", "ann")],
                            "two-drains-down", drain_workers=2)
    finally:
        graph_driver.close_driver()

    assert OutboxEntry.objects.count() == 3
    assert set(OutboxEntry.objects.values_list("status", "attempts")) == {("pending", 1)}


def test_a_forked_child_opens_its_own_neo4j_driver_and_leaves_the_parents_connections_alone(graph):
    """Two processes on one Bolt connection read each other's answers; closing the inherited driver in
    the child would say goodbye on the parent's connections."""
    parent_driver = graph_driver.get_driver()
    assert graph_driver.read(lambda tx: tx.run("RETURN 1 AS one").single()["one"]) == 1  # a pooled connection
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.close(read_end)
            own = graph_driver.get_driver()
            answer = graph_driver.read(lambda tx: tx.run("RETURN 2 AS two").single()["two"])
            graph_driver.close_driver()
            os.write(write_end, f"{own is not parent_driver} {answer}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        said = pipe.read()
    os.waitpid(pid, 0)
    assert said == "True 2"
    assert graph_driver.get_driver() is parent_driver
    assert graph_driver.read(lambda tx: tx.run("RETURN 3 AS three").single()["three"]) == 3


@pytest.mark.django_db(transaction=True)
def test_an_imported_security_is_linked_to_its_sector_once_across_both_drains(clean_graph):
    from memory.extraction.securities import sector_of

    lines = [line(f"{client}-1", "I hold Apple and Exxon Mobil.", client) for client in ("olga", "piet", "ann")]
    import_sessions(lines, "sectors", drain_workers=2)

    links = graph_driver.read(lambda tx: tx.run(
        "MATCH (s:Security)-[:IN_SECTOR]->(sector:Sector) RETURN s.symbol, sector.id, sector.name ORDER BY s.symbol"
    ).values())
    assert links == [[symbol, f"sector:{sector_of(symbol).lower()}", sector_of(symbol)] for symbol in ("AAPL", "XOM")]
    assert graph_driver.read(lambda tx: tx.run("MATCH (sector:Sector) RETURN count(*)").single()[0]) == len(
        {sector_of("AAPL"), sector_of("XOM")})
