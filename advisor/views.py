"""Portal views: parse, authorise, call a service, render. No business logic here."""
from __future__ import annotations

import logging
from datetime import datetime
from datetime import timezone as dt_timezone

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from advisor.forms import MemoryAsOfForm, SessionCorrectionForm, SessionNotesForm, ViewpointForm
from advisor.models import User, Viewpoint
from advisor.health import check_health, may_see_details, public_view
from advisor.selectors import (client_for, client_page_memory, clients_with_pending_memory, current_sessions,
                               session_versions)
from advisor.services.sessions import (SessionRejected, correct_session, notes_of, record_session_notes,
                                       retry_session_memory)
from advisor.models import ErasureRequest
from advisor.services.erasure import ErasureRequestRejected, request_erasure, set_legal_hold
from advisor.services.export import ExportRejected, export_client_record, render as render_export
from advisor.services.viewpoints import ViewpointRejected, publish_viewpoint
from audit import services as audit_services
from marketdata.charts import mentions_chart
from marketdata.services.drift import remembered_prices_for
from memory.graph.driver import GraphUnavailable
from memory.services import entities
from advisor.permissions import reader_for
from audit.access import client_ip, log_client_view
from memory.services.retrieval import InvalidQuery, search

logger = logging.getLogger(__name__)


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every part is up, 503 naming the parts that are down; `?detail=1` says why, to staff only."""
    parts = check_health()
    down = [name for name, part in parts.items() if part["status"] != "up"]
    detailed = request.GET.get("detail") == "1" and may_see_details(request.user)
    body = {"status": "ok" if not down else "degraded", "down": down, "parts": parts if detailed else public_view(parts)}
    return JsonResponse(body, status=200 if not down else 503)


def portal_home(request: HttpRequest) -> HttpResponse:
    clients = clients_with_pending_memory(request.user)
    return render(request, "advisor/home.html", {"clients": clients})


def client_detail(request: HttpRequest, client_id: str) -> HttpResponse:
    client = client_for(request.user, client_id)
    reader = reader_for(request.user, client)
    log_client_view(request, firm_id=client.firm.slug, client_id=client.external_id, page="client")
    as_of_form = MemoryAsOfForm(request.GET or None)
    moment = as_of_form.moment()
    context = {"client": client, "sessions": current_sessions(client)[:50], "holdings": client.holdings.all(),
               "form": SessionNotesForm(), "facts": [], "prices": [], "memory_error": None,
               "as_of_form": as_of_form, "moment": moment, "profile": None, "profile_versions": [],
               "pending_merges": []}
    try:
        context.update(client_page_memory(reader, **moment))
    except GraphUnavailable as error:
        context["memory_error"] = _memory_unavailable(error)
    return render(request, "advisor/client_detail.html", context)


@require_http_methods(["POST"])
def record_session_view(request: HttpRequest, client_id: str) -> HttpResponse:
    client = client_for(request.user, client_id)
    if request.user.role != User.Role.ADVISOR:
        raise PermissionDenied("Only advisors record sessions with their clients.")
    form = SessionNotesForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            record_session_notes(client=client, author=request.user, notes=form.text,
                                 channel=form.cleaned_data["channel"], started_at=form.cleaned_data["started_at"])
        except SessionRejected as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Session saved. It shows as pending memory until the twin has taken it in.")
            return redirect("client-detail", client_id=client.external_id)
    context = {"client": client, "sessions": current_sessions(client)[:50], "holdings": client.holdings.all(),
               "form": form, "facts": [], "prices": [], "memory_error": None}
    return render(request, "advisor/client_detail.html", context, status=400)


@require_http_methods(["POST"])
def decide_person_merge_view(request: HttpRequest, client_id: str, merge_id: str) -> HttpResponse:
    """An advisor confirms or rejects a possible 'same person' from the review queue."""
    client = client_for(request.user, client_id)
    if request.user.role != User.Role.ADVISOR:
        raise PermissionDenied("Only advisors decide whether two people are one.")
    decision = request.POST.get("decision")
    if decision not in ("confirm", "reject"):
        messages.error(request, "Choose confirm or reject.")
        return redirect("client-detail", client_id=client.external_id)
    try:
        decided = entities.decide_merge(reader_for(request.user, client), merge_id, confirm=decision == "confirm",
                                        actor=request.user.username)
    except entities.MergeNotFound as error:
        messages.info(request, str(error))
    except GraphUnavailable as error:
        messages.error(request, _memory_unavailable(error))
    else:
        messages.success(request, f"“{decided.absorb_name}” and “{decided.keep_name}” are "
                                  + ("now one person." if decision == "confirm" else "kept apart."))
    return redirect("client-detail", client_id=client.external_id)


def _memory_unavailable(error: GraphUnavailable) -> str:
    """What a person reads when Neo4j is down; the driver's detail (addresses, errno) goes to the log."""
    logger.warning("memory graph unavailable: %s", error)
    return "The twin's memory cannot be reached right now; please try again in a few minutes."


