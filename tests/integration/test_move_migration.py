"""Per-client market-move events written before moves were shared, migrated to the shared shape.

The graph is built as the code before the shared events wrote it (one `:Memory:Event` per client, security
and day in the client's scope, `ABOUT` the security and the client, cited by advice with a plain `CITES`),
then migrated by `graph_migrate`'s step (memory/graph/move_migration.py).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from advisor.models import Client
from advisor.services.importer import import_sessions
from marketdata.services.refresh import refresh_remembered_quotes
from memory import api
from memory.embeddings import embed_texts
from memory.graph import driver as graph_driver
from memory.graph import schema
from memory.graph.move_migration import MIGRATION, migrate_moves
from memory.ids import stable_id
from memory.scope import Reader, client_scope, market_scope
from tests.integration.test_quotes import FixedProvider

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
ANN_APPLE = "AAPL moved +32.0% since Ann Carter discussed it at 100.00 on 3 March 2024 (now 132.00)."
BEN_APPLE = ("AAPL moved +5.6% since the last alert at 125.00 (now 132.00); +10.0% since Ben Okafor discussed it "
             "at 120.00 on 1 May 2024.")
ANN_IBM = "IBM moved +15.0% since Ann Carter discussed it at 200.00 on 3 March 2024 (now 230.00)."


def session(client_id: str, name: str, session_id: str, started: str, text: str) -> str:
    return json.dumps({"client_id": client_id, "session_id": session_id, "channel": "call", "started_at": started,
                       "participants": {name: "client"},
                       "turns": [{"turn_id": f"{session_id}-1", "speaker": name, "text": text}]})


def old_move(client_id: str, symbol: str, text: str, move: float, **forgotten: object) -> str:
    """One move event as the code before shared events wrote it (commit 776af9c, record_move_events)."""
    client_node = client_scope("acme", client_id)
    memory_id = stable_id("market_move", client_node, symbol, T0.date().isoformat())
    [embedding] = embed_texts([f"{symbol} price moved sharply up since the client discussed it"])
    graph_driver.write(lambda tx: tx.run(
        """
        MATCH (c:Client {id: $client})-[:TRACKS]->(s:Security {symbol: $symbol})
        CREATE (e:Memory:Event {id: $id, level: 'observation', kind: 'market_move', importance: 0.6,
                                visibility: 'client', status: 'active', text: $text, scope: $client,
                                firm_id: 'acme', client_id: $client_id, symbol: $symbol, move_percent: $move,
                                source: 'market:fixed', created_at: $created, recorded_at: $at, valid_from: $at,
                                embedding: $embedding})
        SET e += $forgotten
        CREATE (e)-[:ABOUT]->(s), (e)-[:ABOUT]->(c)
        """,
        client=client_node, client_id=client_id, symbol=symbol, id=memory_id, text=text, move=move,
        created=T0 + timedelta(minutes=5), at=T0, embedding=embedding, forgotten=forgotten,
    ).consume())
    return memory_id


@pytest.fixture
def old_graph(clean_graph):
    """Ann discussed Apple at 100.00 and IBM at 200.00, Ben Apple at 120.00. On T0 each got their own move
    event: Ann's Apple move (cited by the twin's advice to her), Ben's (measured from his last alert), and
    Ann's IBM move, which she retracted."""
    import_sessions([session("ann", "Ann Carter", "a1", "2024-03-03T10:00:00Z",
                             "I bought Apple at $100.00 and IBM at $200.00."),
                     session("ben", "Ben Okafor", "b1", "2024-05-01T10:00:00Z", "I bought Apple at $120.00.")], "acme")
    ann_apple = old_move("ann", "AAPL", ANN_APPLE, 32.0)
    old_move("ben", "AAPL", BEN_APPLE, 5.6)
    old_move("ann", "IBM", ANN_IBM, 15.0, status="forgotten", forgotten_reason="retracted",
             forgotten_at=T0 + timedelta(days=1))
    note = api.remember(firm_id="acme", client_id="ann", text="Apple has risen by a third since you bought it.",
                        source="agent:twin", cites=[ann_apple])
    assert cites_of(note) == [(ann_apple, None)]  # the old citation shape
    return note


def old_events() -> int:
    return graph_driver.read(lambda tx: tx.run(
        "MATCH (e:Memory {kind: 'market_move'}) WHERE e.scope <> $market RETURN count(e) AS n",
        market=market_scope()).single()["n"])


def shared_events() -> list[dict]:
    return graph_driver.read(lambda tx: [r.data() for r in tx.run(
        "MATCH (e:Event {kind: 'market_move'})-[:ABOUT]->(s:Security) "
        "RETURN e.id AS id, e.text AS text, e.scope AS scope, e.price AS price, e.day AS day, s.symbol AS symbol, "
        "e.recorded_at = $at AS at_t0, size(e.embedding) AS dimensions ORDER BY id", at=T0)])


def links() -> list[dict]:
    return graph_driver.read(lambda tx: [r.data() for r in tx.run(
        "MATCH (c:Client)-[r:SAW_MOVE]->(e:Event) "
        "RETURN c.client_id AS client, e.id AS event, r.scope = c.id AS scoped, r.text AS text, r.status AS status, "
        "r.forgotten_reason AS reason, r.move_percent AS move, r.drift_percent AS drift, "
        "r.discussed_price AS discussed, r.discussed_on AS discussed_on, r.alerted_price AS alerted, "
        "r.created_at = $created AS created_then ORDER BY event, client", created=T0 + timedelta(minutes=5))])


def cites_of(note_id: str) -> list[tuple[str, str | None]]:
    return sorted(tuple(row) for row in graph_driver.read(lambda tx: tx.run(
        "MATCH (:Note {id: $id})-[c:CITES]->(m) RETURN m.id AS id, c.client AS client", id=note_id).values()))


