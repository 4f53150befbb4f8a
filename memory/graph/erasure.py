"""Erasing one client's memory for privacy: a real delete, in bounded transactions."""
from __future__ import annotations

from neo4j import ManagedTransaction

from memory.graph import driver
from memory.graph.changes import mark_clients

BATCH = 10_000  # nodes per transaction, so a large memory never needs one huge transaction


def erase_scope(scope: str) -> int:
    """Delete every node of one client's scope (memories, sessions, the client's own entities, the
    client node itself and its TRACKS). Shared nodes (securities, sectors, firm memory) stay.
    Returns how many nodes were deleted."""

    # One indexed lookup per kind of node (never a scan of the whole graph); the client node goes last.
    lookups = [
        "MATCH (n:Memory {scope: $scope})",
        "MATCH (n:Session)-[:WITH_CLIENT]->(:Client {id: $scope})",
        "MATCH (n:Entity {scope: $scope}) WHERE NOT n:Client",
        "MATCH (n:Rollback {scope: $scope})",
        "MATCH (n:Client {id: $scope})",
    ]
    total = 0
    for lookup in lookups:
        def _delete(tx: ManagedTransaction, lookup: str = lookup) -> int:
            # A client whose erasure stopped half way is consolidated again (memory/graph/changes.py).
            mark_clients(tx, [scope])
            return tx.run(lookup + " WITH n LIMIT $batch DETACH DELETE n RETURN count(*) AS deleted",
                          scope=scope, batch=BATCH).single()["deleted"]

        while deleted := driver.write(_delete):
            total += deleted
    return total
