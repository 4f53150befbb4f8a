"""People in a client's life resolved against the real Neo4j, and the advisor's review queue."""
from __future__ import annotations

import pytest

from advisor.services.importer import import_sessions
from audit.models import AuditEntry
from memory.graph import driver as graph_driver
from memory.scope import Reader
from memory.services import entities
from memory.services.consolidation import consolidate
from tests.integration.test_memory_graph import session_line
from tests.integration.test_portal import firm_people  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
ANN = Reader("acme", "ann")
FAMILY = session_line("ann", "f1", "2024-04-02T10:00:00Z", [
    ("Ann Carter", "My daughter Emma starts college next year."),
    ("Alex Morgan", "How is she feeling about it?"),
    ("Ann Carter", "Emma is thrilled, she wants to study law."),
    ("Ann Carter", "Emma Carter, future lawyer, she says."),
])
UNNAMED = session_line("ann", "f2", "2024-06-02T10:00:00Z", [
    ("Ann Carter", "My daughter needs help with tuition in September."),
])


def person_snapshot() -> list[tuple]:
    """Each person's properties and every link to or from it."""
    def _read(tx):
        nodes = [(r["id"], sorted((k, str(v)) for k, v in r["props"].items()))
                 for r in tx.run("MATCH (p:Person) RETURN p.id AS id, properties(p) AS props ORDER BY id")]
        links = tx.run("MATCH (a)-[r]-(p:Person) WHERE type(r) <> 'SAME_PERSON' "
                       "RETURN p.id, type(r), a.id, startNode(r) = p ORDER BY p.id, type(r), a.id").values()
        return nodes + [tuple(link) for link in links]
    return graph_driver.read(_read)


def people() -> dict[str, tuple[str, set[str]]]:
    rows = graph_driver.read(lambda tx: tx.run(
        "MATCH (p:Person) OPTIONAL MATCH (t:Turn)-[:MENTIONS]->(p) "
        "RETURN p.key AS key, p.status AS status, collect(t.turn_id) AS turns").data())
    return {r["key"]: (r["status"], set(r["turns"])) for r in rows}


def test_my_daughter_emma_and_emma_resolve_to_one_person_and_the_full_name_merges_into_it_keeping_every_link(clean_graph):
    import_sessions([FAMILY], "acme")

    consolidate(firm_id="acme")

    found = people()
    assert found["emma carter"] == ("active", {"f1-0", "f1-2", "f1-3"})
    assert found["emma"] == ("merged", {"f1-0", "f1-2"})  # the absorbed person keeps its own links
    merged_into = graph_driver.read(lambda tx: tx.run(
        "MATCH (:Person {key: 'emma'})-[:MERGED_INTO]->(k:Person) RETURN k.key AS key, k.relations AS relations").single())
    assert (merged_into["key"], merged_into["relations"]) == ("emma carter", ["daughter"])


def test_an_unsure_pair_waits_for_an_advisor_and_a_rejection_leaves_both_as_they_were(clean_graph):
    import_sessions([FAMILY, UNNAMED], "acme")
    consolidate(firm_id="acme")
    [pending] = entities.pending_merges(ANN)
    before = person_snapshot()

    entities.decide_merge(ANN, pending.id, confirm=False, actor="adv")

    assert (pending.keep_name, pending.absorb_name, pending.confidence) == ("Emma Carter", "their daughter", 0.7)
    assert person_snapshot() == before
    assert entities.pending_merges(ANN) == []
    consolidate(firm_id="acme")  # a rejected pair is never proposed again
    assert entities.pending_merges(ANN) == [] and person_snapshot() == before
    assert AuditEntry.objects.filter(action="memory.person_merge.reject", target=f"merge:{pending.id}").count() == 1


def test_a_confirmed_merge_keeps_all_provenance(clean_graph):
    import_sessions([FAMILY, UNNAMED], "acme")
    consolidate(firm_id="acme")
    [pending] = entities.pending_merges(ANN)

    entities.decide_merge(ANN, pending.id, confirm=True, actor="adv")

    found = people()
    assert found["emma carter"] == ("active", {"f1-0", "f1-2", "f1-3", "f2-0"})
    assert found["relation:daughter"] == ("merged", {"f2-0"})
    with pytest.raises(entities.MergeNotFound):
        entities.decide_merge(ANN, pending.id, confirm=False, actor="adv")


def test_the_portal_lists_the_review_queue_and_an_advisor_rejects_from_it(client, clean_graph, firm_people):  # noqa: F811
    import_sessions([FAMILY, UNNAMED], "p-firm")
    consolidate(firm_id="p-firm")
    client.force_login(firm_people["advisor"])
    page = client.get("/clients/ann/").content.decode()
    [pending] = entities.pending_merges(Reader("p-firm", "ann"))
    assert "Same person?" in page and "their daughter" in page

    response = client.post(f"/clients/ann/people/merges/{pending.id}", {"decision": "reject"})

    assert response.status_code == 302
    assert entities.pending_merges(Reader("p-firm", "ann")) == []
    client.force_login(firm_people["client_user"])
    assert client.post(f"/clients/ann/people/merges/{pending.id}", {"decision": "confirm"}).status_code == 403
