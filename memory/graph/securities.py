"""Securities, remembered prices and market moves: live quotes on Security nodes, drift computed when read.

Drift is never written per mention: a refresh touches one node per security and one relationship per
client that tracks it, so its cost grows with distinct securities, not with how often they were
discussed. A significant move is one shared event per security and trading day; each client who saw
it has a small `SAW_MOVE` link to it holding their own words and drift (`record_move_events`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from memory.graph import driver
from memory.graph.values import epoch_micros, from_epoch_micros, native


@dataclass(frozen=True)
class RememberedPrice:
    """A price a client discussed, beside the security's current quote (drift is computed by the reader)."""

    id: str
    symbol: str
    price: float
    currency: str | None
    mentioned_at: datetime
    text: str
    current_price: float | None
    as_of: datetime | None
    status: str | None  # fresh | stale | unknown
    error: str | None
    source: str | None
    market_date: Any
    checked_at: datetime | None


@dataclass(frozen=True)
class SecurityMoves:
    """A security's new quote and the client-security pairs that moved from their reference price."""

    symbol: str
    price: float
    as_of: datetime
    source: str
    moves: list[dict[str, Any]]  # {client_node, firm_id, client_id, client_name, discussed_price,
    #                               discussed_on (ISO date), move (percent), alerted_price or None}


def remembered_symbols() -> list[str]:
    """Every security that some memory mentions, some viewpoint covers, or some client tracks."""

    def _read(tx: ManagedTransaction) -> list[str]:
        result = tx.run(
            """
            MATCH (s:Security) WHERE EXISTS { (s)<-[:PRICE_OF|ABOUT|MENTIONS|ON|TRACKS]-() }
            RETURN s.symbol AS symbol ORDER BY symbol
            """
        )
        return [record["symbol"] for record in result]

    return driver.read(_read)


def ensure_securities(symbols: list[str]) -> None:
    """Security nodes for symbols known only from holdings, so they can carry a quote."""
    driver.write(lambda tx: tx.run(
        """
        UNWIND $symbols AS symbol
        MERGE (s:Entity:Security {symbol: symbol})
        ON CREATE SET s.id = 'security:' + symbol, s.kind = 'security', s.key = symbol, s.name = symbol,
                      s.scope = 'global', s.quote_status = 'unknown'
        """,
        symbols=symbols,
    ).consume())


def apply_quotes(rows: list[dict[str, Any]]) -> list[str]:
    """Set each security's quote unless a newer one is already stored. Returns the symbols updated.

    The `as_of` comparison happens inside the write, so a late or repeated task cannot regress a
    price that a newer task already stored.
    """

    def _write(tx: ManagedTransaction) -> list[str]:
        result = tx.run(
            """
            UNWIND $rows AS row
            MATCH (s:Security {symbol: row.symbol})
            WITH s, row WHERE s.last_price_as_of IS NULL OR row.as_of > s.last_price_as_of
            SET s.last_price = row.price, s.last_price_as_of = row.as_of, s.currency = row.currency,
                s.quote_source = row.source, s.market_date = row.market_date, s.quote_status = 'fresh',
                s.quote_error = null, s.quote_checked_at = row.checked_at
            RETURN s.symbol AS symbol
            """,
            rows=rows,
        )
        return [record["symbol"] for record in result]

    return driver.write(_write)


def mark_quotes(rows: list[dict[str, Any]]) -> None:
    """Record that quoting failed (`stale`, price kept) or the symbol is `unknown` to the provider.

    A failure older than the last check (a late task) does not mark a fresher quote stale.
    """
    driver.write(lambda tx: tx.run(
        """
        UNWIND $rows AS row
        MATCH (s:Security {symbol: row.symbol})
        WITH s, row WHERE s.quote_checked_at IS NULL OR row.checked_at >= s.quote_checked_at
        SET s.quote_status = row.status, s.quote_error = row.error, s.quote_checked_at = row.checked_at
        """,
        rows=rows,
    ).consume())


