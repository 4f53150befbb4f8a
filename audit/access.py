"""Logging every view of a client's record by a person: who, what, when, from where.

Views call `log_client_view` once they know the person may see the client; the entry joins the
hash-chained audit trail (audit/services.py). It names the page and the record, never what was shown
or asked (a memory search logs that a search ran, not its words).
"""
from __future__ import annotations

from django.http import HttpRequest

from audit import services
from audit.models import AuditEntry

VIEW_ACTION = "record.viewed"


def client_ip(request: HttpRequest) -> str | None:
    """The connection's address. Behind a proxy it is the proxy's (as for login throttling, README)."""
    return request.META.get("REMOTE_ADDR") or None


def log_client_view(request: HttpRequest, *, firm_id: str, client_id: str, page: str, target: str = "") -> AuditEntry:
    """Record that the requesting person saw `page` of one client's record."""
    user = request.user
    return services.record(action=VIEW_ACTION, actor=user.get_username() or "anonymous", firm_id=firm_id,
                           client_id=client_id, target=target or page, ip_address=client_ip(request),
                           detail={"page": page, "method": request.method})
