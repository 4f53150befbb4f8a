"""Privacy erasure of one client: their conversation records, then everything memory holds in their scope.

The records go first, in one transaction with their audit row, so no drain can re-create memory from
them; sessions and turns are append-only books and records, so they are deleted inside
`audit.triggers.maintenance_window()`, the one sanctioned way past the model layer and the trigger; then memory (`memory.services.erasure`). The audit trail keeps who, when, why and how much,
never content.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from advisor.models import Client, ConversationSession
from audit import services as audit
from audit.triggers import maintenance_window
from memory.services.erasure import ErasureIncomplete, erase_client_scope

__all__ = ["ErasureIncomplete", "ErasureReport", "erase_client"]


@dataclass(frozen=True)
class ErasureReport:
    sessions: int
    graph_nodes: int


def erase_client(client: Client, *, actor: str, reason: str) -> ErasureReport:
    firm_id, client_id = client.firm.slug, client.external_id
    with transaction.atomic(), maintenance_window():
        sessions = ConversationSession.objects.filter(client=client)
        count = sessions.filter(version=1).count()
        versions = sessions.count()
        sessions.purge()
        audit.record(action="records.erase", actor=actor, firm_id=firm_id, client_id=client_id,
                     detail={"reason": reason, "sessions": count, "session_versions": versions,
                             "maintenance_window": True})
    nodes = erase_client_scope(firm_id=firm_id, client_id=client_id, actor=actor, reason=reason)
    return ErasureReport(sessions=count, graph_nodes=nodes)
