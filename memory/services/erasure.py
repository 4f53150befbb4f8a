"""Privacy erasure of one client's memory: a real delete, audited without content.

Works from the client's scope, not from any record, so running it again after Neo4j failed half-way
finishes the job. The recording app erases its own records first (advisor/services/erasure.py).
"""
from __future__ import annotations

from django.db import transaction

from audit import services as audit
from memory.graph import erasure
from memory.graph.driver import GraphUnavailable
from memory.scope import client_scope
from memory.services import outbox


class ErasureIncomplete(Exception):
    """The records are gone but the memory graph could not be reached; run the erasure again."""


def erase_client_scope(*, firm_id: str, client_id: str, actor: str, reason: str) -> int:
    """Drop anything still queued for the client, then every graph node in their scope. Returns nodes deleted."""
    with transaction.atomic():
        queued = outbox.discard_client(firm_id=firm_id, client_id=client_id)
        audit.record(action="memory.erase_queued", actor=actor, firm_id=firm_id, client_id=client_id,
                     detail={"reason": reason, "outbox_entries": queued})
    try:
        nodes = erasure.erase_scope(client_scope(firm_id, client_id))
    except GraphUnavailable as error:
        raise ErasureIncomplete(
            f"The memory graph of client {client_id!r} is not erased yet (anything queued for it is discarded): "
            f"{error}. Run the erasure again when Neo4j is back."
        ) from error
    audit.record(action="memory.erase_graph", actor=actor, firm_id=firm_id, client_id=client_id,
                 detail={"reason": reason, "graph_nodes": nodes})
    return nodes
