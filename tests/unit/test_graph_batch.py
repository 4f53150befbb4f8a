"""The rows an import sends to Neo4j for a session's turns (memory.graph.episodes.GraphBatch)."""
from __future__ import annotations

from datetime import datetime, timezone

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
