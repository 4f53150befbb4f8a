"""Reads for the portal: relational data, filtered by what the user may see, and the client page's memory."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from advisor.models import Client, ConversationSession, User
from marketdata.services.drift import remembered_prices_for
from memory import selectors as memory_selectors
from memory.graph import driver as graph_driver
from memory.scope import Reader
from memory.services import entities


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


def client_page_memory(reader: Reader, *, as_of: datetime | None = None, known_at: datetime | None = None
                       ) -> dict[str, Any]:
    """What the client page shows of the client's memory (facts, profile and its versions, people who may
    be one, remembered prices), at a moment or now, read in one Neo4j transaction. Raises GraphUnavailable."""

    def read() -> dict[str, Any]:
        profile, versions = memory_selectors.client_profile_with_history(reader, as_of=as_of, known_at=known_at)
        return {"facts": memory_selectors.client_facts(reader, as_of=as_of, known_at=known_at), "profile": profile,
                "profile_versions": versions, "pending_merges": entities.pending_merges(reader),
                "prices": remembered_prices_for(reader)}

    return graph_driver.read_together(read)
