"""Reads of relational data, filtered by what the user may see."""
from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from advisor.models import Client, ConversationSession, User


def visible_clients(user: User) -> QuerySet[Client]:
    if user.firm_id is None:
        return Client.objects.none()
    clients = Client.objects.filter(firm_id=user.firm_id)
    if user.role == User.Role.CLIENT:
        return clients.filter(user=user)
    if user.role == User.Role.ADVISOR:
        return clients.filter(advisor=user)
    if user.role == User.Role.COMPLIANCE:
        return clients
    return Client.objects.none()


def client_for(user: User, external_id: str) -> Client:
    """The client if `user` may see them; 404 otherwise (never reveal that another firm's client exists)."""
    client = visible_clients(user).filter(external_id=external_id).select_related("firm", "advisor").first()
    if client is None:
        raise Http404("No such client.")
    if client.user_id == user.pk:
        user.client_record = client  # the client themself: permission checks read this row, not the table again
    return client


def current_sessions(client: Client) -> QuerySet[ConversationSession]:
    """The newest version of each of the client's sessions (a corrected version has a successor)."""
    return client.sessions.filter(corrected_by__isnull=True).select_related("memory_state")


def session_versions(client: Client, session_id: str) -> list[ConversationSession]:
    """The original and every correction of one session, oldest first, with their turns; 404 if none."""
    versions = list(client.sessions.filter(external_id=session_id).order_by("version")
                    .select_related("memory_state", "recorded_by").prefetch_related("turns"))
    if not versions:
        raise Http404("No such session.")
    return versions


def clients_with_pending_memory(user: User) -> QuerySet[Client]:
    pending = Q(sessions__memory_state__status=ConversationSession.MemoryStatus.PENDING)
    failed = Q(sessions__memory_state__status=ConversationSession.MemoryStatus.FAILED)
    return visible_clients(user).annotate(
        pending_sessions=Count("sessions", filter=pending), failed_sessions=Count("sessions", filter=failed),
        session_count=Count("sessions", filter=Q(sessions__version=1)),
    )