def remembered_prices(scopes: list[str], symbol: str | None = None) -> list[RememberedPrice]:
    """Every price discussed in `scopes`, with the security's current quote."""

    def _read(tx: ManagedTransaction) -> list[RememberedPrice]:
        result = tx.run(
            f"""
            MATCH (m:PriceMention)-[:PRICE_OF]->(s:Security)
            WHERE m.scope IN $scopes AND m.status = 'active' AND ($symbol IS NULL OR m.symbol = $symbol)
            RETURN m.id AS id, m.symbol AS symbol, m.price AS price, m.currency AS currency,
                   {epoch_micros("m.mentioned_at")} AS mentioned_at, m.text AS text, s.last_price AS current_price,
                   {epoch_micros("s.last_price_as_of")} AS as_of, s.quote_status AS status, s.quote_error AS error,
                   s.quote_source AS source, s.market_date AS market_date,
                   {epoch_micros("s.quote_checked_at")} AS checked_at
            ORDER BY m.mentioned_at DESC
            """,
            scopes=scopes, symbol=symbol,
        )
        return [RememberedPrice(**{**native(record.data()), "mentioned_at": from_epoch_micros(record["mentioned_at"]),
                                   "as_of": from_epoch_micros(record["as_of"]),
                                   "checked_at": from_epoch_micros(record["checked_at"])})
                for record in result]

    return driver.read(_read)


def tracked_moves(symbols: list[str], min_percent: float) -> list[SecurityMoves]:
    """Securities whose price moved at least `min_percent` for some client since last discussed or alerted.

    One row per security: its quote, and in `moves` each client-security pair that moved (client,
    price and day it was discussed as an ISO date string, move in percent from the reference, and the
    last alert's price when that, not the discussed price, is the reference). An all-moved cycle has
    tens of thousands of pairs, and the driver turns temporal values into Python far more slowly
    than strings or numbers: the quote's timestamp comes once per security, the day discussed as text.
    """

    def _read(tx: ManagedTransaction) -> list[SecurityMoves]:
        result = tx.run(
            """
            MATCH (c:Client)-[t:TRACKS]->(s:Security)
            WHERE s.symbol IN $symbols AND s.quote_status = 'fresh' AND s.last_price IS NOT NULL
              AND t.last_price IS NOT NULL
            WITH c, t, s,
                 CASE WHEN t.alert_at IS NOT NULL AND t.alert_at > t.last_at THEN t.alert_price ELSE t.last_price END AS reference
            WITH c, t, s, reference, 100.0 * (s.last_price - reference) / reference AS move
            WHERE abs(move) >= $min_percent
            RETURN s.symbol AS symbol, s.last_price AS price, s.last_price_as_of AS as_of, s.quote_source AS source,
                   collect({client_node: c.id, firm_id: c.firm_id, client_id: c.client_id, client_name: c.name,
                            discussed_price: t.last_price, discussed_on: toString(date(t.last_at)), move: move,
                            alerted_price: CASE WHEN reference <> t.last_price THEN reference END}) AS moves
            """,
            symbols=symbols, min_percent=min_percent,
        )
        return [SecurityMoves(symbol=record["symbol"], price=record["price"], as_of=record["as_of"].to_native(),
                              source=record["source"], moves=record["moves"]) for record in result]

    return driver.read(_read)


MOVE_EVENT_PREFIX = "market_move:"
_LINK_SEPARATOR = "@"  # neither symbols nor scope tokens contain it


def move_event_id(symbol: str, day: str) -> str:
    """The shared event of one security's significant move on one trading day (ISO date)."""
    return f"{MOVE_EVENT_PREFIX}{symbol}:{day}"


def move_link_id(event_id: str, client_node: str) -> str:
    """The id of one client's move: the shared event seen from that client's node. It names both ends,
    so a reader's lookup is two indexed node lookups (no index on the relationship is written)."""
    return f"{event_id}{_LINK_SEPARATOR}{client_node}"


def split_move_link_id(memory_id: str) -> tuple[str, str] | None:
    """(event id, client node) of a client's move id; None for any other memory id."""
    if not memory_id.startswith(MOVE_EVENT_PREFIX):
        return None
    event_id, separator, client_node = memory_id.rpartition(_LINK_SEPARATOR)
    return (event_id, client_node) if separator and event_id and client_node else None


