"""Both clocks against the real Neo4j: what was said and true on a date, and what the twin knew then."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from django.utils import timezone as django_timezone

from advisor.services.importer import import_sessions
from memory.api import forget_memory, search
from memory.graph import driver as graph_driver
from memory.scope import Reader
from memory.selectors import client_facts, client_profile
from memory.services.consolidation import consolidate
from memory.services.forgetting import forget
from tests.integration.test_memory_graph import ANN_MARCH, ANN_SEPTEMBER

pytestmark = pytest.mark.django_db
ANN = Reader("acme", "ann")
JUNE_2024 = datetime(2024, 6, 1, tzinfo=timezone.utc)


def turn_ids(results) -> set[str]:
    return {source for r in results if r.level == "turn" for source in r.sources}


def test_as_of_before_a_profile_change_shows_the_old_profile(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")
    consolidate(firm_id="acme")

    old, now = client_profile(ANN, as_of=JUNE_2024), client_profile(ANN)

    assert (old.version, now.version) == (1, 2)
    assert json.loads(old.fields)["risk tolerance"] == ["Client's risk tolerance is moderate"]
    assert json.loads(now.fields)["risk tolerance"] == ["Client's risk tolerance is conservative"]


def test_a_session_imported_late_is_true_in_the_past_but_was_not_known_then(clean_graph):
    import_sessions([ANN_MARCH], "acme")
    consolidate(firm_id="acme")
    before_import = django_timezone.now()
    import_sessions([ANN_SEPTEMBER], "acme")
    consolidate(firm_id="acme")

    assert [f.value for f in client_facts(ANN, known_at=before_import) if f.slot == "risk_tolerance"] == ["moderate"]
    assert [f.value for f in client_facts(ANN) if f.slot == "risk_tolerance"] == ["conservative"]
    assert "s2-0" not in turn_ids(search(firm_id="acme", client_id="ann", query="baby conservative risk",
                                         known_at=before_import))
    assert "s2-0" in turn_ids(search(firm_id="acme", client_id="ann", query="baby conservative risk",
                                     as_of=datetime(2024, 10, 1, tzinfo=timezone.utc)))
    assert client_profile(ANN, known_at=before_import).version == 1
    assert client_profile(ANN).version == 2


def test_a_later_forget_for_decay_does_not_rewrite_what_was_true_then(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")
    query = "How are you feeling about the markets"
    before_forgetting = django_timezone.now()
    forget(firm_id="acme", at=datetime(2034, 1, 1, tzinfo=timezone.utc), dry_run=False)

    assert "s1-0" not in turn_ids(search(firm_id="acme", client_id="ann", query=query))
    assert "s1-0" in turn_ids(search(firm_id="acme", client_id="ann", query=query, as_of=JUNE_2024))
    assert "s1-0" in turn_ids(search(firm_id="acme", client_id="ann", query=query, known_at=before_forgetting))


def test_a_retraction_leaves_the_past_too_but_not_what_the_twin_knew_before_it(clean_graph):
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "acme")
    query = "How are you feeling about the markets"
    turn = graph_driver.read(lambda tx: tx.run("MATCH (t:Turn {turn_id: 's1-0'}) RETURN t.id AS id").single()["id"])
    before_retraction = django_timezone.now()
    forget_memory(firm_id="acme", client_id="ann", memory_id=turn, reason="incorrect", actor="advisor")

    assert "s1-0" not in turn_ids(search(firm_id="acme", client_id="ann", query=query, as_of=JUNE_2024))
    assert "s1-0" in turn_ids(search(firm_id="acme", client_id="ann", query=query, known_at=before_retraction))


def test_memory_search_known_at_before_an_import_finds_nothing_of_it_and_a_bad_date_is_refused(clean_graph, tmp_path):
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    before_import = django_timezone.now()
    import_sessions([ANN_MARCH], "acme")

    def run(*args: str) -> list[dict]:
        out = io.StringIO()
        call_command("memory_search", "--client", "ann", "--firm", "acme", "--query", "Apple", *args, stdout=out)
        return json.loads(out.getvalue())

    assert run("--known-at", before_import.isoformat()) == []
    assert any("s1-2" in r["sources"] for r in run("--known-at", django_timezone.now().isoformat()))
    with pytest.raises(CommandError, match="--known-at 'yesterday' is not"):
        run("--known-at", "yesterday")
