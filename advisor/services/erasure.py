"""Privacy erasure of one client, the one way: an erasure request, then the scheduled purge.

1. `request_erasure` (portal, `manage.py erasure_request`): from its commit on, the client's memory is
   restricted: out of search, the portal, the twin and so any language model's context
   (advisor.permissions). Nothing is deleted yet: the records are books and records.
2. `purge_due_erasures` (beat task `records.purge_due_erasures`): once the firm's retention period has
   ended, and unless a legal hold stops it, every record of the client goes: each app's own records
   (registered purgers: the twin's chat, digests and advice), then here the conversation records,
   holdings, login and name (`erase_client`), then everything memory holds in their scope. Append-only
   rows are deleted inside `audit.triggers.maintenance_window()`, the one sanctioned way past the model
   layer and the trigger. What stays: the erasure request (dates and reason, no personal content, the
   proof of the purge), the client row under its id with its name replaced, and the audit trail
   (who, when, why and how much, never content).

`manage.py memory_erase` is only the memory-graph step of an open request (memory is derived data; the
records stay until the purge), for a firm that wants the graph gone before retention ends.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from advisor.models import Client, ConversationSession, ErasureRequest, Holding, User
from audit import services as audit
from audit.triggers import maintenance_window
from memory.services.erasure import ErasureIncomplete, erase_client_scope

__all__ = ["ErasureIncomplete", "ErasureReport", "ErasureRequestRejected", "PurgeReport", "erase_client",
           "erase_client_memory", "purge_due_erasures", "register_purger", "request_erasure", "set_legal_hold"]
PURGE_ACTOR = "system:retention_purge"
ERASED_NAME = "(erased)"


@dataclass(frozen=True)
class ErasureReport:
    sessions: int
    graph_nodes: int


def erase_client(client: Client, *, actor: str, reason: str) -> ErasureReport:
    """The purge's step for advisor's own records of the client, then their memory. Called by
    `purge_due_erasures` after the other apps' purgers (the twin's chat points at these sessions)."""
    firm_id, client_id = client.firm.slug, client.external_id
    with transaction.atomic(), maintenance_window():
        sessions = ConversationSession.objects.filter(client=client)
        count = sessions.filter(version=1).count()
        versions = sessions.count()
        sessions.purge()
        holdings = Holding.objects.filter(client=client).delete()[0]
        login_removed = _remove_login(client)
        Client.objects.filter(pk=client.pk).update(name=ERASED_NAME, digest_opt_in=False, user=None)
        audit.record(action="records.erase", actor=actor, firm_id=firm_id, client_id=client_id,
                     detail={"reason": reason, "sessions": count, "session_versions": versions,
                             "holdings": holdings, "login_removed": login_removed, "maintenance_window": True})
    nodes = erase_client_scope(firm_id=firm_id, client_id=client_id, actor=actor, reason=reason)
    return ErasureReport(sessions=count, graph_nodes=nodes)


def _remove_login(client: Client) -> bool:
    """Delete the client's portal login and its login-throttling history (usernames, addresses)."""
    user = User.objects.filter(pk=client.user_id).first() if client.user_id else None
    if user is None:
        return False
    for model in (AccessAttempt, AccessLog, AccessFailureLog):
        model.objects.filter(username=user.username).delete()
    try:
        with transaction.atomic():
            user.delete()
    except ProtectedError:  # a record of someone else's still names this login: keep the row, not the person
        User.objects.filter(pk=user.pk).update(username=f"erased-{user.pk}", first_name="", last_name="", email="",
                                               is_active=False, password="!")
    return True


def erase_client_memory(client: Client, *, actor: str, reason: str) -> int:
    """The memory-graph step of an open erasure request, ahead of the purge: the records stay until
    retention ends. Returns graph nodes deleted."""
    if not ErasureRequest.objects.filter(client=client, purged_at__isnull=True).exists():
        raise ErasureRequestRejected(
            f"Client {client.external_id!r} has no open erasure request. Record one first "
            "(manage.py erasure_request, or the portal): it restricts their memory at once, and the "
            "scheduled purge deletes their records and memory when the retention period ends.")
    return erase_client_scope(firm_id=client.firm.slug, client_id=client.external_id, actor=actor, reason=reason)


# --- Erasure requests: restrict at once, purge when the retention period ends -----------------------
# Records that a regulator expects kept (books and records) stay until the firm's retention period ends;
# the client's memory is restricted from the moment of the request (advisor.permissions). Apps above
# advisor (the twin's advice, digests) register how their own records of a client are purged.