# A client's link is a few hundred bytes of transaction memory: 10,000 at once (over all writers) keep a
# batch far below the pool of a 1 GB heap, and an all-moved cycle of 40,000 links needs four rounds.
MOVE_LINKS_PER_TRANSACTION = 10_000
# Transactions that write a cycle's links at once, each for its own securities. One transaction keeps one
# Neo4j core busy while the refresh waits; two took about a third off the write of an all-moved cycle's
# 40,000 links on a 2-core machine (BENCHMARKS.md, session 12). A client holds securities of every writer,
# which is safe while the client's node is dense: Neo4j then takes only shared locks on it to add a link.
# A sparse node (fewer relationships than Neo4j's grouping threshold, 50 by default) is locked whole, and
# two writers adding links to sparse clients deadlocked in turn (a retry of about a second each), so the
# links of sparse clients are written first, by one writer.
MOVE_WRITERS = 2
DENSE_NODE_DEGREE = 50  # Neo4j's db.relationship_grouping_threshold, by default


def record_move_events(securities: list[dict[str, Any]], created_at: datetime, *, importance: float,
                       scope: str) -> None:
    """Market moves: one shared event per security and trading day, and one link per client who saw it.

    `(:Memory:Event {kind: 'market_move'})-[:ABOUT]->(:Security)` holds what is true of the security
    (price, day, text and embedding, computed once), in the market `scope` no reader holds;
    `(:Client)-[:SAW_MOVE]->(event)` holds what is the client's own: the sentence in their words
    (`text`, full-text indexed with the client's `scope` token, memory/graph/schema.py), the price they
    discussed and when, the last alert's price, the move and the drift, its `status` (a client forgets
    their move, never the shared event) and `created_at`; its id is `move_link_id`. So a cycle's node, text, embedding and index writes grow with securities, and
    only a small relationship per client-security pair.

    One entry per security that moved: `symbol`, `price`, `as_of` (the new alert reference, and when
    the event was recorded and valid from), `source`, `event_id`, `day`, `text`, `embedding` and
    `links`, each with `client_node`, `text`, `discussed_price`, `discussed_on`, `alerted_price`,
    `move_percent`, `drift_percent` and `threshold_percent`. A repeated write changes nothing but the
    alert reference and the event's `linked_at` (when links to it were last written): the event is
    merged on its id, and a client's link is created only after its writer has write-locked the client's
    `TRACKS` link (the alert update) and the event (`linked_at`; a MERGE of the link, as
    memory/graph/move_migration.py writes it, locks the event too) and then found no link. So a second
    cycle at the same time (a late task) waits and adds none; its test fails with neither lock.

    The links of sparse clients are written first by one writer; the others' securities are split among
    MOVE_WRITERS writers. Each writes its links in batches, each batch with its alert updates in one
    transaction: if one fails, the batches written stay written, the moves of the others are found again
    by the next refresh (their alert reference did not change), and the first error is raised once every
    writer has stopped.
    """
    sparse = _sparse_clients({link["client_node"] for security in securities for link in security["links"]})
    _write_move_links(_links_of(securities, lambda client: client in sparse), 1, created_at, importance, scope)
    _write_move_links(_links_of(securities, lambda client: client not in sparse), MOVE_WRITERS, created_at,
                      importance, scope)


def _sparse_clients(client_nodes: set[str]) -> set[str]:
    """The clients whose node Neo4j stores sparse (locked whole when a relationship is added)."""
    if not client_nodes:
        return set()
    return set(driver.read(lambda tx: tx.run(
        "UNWIND $ids AS id MATCH (c:Client {id: id}) WHERE COUNT { (c)--() } < $dense RETURN collect(c.id) AS ids",
        ids=sorted(client_nodes), dense=DENSE_NODE_DEGREE).single()["ids"]))


def _links_of(securities: list[dict[str, Any]], keep: Callable[[str], bool]) -> list[dict[str, Any]]:
    """The securities with only the links of the clients `keep` accepts (and none left without a link)."""
    kept = [{**security, "links": [link for link in security["links"] if keep(link["client_node"])]}
            for security in securities]
    return [security for security in kept if security["links"]]


