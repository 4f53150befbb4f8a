"""The one place that decides whose memory a person may read or change.

Graph queries only ever receive the scope tokens computed here, so a client can never reach
another client's memory, whatever text they type.
"""
from __future__ import annotations

from advisor.models import Client, User
from memory.scope import Reader


class MemoryAccessDenied(PermissionError):
    """The caller may not see this client's memory."""


def reader_for(user: User, client: Client | None) -> Reader:
    """Scopes `user` may read for `client` (None: firm-shared memory only)."""
    if not user.is_authenticated or user.firm_id is None:
        raise MemoryAccessDenied("You are not a member of a firm.")
    firm_id = user.firm.slug
    if client is None:
        return Reader(firm_id=firm_id, client_id=None)
    if client.firm_id != user.firm_id:
        raise MemoryAccessDenied("This client belongs to another firm.")
    if user.role == User.Role.CLIENT:
        if getattr(user, "client_record", None) is None or user.client_record.pk != client.pk:
            raise MemoryAccessDenied("Clients can only see their own memory.")
    elif user.role == User.Role.ANALYST:
        raise MemoryAccessDenied("Analysts see firm-shared memory, not clients' private memory.")
    return Reader(firm_id=firm_id, client_id=client.external_id)