@require_http_methods(["POST"])
def retry_session_memory_view(request: HttpRequest, client_id: str, session_id: str) -> HttpResponse:
    """An advisor fixed what made a session's memory fail and asks for another try."""
    client = client_for(request.user, client_id)
    if request.user.role != User.Role.ADVISOR:
        raise PermissionDenied("Only advisors retry their clients' sessions.")
    session = get_object_or_404(client.sessions, external_id=session_id)
    if retry_session_memory(session=session, actor=request.user):
        messages.success(request, "The session is queued for memory again.")
    else:
        messages.info(request, "That session's memory had not failed; nothing to retry.")
    return redirect("client-detail", client_id=client.external_id)


def memory_search_view(request: HttpRequest, client_id: str) -> HttpResponse:
    client = client_for(request.user, client_id)
    reader = reader_for(request.user, client)
    query = request.GET.get("q", "")
    log_client_view(request, firm_id=client.firm.slug, client_id=client.external_id,
                    page="memory_search" if query else "memory")
    results, error, status = [], None, 200
    if query:
        try:
            results = search(reader, query, k=10)
        except InvalidQuery as problem:
            error, status = str(problem), 400
        except GraphUnavailable as problem:
            error, status = _memory_unavailable(problem), 503
    return render(request, "advisor/memory_search.html",
                  {"client": client, "query": query, "results": results, "error": error}, status=status)


def price_chart(request: HttpRequest, client_id: str, symbol: str) -> HttpResponse:
    client = client_for(request.user, client_id)
    reader = reader_for(request.user, client)
    log_client_view(request, firm_id=client.firm.slug, client_id=client.external_id, page="price_chart",
                    target=f"security:{symbol.upper()[:40]}")
    try:
        mentions = remembered_prices_for(reader, symbol.upper())
    except GraphUnavailable as error:
        return render(request, "advisor/price_chart.html",
                      {"client": client, "symbol": symbol, "error": _memory_unavailable(error)}, status=503)
    chart = mentions_chart(symbol.upper(), mentions, timezone.localdate())
    return render(request, "advisor/price_chart.html",
                  {"client": client, "symbol": symbol.upper(), "chart": chart, "mentions": mentions})


def session_detail(request: HttpRequest, client_id: str, session_id: str) -> HttpResponse:
    """One session: the original record and every correction (who, when, why), and a correction form."""
    client = client_for(request.user, client_id)
    reader_for(request.user, client)
    versions = session_versions(client, session_id)
    log_client_view(request, firm_id=client.firm.slug, client_id=client.external_id, page="session",
                    target=f"session:{session_id}")
    current = versions[-1]
    form = SessionCorrectionForm(initial={"notes": notes_of(current)})
    return render(request, "advisor/session_detail.html",
                  {"client": client, "versions": versions, "current": current, "form": form})


@require_http_methods(["POST"])
def correct_session_view(request: HttpRequest, client_id: str, session_id: str) -> HttpResponse:
    client = client_for(request.user, client_id)
    if request.user.role != User.Role.ADVISOR:
        raise PermissionDenied("Only advisors correct their clients' sessions.")
    versions = session_versions(client, session_id)
    form = SessionCorrectionForm(request.POST)
    if form.is_valid():
        try:
            corrected = correct_session(session=versions[-1], author=request.user, notes=form.cleaned_data["notes"],
                                        reason=form.cleaned_data["reason"])
        except SessionRejected as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Version {corrected.version} recorded; the original is kept. "
                                      "Memory will follow it once the twin has taken it in.")
            return redirect("session-detail", client_id=client.external_id, session_id=session_id)
    return render(request, "advisor/session_detail.html",
                  {"client": client, "versions": versions, "current": versions[-1], "form": form}, status=400)