def forget_migration_done() -> None:
    graph_driver.write(lambda tx: tx.run("MATCH (m:GraphMigration {name: $name}) DELETE m", name=MIGRATION).consume())


@pytest.mark.parametrize("migrate", [
    schema.migrate,  # graph_migrate's own step, in its default batches
    lambda: migrate_moves(nodes_per_transaction=1, clients_per_transaction=1),  # one node per transaction
], ids=["graph_migrate", "one_per_transaction"])
def test_old_per_client_moves_become_one_shared_event_per_day_and_each_clients_link(old_graph, migrate):
    migrate()

    assert old_events() == 0
    assert shared_events() == [
        {"id": "market_move:AAPL:2026-03-01", "symbol": "AAPL", "scope": market_scope(), "price": 132.0,
         "day": "2026-03-01", "at_t0": True, "dimensions": 256,
         "text": "AAPL moved significantly for clients who discussed it: 132.00 on 1 March 2026."},
        {"id": "market_move:IBM:2026-03-01", "symbol": "IBM", "scope": market_scope(), "price": 230.0,
         "day": "2026-03-01", "at_t0": True, "dimensions": 256,
         "text": "IBM moved significantly for clients who discussed it: 230.00 on 1 March 2026."},
    ]
    assert links() == [
        {"client": "ann", "event": "market_move:AAPL:2026-03-01", "scoped": True, "text": ANN_APPLE,
         "status": "active", "reason": None, "move": 32.0, "drift": 32.0, "discussed": 100.0,
         "discussed_on": "2024-03-03", "alerted": None, "created_then": True},
        {"client": "ben", "event": "market_move:AAPL:2026-03-01", "scoped": True, "text": BEN_APPLE,
         "status": "active", "reason": None, "move": 5.6, "drift": 10.0, "discussed": 120.0,
         "discussed_on": "2024-05-01", "alerted": 125.0, "created_then": True},
        {"client": "ann", "event": "market_move:IBM:2026-03-01", "scoped": True, "text": ANN_IBM,
         "status": "forgotten", "reason": "retracted", "move": 15.0, "drift": 15.0, "discussed": 200.0,
         "discussed_on": "2024-03-03", "alerted": None, "created_then": True},
    ]
    assert cites_of(old_graph) == [("market_move:AAPL:2026-03-01", client_scope("acme", "ann"))]


def test_after_migration_search_and_the_twin_see_the_clients_move_in_their_own_words(old_graph):
    from twin.services.context import gather_context

    schema.migrate()
    ann_link = f"market_move:AAPL:2026-03-01@{client_scope('acme', 'ann')}"

    for mode, query in (("hybrid", "Apple moved since discussed"), ("fulltext", "AAPL moved since discussed")):
        found = [(r.id, r.text) for r in api.search(firm_id="acme", client_id="ann", query=query, k=20, mode=mode)
                 if r.kind == "market_move"]
        assert found == [(ann_link, ANN_APPLE)], mode  # her IBM move stays forgotten
        [(ben_id, ben_text)] = [(r.id, r.text) for r in api.search(firm_id="acme", client_id="ben", query=query,
                                                                    k=20, mode=mode) if r.kind == "market_move"]
        assert (ben_id.endswith(client_scope("acme", "ben")), ben_text) == (True, BEN_APPLE), mode
    context = gather_context(client=Client.objects.get(external_id="ann"), reader=Reader("acme", "ann"),
                             question="How has Apple moved since I discussed it?")
    assert [(m.id, m.text) for m in context.recalled if m.kind == "market_move"] == [(ann_link, ANN_APPLE)]


def test_a_migrated_move_the_clients_advice_cited_is_kept_when_the_same_uncited_move_decays(old_graph):
    from memory.services import forgetting

    schema.migrate()
    report = forgetting.forget(firm_id="acme", at=T0 + timedelta(days=3 * 365), dry_run=False)

    # a move: 0.6 x exp(-1095/90) ~ 0 after three years; only Ann's is cited by stored advice.
    assert [(link["client"], link["event"], link["status"]) for link in links()] == [
        ("ann", "market_move:AAPL:2026-03-01", "active"),
        ("ben", "market_move:AAPL:2026-03-01", "forgotten"),
        ("ann", "market_move:IBM:2026-03-01", "forgotten"),
    ]
    assert report.protected["cited by stored advice"] >= 1


def test_running_the_migration_again_changes_nothing(old_graph):
    schema.migrate()
    before = (shared_events(), links(), cites_of(old_graph))

    assert schema.migrate() and migrate_moves().skipped  # completed: later starts read one node
    forget_migration_done()
    again = migrate_moves()

    assert (again.links_scoped, again.moves_converted, again.moves_left) == (0, 0, 0)
    assert (shared_events(), links(), cites_of(old_graph)) == before


def test_links_written_before_the_link_index_get_their_clients_scope_and_are_found_by_full_text(clean_graph):
    import_sessions([session("ann", "Ann Carter", "a1", "2024-03-03T10:00:00Z", "I bought Apple at $100.00.")],
                    "acme")
    refresh_remembered_quotes(provider=FixedProvider({"AAPL": 132.0}, T0), now=T0)
    graph_driver.write(lambda tx: tx.run("MATCH ()-[r:SAW_MOVE]->() REMOVE r.scope").consume())
    forget_migration_done()

    assert migrate_moves().links_scoped == 1
    assert [r.text for r in api.search(firm_id="acme", client_id="ann", query="AAPL moved since discussed",
                                       mode="fulltext") if r.kind == "market_move"] == [ANN_APPLE]
