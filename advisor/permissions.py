"""The one place that decides whose memory a person may read or change.

Graph queries only ever receive the scope tokens computed here, so a client can never reach
another client's memory, whatever text they type. A client with an erasure request is restricted
here too: nobody's reader (a person's, the twin's or a command's) reaches their memory any more,
while their records wait out the retention period (advisor/services/erasure.py).
"""
from __future__ import annotations

from django.core.exceptions import PermissionDenied

from advisor.models import Client, ErasureRequest, User
from memory.scope import Reader


class MemoryAccessDenied(PermissionDenied, PermissionError):
    """The caller may not see this client's memory (a 403 on pages)."""


class MemoryRestricted(MemoryAccessDenied):
    """The client asked to be erased: their memory is out of search, the twin and any model's context."""


def is_restricted(*, firm_id: str, client_id: str) -> bool:
    """For callers holding ids, not rows (commands): True when the client asked to be erased."""
    return ErasureRequest.objects.filter(client__firm__slug=firm_id, client__external_id=client_id).exists()


def _refuse_if_restricted(client: Client) -> None:
    request = ErasureRequest.objects.filter(client=client).order_by("requested_at").first()
    if request is not None:
        raise MemoryRestricted(
            f"Client {client.external_id!r} asked to be erased on {request.requested_at:%d %b %Y}: their memory is "
            "restricted. Compliance can still export their records until the retention period ends.")


def reader_for(user: User, client: Client | None) -> Reader:
    """Scopes `user` may read for `client` (None: firm-shared memory only)."""
    if not user.is_authenticated or user.firm_id is None:
        raise MemoryAccessDenied("You are not a member of a firm.")
    if client is None:
        return Reader(firm_id=user.firm.slug, client_id=None)
    if client.firm_id != user.firm_id:
        raise MemoryAccessDenied("This client belongs to another firm.")
    if user.role == User.Role.CLIENT:
        if getattr(user, "client_record", None) is None or user.client_record.pk != client.pk:
            raise MemoryAccessDenied("Clients can only see their own memory.")
    elif user.role == User.Role.ANALYST:
        raise MemoryAccessDenied("Analysts see firm-shared memory, not clients' private memory.")
    _refuse_if_restricted(client)
    # The client's firm is the user's (checked above): its row usually comes with the client, the user's not.
    return Reader(firm_id=client.firm.slug, client_id=client.external_id)


def reader_for_system(client: Client) -> Reader:
    """The client's scopes for work no person asked for in a request (commands, scheduled briefs)."""
    _refuse_if_restricted(client)
    return Reader(firm_id=client.firm.slug, client_id=client.external_id)