AUDIT_PAGE_LIMIT = 500


def _compliance_only(request: HttpRequest) -> None:
    if request.user.role != User.Role.COMPLIANCE:
        raise PermissionDenied("Only compliance sees audit trails and exports records.")


def client_audit(request: HttpRequest, client_id: str) -> HttpResponse:
    """Compliance: the client's audit trail (newest first) and whether the whole chain verifies."""
    client = client_for(request.user, client_id)
    _compliance_only(request)
    log_client_view(request, firm_id=client.firm.slug, client_id=client.external_id, page="audit_trail")
    entries = audit_services.entries_for_client(firm_id=client.firm.slug, client_id=client.external_id)
    return render(request, "advisor/client_audit.html",
                  {"client": client, "entries": entries[::-1][:AUDIT_PAGE_LIMIT], "total": len(entries),
                   "chain": audit_services.verify_chain(),
                   "erasure": ErasureRequest.objects.filter(client=client).order_by("-requested_at").first()})


@require_http_methods(["POST"])
def client_erasure(request: HttpRequest, client_id: str) -> HttpResponse:
    """Compliance: record an erasure request, or place or release a legal hold on the open one."""
    client = client_for(request.user, client_id)
    _compliance_only(request)
    action, reason = request.POST.get("action", ""), request.POST.get("reason", "")
    open_request = ErasureRequest.objects.filter(client=client, purged_at__isnull=True).first()
    try:
        if action == "request":
            made = request_erasure(client=client, actor=request.user.username, reason=reason,
                                   requested_by=request.user, ip_address=client_ip(request))
            messages.success(request, f"Erasure recorded: memory restricted now, records kept until "
                                      f"{made.retention_until:%d %b %Y}.")
        elif action in ("hold", "release") and open_request is not None:
            set_legal_hold(request=open_request, hold=action == "hold", actor=request.user.username, reason=reason)
            messages.success(request, "Legal hold placed." if action == "hold" else "Legal hold released.")
        else:
            messages.error(request, "There is no open erasure request to hold or release.")
    except ErasureRequestRejected as error:
        messages.error(request, str(error))
    return redirect("client-audit", client_id=client.external_id)


def client_export(request: HttpRequest, client_id: str) -> HttpResponse:
    """Compliance: download the client's full record for a date range, as JSON or a zip of CSVs."""
    client = client_for(request.user, client_id)
    _compliance_only(request)
    fmt = request.GET.get("format", "json")
    try:
        since = _aware(request.GET.get("since", ""), "since")
        until = _aware(request.GET.get("until", ""), "until")
        record = export_client_record(client=client, since=since, until=until, actor=request.user.username,
                                      ip_address=client_ip(request))
        body = render_export(record, fmt)
    except ExportRejected as error:
        return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    except GraphUnavailable as error:
        return HttpResponse(_memory_unavailable(error), status=503, content_type="text/plain; charset=utf-8")
    name = f"{client.external_id}-{since:%Y%m%d}-{until:%Y%m%d}.{'json' if fmt == 'json' else 'zip'}"
    response = HttpResponse(body, content_type="application/json" if fmt == "json" else "application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _aware(value: str, name: str) -> datetime:
    """A date or ISO time from the query string; a bare date is midnight UTC (the end of the range: its last second)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ExportRejected(f"{name} must be a date or an ISO 8601 time, e.g. 2024-01-31") from None
    if len(value) == 10 and name == "until":
        moment = moment.replace(hour=23, minute=59, second=59)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt_timezone.utc)


def viewpoints(request: HttpRequest) -> HttpResponse:
    """Analysts publish here; everyone in the firm sees the firm's current and past views."""
    form = ViewpointForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if request.user.role != User.Role.ANALYST:
            raise PermissionDenied("Only analysts publish viewpoints.")
        if form.is_valid():
            try:
                publish_viewpoint(analyst=request.user, **form.cleaned_data)
            except ViewpointRejected as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, "Viewpoint published. Every twin in the firm will use it.")
                return redirect("viewpoints")
        status = 400
    published = Viewpoint.objects.filter(firm_id=request.user.firm_id).select_related("analyst")[:100]
    return render(request, "advisor/viewpoints.html", {"form": form, "viewpoints": published}, status=status)
