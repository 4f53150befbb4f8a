"""The load test's lost-write check (`tests.bench.load.verify`) on the real Neo4j: it must see a write
that is lost or doubled, or its "0 lost writes" in BENCHMARKS.md would mean nothing."""
from __future__ import annotations

import json

import pytest

from advisor.services.importer import import_sessions
from memory.graph import driver as graph_driver
from tests.bench.corpus import generate
from memory.services.ingest import drain_outbox
from tests.bench.load import FIRM, IMPORT_FIRM, verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def imported(clean_graph) -> list[dict]:
    sessions = generate(seed=3, clients=1, sessions_per_client=4, turns_per_session=16, id_prefix="imp").sessions
    report = import_sessions((json.dumps(session) for session in sessions), IMPORT_FIRM)
    assert (report.sessions, report.pending, report.errors) == (4, 0, [])
    return sessions


def test_verify_finds_no_problem_when_every_imported_turn_is_stored_once(imported):
    checks = verify(imported=imported, said=[], asked=[])
    assert checks["problems"] == []
    assert (checks["imported_sessions_in_db"], checks["imported_turns_in_neo4j"]) == (4, 64)


def test_verify_reports_an_imported_turn_missing_from_neo4j(imported):
    turn_id = imported[2]["turns"][5]["turn_id"]
    graph_driver.write(lambda tx: tx.run("MATCH (t:Turn {turn_id: $turn}) DETACH DELETE t", turn=turn_id).consume())
    assert verify(imported=imported, said=[], asked=[])["problems"] == [
        "imported turns: 1 missing from Neo4j, 0 unexpected there"]


def test_verify_reports_an_imported_turn_stored_twice_in_neo4j(imported):
    session, turn = imported[0]["session_id"], imported[0]["turns"][0]["turn_id"]
    graph_driver.write(lambda tx: tx.run(
        "MATCH (t:Turn {turn_id: $turn}) CREATE (copy:Turn) SET copy = properties(t), copy.id = t.id + '-copy'",
        turn=turn).consume())
    assert verify(imported=imported, said=[], asked=[])["problems"] == [
        f"imported turn ('imp00000', '{session}', '{turn}') in Neo4j 2 times"]


def test_verify_reports_an_acknowledged_chat_round_the_database_lacks(imported):
    said = [{"client_id": "imp00000", "text": "Am I on track? (load load-client-0 #1)"}]
    assert verify(imported=imported, said=said, asked=[])["problems"] == [
        "chat round 'Am I on track? (load load-client-0 #1)': 0 rows"]


def test_verify_reports_an_answer_the_api_returned_but_the_database_lacks(imported):
    assert verify(imported=imported, said=[], asked=[{"advice_id": "adv-never-stored"}])["problems"] == [
        "answers: 1 returned, 0 stored"]


def test_verify_reports_a_stored_answer_whose_note_never_reached_neo4j(imported):
    from advisor.models import Client, Firm
    from twin.services.advice import ask

    firm = Firm.objects.create(slug=FIRM, name="Load")
    client = Client.objects.create(firm=firm, external_id="load-client-0", name="Ann Load")
    answered, queued = ask(client=client, question="Am I on track?"), ask(client=client, question="And now?")
    drain_outbox()  # writes both notes; one is then lost, as a drain that never ran would leave it
    graph_driver.write(lambda tx: tx.run("MATCH (n:Note {id: $id}) DETACH DELETE n",
                                         id=queued.advice.memory_id).consume())

    checks = verify(imported=imported, said=[], asked=[{"advice_id": answered.advice.id}])
    assert checks["problems"] == ["advice notes: 2 stored answers, 1 notes in Neo4j, 0 doubled"]


def test_the_load_report_counts_the_cpu_of_the_postgresql_server_it_runs_on():
    from django.db import connection

    from tests.bench.load import CpuMeter, _local_postmaster

    if connection.vendor != "postgresql":
        assert _local_postmaster() is None  # SQLite runs inside the processes already counted
        return
    meter = CpuMeter(roles={}, postmaster=_local_postmaster())
    with connection.cursor() as cursor:  # about a second of a backend's CPU
        cursor.execute("SELECT sum(sqrt(n)) FROM generate_series(1, 5000000) AS n")
    assert meter.finish()["cpu_seconds"]["postgresql"] >= 0.2