RecordPurger = Callable[[Client], int]
_PURGERS: dict[str, RecordPurger] = {}


def register_purger(name: str, purge: RecordPurger) -> None:
    """`purge(client)` deletes that app's records of the client (inside the purge's maintenance window)."""
    _PURGERS[name] = purge


class ErasureRequestRejected(ValueError):
    """The erasure request cannot be recorded or changed as asked; the message says why."""


def retention_end(requested_at: datetime, years: int) -> datetime:
    """The same day `years` later (a 29 February request ends on 1 March)."""
    try:
        return requested_at.replace(year=requested_at.year + years)
    except ValueError:
        return requested_at.replace(year=requested_at.year + years, month=3, day=1)


def request_erasure(*, client: Client, actor: str, reason: str, requested_by: User | None = None,
                    ip_address: str | None = None) -> ErasureRequest:
    """Record the request; from its commit on, nobody's reader reaches the client's memory."""
    reason = reason.strip()
    if not reason:
        raise ErasureRequestRejected("Give the request's reason without personal content, e.g. 'GDPR art. 17 request'.")
    with transaction.atomic():
        if ErasureRequest.objects.filter(client=client, purged_at__isnull=True).exists():
            raise ErasureRequestRejected(f"Client {client.external_id!r} already has an open erasure request.")
        now = timezone.now()
        request = ErasureRequest.objects.create(
            client=client, requested_by=requested_by, requested_at=now, reason=reason,
            retention_until=retention_end(now, client.firm.record_retention_years))
        audit.record(action="erasure.requested", actor=actor, firm_id=client.firm.slug, client_id=client.external_id,
                     target=f"erasure_request:{request.pk}", ip_address=ip_address,
                     detail={"reason": reason, "retention_until": request.retention_until.isoformat(),
                             "memory": "restricted"})
    return request


def set_legal_hold(*, request: ErasureRequest, hold: bool, actor: str, reason: str = "") -> ErasureRequest:
    """Place (or release) a legal hold: while it is set the purge skips the request, even past retention."""
    if hold and not reason.strip():
        raise ErasureRequestRejected("Say why the records are held (e.g. the matter's reference).")
    with transaction.atomic():
        locked = ErasureRequest.objects.select_for_update().get(pk=request.pk)
        if locked.purged_at is not None:
            raise ErasureRequestRejected("The records were already purged; there is nothing left to hold.")
        locked.legal_hold, locked.legal_hold_reason = hold, reason.strip() if hold else ""
        locked.save(update_fields=["legal_hold", "legal_hold_reason"])
        client = locked.client
        audit.record(action="erasure.legal_hold" if hold else "erasure.legal_hold_released", actor=actor,
                     firm_id=client.firm.slug, client_id=client.external_id, target=f"erasure_request:{locked.pk}",
                     detail={"reason": locked.legal_hold_reason} if hold else {})
    return locked


@dataclass(frozen=True)
class PurgeReport:
    purged: list[int]  # erasure request ids purged in this run
    held: list[int]  # due, but under a legal hold
    incomplete: list[int]  # records gone, memory graph unreachable: the next run finishes them


def purge_due_erasures(*, now: datetime | None = None) -> PurgeReport:
    """The scheduled job: purge every request whose retention ended and that no legal hold stops."""
    now = now or timezone.now()
    due = ErasureRequest.objects.filter(purged_at__isnull=True, retention_until__lte=now).select_related("client__firm")
    purged, held, incomplete = [], [], []
    for request in due:
        if request.legal_hold:
            held.append(request.pk)
            continue
        client = request.client
        reason = f"retention ended for erasure request {request.pk}"
        with transaction.atomic(), maintenance_window():
            counts = {name: purge(client) for name, purge in _PURGERS.items()}
            audit.record(action="erasure.records_purged", actor=PURGE_ACTOR, firm_id=client.firm.slug,
                         client_id=client.external_id, target=f"erasure_request:{request.pk}", detail=counts)
        try:
            report = erase_client(client, actor=PURGE_ACTOR, reason=reason)
        except ErasureIncomplete:
            incomplete.append(request.pk)
            continue
        with transaction.atomic():
            ErasureRequest.objects.filter(pk=request.pk).update(purged_at=timezone.now())
            audit.record(action="erasure.purged", actor=PURGE_ACTOR, firm_id=client.firm.slug,
                         client_id=client.external_id, target=f"erasure_request:{request.pk}",
                         detail={"sessions": report.sessions, "graph_nodes": report.graph_nodes})
        purged.append(request.pk)
    return PurgeReport(purged=purged, held=held, incomplete=incomplete)

