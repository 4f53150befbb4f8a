"""Searches note what they returned after answering, batched by one writer per process."""
from __future__ import annotations

from collections import Counter
from unittest import mock

import pytest

from advisor.services.importer import import_sessions
from memory import api
from memory.graph import driver as graph_driver
from memory.graph.driver import GraphUnavailable
from memory.services import access_notes
from tests.integration.test_memory_graph import ANN_MARCH, BEN_MAY

pytestmark = pytest.mark.django_db


def access_counts() -> dict[str, int]:
    return {r["id"]: r["n"] for r in graph_driver.read(lambda tx: tx.run(
        "MATCH (m:Memory) WHERE m.access_count IS NOT NULL RETURN m.id AS id, m.access_count AS n").data())}


def test_each_search_counts_once_for_each_memory_it_returned_even_when_written_together(clean_graph):
    import_sessions([ANN_MARCH, BEN_MAY], "acme")
    with mock.patch.object(access_notes, "INTERVAL_SECONDS", 3600):  # only the explicit flush writes
        access_notes.flush()
        first = api.search(firm_id="acme", client_id="ann", query="when does she want to retire", k=5)
        second = api.search(firm_id="acme", client_id="ann", query="retirement year", k=5)
        access_notes.flush()

    expected = Counter(r.id for r in first) + Counter(r.id for r in second)
    assert expected and access_counts() == dict(expected)


def test_an_outage_while_noting_loses_only_those_notes_and_the_next_ones_are_written(clean_graph):
    import_sessions([ANN_MARCH], "acme")
    access_notes.flush()
    found = api.search(firm_id="acme", client_id="ann", query="when does she want to retire", k=3)
    with mock.patch("memory.graph.lifecycle.record_access", side_effect=GraphUnavailable("down")):
        access_notes.flush()  # logged, not raised: the search that caused it has long answered
    assert access_counts() == {}

    again = api.search(firm_id="acme", client_id="ann", query="when does she want to retire", k=3)
    access_notes.flush()
    assert [r.id for r in again] == [r.id for r in found] and access_counts() == {r.id: 1 for r in again}


def test_forgetting_counts_this_process_searches_before_it_decides(clean_graph):
    import_sessions([ANN_MARCH], "acme")
    access_notes.flush()
    with mock.patch.object(access_notes, "INTERVAL_SECONDS", 3600):
        found = api.search(firm_id="acme", client_id="ann", query="when does she want to retire", k=3)
        from memory.services.forgetting import forget

        forget(firm_id="acme", dry_run=True)
    assert access_counts() == {r.id: 1 for r in found}
