"""Privacy erasure of one client's memory: a real delete, with an audit entry that keeps no content.

The conversation records go first, in one transaction with their outbox rows, so no drain can
re-create memory from them; then the graph. If Neo4j fails half-way the error says so and running
the erasure again finishes it (it works from the client's scope, not from the deleted records).
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from advisor.models import Client, ConversationSession
from memory.graph import erasure
from memory.graph.driver import GraphUnavailable
from memory.models import MemoryAuditEntry, OutboxEntry
from memory.scope import client_scope


class ErasureIncomplete(Exception):
    """The records are gone but the memory graph could not be reached; run the erasure again."""


@dataclass(frozen=True)
class ErasureReport:
    sessions: int
    graph_nodes: int


def erase_client_memory(client: Client, *, actor: str, reason: str) -> ErasureReport:
    firm_id, client_id = client.firm.slug, client.external_id
    with transaction.atomic():
        session_ids = list(ConversationSession.objects.filter(client=client).values_list("pk", flat=True))
        OutboxEntry.objects.filter(kind=OutboxEntry.Kind.SESSION, object_id__in=session_ids).delete()
        ConversationSession.objects.filter(pk__in=session_ids).delete()
        MemoryAuditEntry.objects.create(action="erase_records", actor=actor, firm_id=firm_id, client_id=client_id,
                                        detail={"reason": reason, "sessions": len(session_ids)})
    try:
        nodes = erasure.erase_scope(client_scope(firm_id, client_id))
    except GraphUnavailable as error:
        raise ErasureIncomplete(
            f"The conversation records of client {client_id!r} are erased, but the memory graph is not yet: "
            f"{error}. Run the erasure again when Neo4j is back."
        ) from error
    MemoryAuditEntry.objects.create(action="erase_memory", actor=actor, firm_id=firm_id, client_id=client_id,
                                    detail={"reason": reason, "graph_nodes": nodes})
    return ErasureReport(sessions=len(session_ids), graph_nodes=nodes)
