"""The rows an import sends to Neo4j for a session's turns (memory.graph.episodes.GraphBatch)."""
from __future__ import annotations

from datetime import datetime, timezone

from memory.graph import episodes
from memory.graph.episodes import GraphBatch

AT = datetime(2024, 3, 3, 10, 0, 30, tzinfo=timezone.utc)


def turn(text: str) -> dict:
    return {"text": text, "recorded_at": AT}


def test_turns_keep_their_speaking_order_per_session_and_a_repeated_turn_keeps_its_first_place():
    batch = GraphBatch()
    for session, turn_id, text in [("s1", "t1", "a"), ("s2", "u1", "x"), ("s1", "t2", "b"), ("s1", "t1", "a again"),
                                   ("s1", "t3", "c")]:
        batch.add_turn(session, turn_id, turn(text))

    assert {session: [row["id"] for row in rows.values()] for session, rows in batch.turns.items()} == {
        "s1": ["t1", "t2", "t3"], "s2": ["u1"]}
    first = batch.turns["s1"]["t1"]
    assert first["props"] == {"text": "a"}  # the first copy, its date-time moved to `times`
    assert first["times"] == {"recorded_at": [1709460030, 0]}


class RecordingTransaction:
    """Stands in for a Neo4j transaction: keeps each statement with its rows, in the order they are run."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, list[dict]]] = []

    def run(self, statement: str, **parameters):  # noqa: ANN003, ANN201
        self.runs.append((statement, list(next(iter(parameters.values()), []))))
        return self

    def consume(self) -> None:
        return None


def test_shared_nodes_are_merged_in_one_order_sectors_then_securities_each_by_key():
    """Two drains creating the same new sector and security must lock them in the same order: a sector a
    session names is merged with the securities' sectors, not after the securities."""
    batch = GraphBatch()
    batch.securities.extend([{"symbol": "XOM", "name": "Exxon Mobil", "sector": "Energy"},
                             {"symbol": "AAPL", "name": "Apple", "sector": "Technology"},
                             {"symbol": "CVX", "name": "Chevron", "sector": "Energy"},
                             {"symbol": "ZZZ", "name": "ZZZ", "sector": None}])
    batch.add_entity("sector", "sector:utilities", {"kind": "sector", "key": "utilities", "name": "Utilities",
                                                    "scope": "global"})
    batch.add_entity("sector", "sector:energy", {"kind": "sector", "key": "energy", "name": "energy sector",
                                                 "scope": "global"})
    tx = RecordingTransaction()

    episodes.write_batch(tx, batch)

    merges = [(statement, rows) for statement, rows in tx.runs if ":Sector {id" in statement or ":Security {symbol" in statement]
    assert [rows for statement, rows in merges if "MERGE (sector" in statement] == [[
        {"id": "sector:energy", "props": {"key": "energy", "name": "Energy", "scope": "global"}},
        {"id": "sector:technology", "props": {"key": "technology", "name": "Technology", "scope": "global"}},
        {"id": "sector:utilities", "props": {"key": "utilities", "name": "Utilities", "scope": "global"}},
    ]]
    security_merges = [rows for statement, rows in merges if "MERGE (s:Entity:Security" in statement]
    assert [[row["symbol"] for row in rows] for rows in security_merges] == [["AAPL", "CVX", "XOM", "ZZZ"]]
    assert [index for index, (statement, _) in enumerate(tx.runs) if "MERGE (sector" in statement] < \
           [index for index, (statement, _) in enumerate(tx.runs) if "MERGE (s:Entity:Security" in statement]
    assert not any("MERGE (e:Entity {id: row.id}) ON CREATE SET e:Sector" in statement for statement, _ in tx.runs)