def _write_move_links(securities: list[dict[str, Any]], writers_wanted: int, created_at: datetime,
                      importance: float, scope: str) -> None:
    """The links (and their events and alert updates) by up to `writers_wanted` transactions at once."""
    writers = _split_among_writers(securities, writers_wanted)
    per_transaction = MOVE_LINKS_PER_TRANSACTION // len(writers) if writers else MOVE_LINKS_PER_TRANSACTION

    def write(own: list[dict[str, Any]]) -> None:
        for batch in _link_batches(own, per_transaction):
            driver.write(lambda tx, batch=batch: tx.run(
                """
                UNWIND $securities AS security
                MATCH (s:Security {symbol: security.symbol})
                MERGE (e:Memory {id: security.event_id})
                ON CREATE SET e:Event, e.level = 'observation', e.kind = 'market_move', e.importance = $importance,
                              e.visibility = 'market', e.status = 'active', e.scope = $scope, e.text = security.text,
                              e.symbol = security.symbol, e.day = security.day, e.price = security.price,
                              e.source = security.source, e.created_at = $created_at, e.recorded_at = security.as_of,
                              e.valid_from = security.as_of, e.embedding = security.embedding
                SET e.linked_at = $created_at
                MERGE (e)-[:ABOUT]->(s)
                WITH s, e, security
                UNWIND security.links AS link
                MATCH (c:Client {id: link.client_node})-[t:TRACKS]->(s) USING INDEX c:Client(id)
                SET t.alert_price = security.price, t.alert_at = security.as_of
                WITH c, e, link WHERE NOT EXISTS { (c)-[:SAW_MOVE]->(e) }
                CREATE (c)-[:SAW_MOVE {text: link.text, scope: c.id, status: 'active', created_at: $created_at,
                                       discussed_price: link.discussed_price, discussed_on: link.discussed_on,
                                       alerted_price: link.alerted_price, move_percent: link.move_percent,
                                       drift_percent: link.drift_percent,
                                       threshold_percent: link.threshold_percent}]->(e)
                """,
                securities=batch, created_at=created_at, importance=importance, scope=scope,
            ).consume())

    if len(writers) <= 1:
        for own in writers:
            write(own)
        return
    with ThreadPoolExecutor(max_workers=len(writers), thread_name_prefix="move-writer") as pool:
        outcomes = [pool.submit(write, own) for own in writers]
    errors = [error for outcome in outcomes if (error := outcome.exception()) is not None]
    if errors:
        raise errors[0]


def _split_among_writers(securities: list[dict[str, Any]], writers: int) -> list[list[dict[str, Any]]]:
    """At most `writers` lists with about as many links each, every security whole in one of them: two
    writers never write links to one event (the event's lock would make one wait for the other)."""
    lists: list[list[dict[str, Any]]] = [[] for _ in range(min(writers, len(securities)))]
    links = [0] * len(lists)
    for security in sorted(securities, key=lambda entry: (-len(entry["links"]), entry["symbol"])):
        emptiest = links.index(min(links))
        lists[emptiest].append(security)
        links[emptiest] += len(security["links"])
    return lists


def _link_batches(securities: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """The securities again, with at most `size` links in each batch (a security's may be split)."""
    batch: list[dict[str, Any]] = []
    room = size
    for security in securities:
        links = security["links"]
        while links:
            part, links = links[:room], links[room:]
            batch.append({**security, "links": part})
            room -= len(part)
            if room == 0:
                yield batch
                batch, room = [], size
    if batch:
        yield batch


# A client's move `(c)-[:SAW_MOVE]->(e)` is cited when stored advice of that client cites the shared event
# (`[:CITES {client}]`, written by memory/graph/notes.py `create_note`). `c` is the client, `e` the event.
MOVE_CITED = "EXISTS { (:Memory)-[:CITES {client: c.id}]->(e) }"


def forget_moves(rows: list[dict[str, str]], scopes: list[str], at: datetime, *, spare_cited: bool = False) -> int:
    """`rows`: {id (a client's move id), reason}. Forgets each active move whose client is in `scopes`,
    on the client's link only; with `spare_cited`, not one the client's stored advice cites (checked in
    the write). Returns how many were forgotten."""
    links = [{"client": parts[1], "event": parts[0], "reason": row["reason"]} for row in rows
             if (parts := split_move_link_id(row["id"])) is not None and parts[1] in scopes]
    if not links:
        return 0

    def _write(tx: ManagedTransaction) -> int:
        return tx.run(
            f"""
            UNWIND $links AS link
            MATCH (c:Client {{id: link.client}})-[r:SAW_MOVE]->(e:Memory {{id: link.event}}) WHERE r.status = 'active'
              AND NOT ($spare_cited AND {MOVE_CITED})
            SET r.status = 'forgotten', r.forgotten_reason = link.reason, r.forgotten_at = $at
            RETURN count(r) AS forgotten
            """,
            links=links, at=at, spare_cited=spare_cited,
        ).single()["forgotten"]

    return driver.write(_write)
