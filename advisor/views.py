"""Portal views: parse, authorise, call a service, render. No business logic here."""
from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from advisor.forms import MemoryAsOfForm, SessionNotesForm, ViewpointForm
from advisor.models import User, Viewpoint
from advisor.health import check_health
from advisor.selectors import client_for, clients_with_pending_memory
from advisor.services.sessions import SessionRejected, record_session_notes, retry_session_memory
from advisor.services.viewpoints import ViewpointRejected, publish_viewpoint
from marketdata.charts import mentions_chart
from marketdata.services.drift import remembered_prices_for
from memory import selectors as memory_selectors
from memory.graph.driver import GraphUnavailable
from memory.services import entities
from advisor.permissions import reader_for
from memory.services.retrieval import InvalidQuery, search

logger = logging.getLogger(__name__)


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    parts = check_health()
    down = [name for name, part in parts.items() if part["status"] != "up"]
    body = {"status": "ok" if not down else "degraded", "down": down, "parts": parts}
    return JsonResponse(body, status=200 if not down else 503)


def portal_home(request: HttpRequest) -> HttpResponse:
    clients = clients_with_pending_memory(request.user)
    return render(request, "advisor/home.html", {"clients": clients})


def client_detail(request: HttpRequest, client_id: str) -> HttpResponse:
    client = client_for(request.user, client_id)
    reader = reader_for(request.user, client)
    as_of_form = MemoryAsOfForm(request.GET or None)
    moment = as_of_form.moment()
    context = {"client": client, "sessions": client.sessions.all()[:50], "holdings": client.holdings.all(),
               "form": SessionNotesForm(), "facts": [], "prices": [], "memory_error": None,
               "as_of_form": as_of_form, "moment": moment, "profile": None, "profile_versions": [],
               "pending_merges": []}
    try:
        context["facts"] = memory_selectors.client_facts(reader, **moment)
        context["profile"] = memory_selectors.client_profile(reader, **moment)
        context["profile_versions"] = memory_selectors.profile_history(reader)
        context["pending_merges"] = entities.pending_merges(reader)
        context["prices"] = remembered_prices_for(reader)
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
    context = {"client": client, "sessions": client.sessions.all()[:50], "holdings": client.holdings.all(),
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
    try:
        mentions = remembered_prices_for(reader, symbol.upper())
    except GraphUnavailable as error:
        return render(request, "advisor/price_chart.html",
                      {"client": client, "symbol": symbol, "error": _memory_unavailable(error)}, status=503)
    chart = mentions_chart(symbol.upper(), mentions, timezone.localdate())
    return render(request, "advisor/price_chart.html",
                  {"client": client, "symbol": symbol.upper(), "chart": chart, "mentions": mentions})


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
