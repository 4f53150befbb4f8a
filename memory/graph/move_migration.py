"""Market moves written before they were shared, brought to the shared shape (run by `schema.migrate`).

Before, a significant move was one `(:Memory:Event {kind: 'market_move'})` node per client, security and
day, in the client's scope (id `stable_id('market_move', client, symbol, day)`, no `@`), holding the
client's sentence, `move_percent` and its own embedding, `ABOUT` the security and the client, and cited
by advice as `(note)-[:CITES]->(node)`. Now a move is one shared event per security and day in the
market scope and each client's part of it is their `SAW_MOVE` link (memory/graph/securities.py
`record_move_events`), cited as `(note)-[:CITES {client}]->(event)`. This module:

1. gives every `SAW_MOVE` link its client's `scope` token, which the links' full-text index filters on
   (links written before that index existed lack it);
2. turns each old node into the shared event of its security-day (MERGEd: created once, from the first
   old node met, with that node's embedding) plus the client's link carrying the client's sentence, the
   move, the price discussed and when, the last alert's price and the drift (read back from the sentence:
   the old node kept only the sentence and the move), its status, forgetting and access counts, and
   timestamps; re-points the advice that cited the old node to the link's citation shape; deletes it.

Both walk the graph in keyset order, a bounded batch per transaction, so a graph of millions of links is
migrated in many small transactions. A `:GraphMigration` node records that the walk completed, so later
starts cost one lookup (no code writes the old shape any more). Old nodes whose client or security node
is gone, or that an advisor revised (`superseded_at`: their revision cites them), are left as they were:
they stay readable in the client's scope as before.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from neo4j import ManagedTransaction

from memory.graph import driver
from memory.graph.changes import RAISE_CLIENT_VERSION
from memory.graph.securities import MOVE_EVENT_PREFIX, move_event_id
from memory.graph.values import Rows, native
from memory.scope import market_scope

logger = logging.getLogger(__name__)

MIGRATION = "shared_market_moves"
# Old nodes per write transaction (each copies an embedding inside the server) and clients per link
# backfill transaction (a client has at most a few thousand links): both far below a 1 GB heap's pool.
NODES_PER_TRANSACTION = 1_000
CLIENTS_PER_TRANSACTION = 500

# The sentences the old move events were written with (marketdata/services/move_alerts.py `_move_text`).
_DISCUSSED = re.compile(r"discussed it at (?P<price>\d+(?:\.\d+)?) on (?P<day>\d{1,2} [A-Z][a-z]+ \d{4})")
_NOW = re.compile(r"\(now (?P<price>\d+(?:\.\d+)?)\)")
_ALERT = re.compile(r"since the last alert at (?P<price>\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class MoveMigration:
    links_scoped: int  # links that had no scope token
    moves_converted: int  # old per-client nodes turned into a shared event and a link
    moves_left: int  # old nodes left as they were (client or security gone, or revised)
    skipped: bool = False  # the migration had completed before: nothing was read


def migrate_moves(*, nodes_per_transaction: int = NODES_PER_TRANSACTION,
                  clients_per_transaction: int = CLIENTS_PER_TRANSACTION) -> MoveMigration:
    """Bring every market move to the shared shape, once; idempotent (a repeated walk changes nothing)."""
    if driver.read(lambda tx: tx.run("MATCH (m:GraphMigration {name: $name}) RETURN m LIMIT 1",
                                     name=MIGRATION).single()) is not None:
        return MoveMigration(0, 0, 0, skipped=True)
    scoped = _scope_links(clients_per_transaction)
    converted, left = _convert_old_moves(nodes_per_transaction)
    driver.write(lambda tx: tx.run("MERGE (m:GraphMigration {name: $name}) ON CREATE SET m.completed_at = datetime()",
                                   name=MIGRATION).consume())
    if scoped or converted or left:
        logger.info("market moves migrated: %d links given their scope, %d per-client events shared, %d left",
                    scoped, converted, left)
    return MoveMigration(scoped, converted, left)


def _scope_links(per_transaction: int) -> int:
    """Set each link's `scope` to its client's node id (the client's scope token), clients in id order."""
    scoped, after = 0, ""

    def _write(tx: ManagedTransaction, after: str) -> tuple[int, str | None]:
        record = tx.run(
            """
            MATCH (c:Client) WHERE c.id > $after WITH c ORDER BY c.id LIMIT $clients
            WITH collect(c) AS clients
            CALL (clients) {
              UNWIND clients AS c
              MATCH (c)-[r:SAW_MOVE]->() WHERE r.scope IS NULL
              SET r.scope = c.id
              RETURN count(r) AS scoped
            }
            RETURN scoped, clients[-1].id AS last
            """,
            after=after, clients=per_transaction,
        ).single()
        return record["scoped"], record["last"]

    while True:
        count, last = driver.write(_write, after=after)
        scoped += count
        if last is None:
            return scoped
        after = last


def _convert_old_moves(per_transaction: int) -> tuple[int, int]:
    """Old per-client move nodes, a batch at a time in id order, to shared events and links."""
    converted = left = 0
    after = MOVE_EVENT_PREFIX
    while True:
        batch = driver.read(_read_old_moves, after=after, limit=per_transaction, market=market_scope())
        if not batch["rows"]:
            return converted, left
        rows = [_link_row(row) for row in batch["rows"]]
        done = driver.write(_write_shared, rows=Rows(rows), market=market_scope())
        converted += done
        left += len(rows) - done
        after = batch["last"]


def _read_old_moves(tx: ManagedTransaction, after: str, limit: int, market: str) -> dict:
    """The next old nodes after id `after` (the id index walks them in order: `market_move:` prefix, then
    not shared: old ids have no symbol-and-day, shared events are in the market scope)."""
    result = tx.run(
        """
        MATCH (m:Memory) WHERE m.id STARTS WITH $prefix AND m.id > $after
        WITH m ORDER BY m.id
        WITH m WHERE m.scope <> $market AND m:Event AND m.kind = 'market_move' AND m.superseded_at IS NULL
        WITH m LIMIT $limit
        RETURN m.id AS id, m.symbol AS symbol, m.text AS text, m.source AS source, m.recorded_at AS recorded_at
        """,
        prefix=MOVE_EVENT_PREFIX, after=after, limit=limit, market=market,
    )
    rows = [native(record.data()) for record in result]
    return {"rows": rows, "last": rows[-1]["id"] if rows else None}


def _link_row(row: dict) -> dict:
    """What the old node's sentence says that the link holds as values: prices, the day discussed, drift."""
    text = row["text"] or ""
    discussed, now, alert = _DISCUSSED.search(text), _NOW.search(text), _ALERT.search(text)
    discussed_price = float(discussed["price"]) if discussed else None
    price = float(now["price"]) if now else None
    recorded: datetime = row["recorded_at"]
    day = recorded.date().isoformat()
    label = " (replayed prices)" if row["source"] == "market:replay" else ""
    when = f"{recorded:%-d %B %Y}"
    return {
        "id": row["id"], "event_id": move_event_id(row["symbol"], day), "day": day, "price": price,
        "event_text": (f"{row['symbol']} moved significantly for clients who discussed it: {price:.2f} on {when}{label}."
                       if price is not None else
                       f"{row['symbol']} moved significantly for clients who discussed it on {when}{label}."),
        "discussed_price": discussed_price,
        "discussed_on": (datetime.strptime(discussed["day"], "%d %B %Y").date().isoformat() if discussed else None),
        "alerted_price": float(alert["price"]) if alert else None,
        "drift_percent": (round(100.0 * (price - discussed_price) / discussed_price, 2)
                          if price is not None and discussed_price else None),
    }


def _write_shared(tx: ManagedTransaction, rows: Rows, market: str) -> int:
    """Each old node becomes its client's link to the shared event of its security-day, citations
    follow, and the old node goes. Returns how many were converted."""
    return tx.run(
        """
        UNWIND $rows AS row
        MATCH (old:Memory {id: row.id})
        MATCH (c:Client {id: old.scope})
        MATCH (s:Security {symbol: old.symbol})
        MERGE (e:Memory {id: row.event_id})
        ON CREATE SET e:Event, e.level = 'observation', e.kind = 'market_move', e.importance = old.importance,
                      e.visibility = 'market', e.status = 'active', e.scope = $market, e.text = row.event_text,
                      e.symbol = old.symbol, e.day = row.day, e.price = row.price, e.source = old.source,
                      e.created_at = old.created_at, e.recorded_at = old.recorded_at, e.valid_from = old.valid_from,
                      e.embedding = old.embedding
        MERGE (e)-[:ABOUT]->(s)
        MERGE (c)-[r:SAW_MOVE]->(e)
        ON CREATE SET r.text = old.text, r.scope = c.id, r.status = old.status, r.created_at = old.created_at,
                      r.forgotten_reason = old.forgotten_reason, r.forgotten_at = old.forgotten_at,
                      r.access_count = old.access_count, r.last_accessed_at = old.last_accessed_at,
                      r.discussed_price = row.discussed_price, r.discussed_on = row.discussed_on,
                      r.alerted_price = row.alerted_price, r.move_percent = old.move_percent,
                      r.drift_percent = row.drift_percent
        """ + RAISE_CLIENT_VERSION + """  // its material loses `old` (memory/graph/changes.py)
        WITH old, c, e
        CALL (old, c, e) {
          MATCH (note:Memory)-[:CITES]->(old)
          MERGE (note)-[:CITES {client: c.id}]->(e)
        }
        DETACH DELETE old
        RETURN count(*) AS converted
        """,
        rows=rows, market=market,
    ).single()["converted"]
