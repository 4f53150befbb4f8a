"""Portal pages for the twin's advice: the timeline, a new brief, and what changed between two."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from advisor.selectors import client_for
from audit.access import log_client_view
from memory.graph.driver import GraphUnavailable
from twin.selectors import advice_for, advice_history
from twin.services.advice import brief, changes_since

TIMELINE_LIMIT = 50


def advice_timeline(request: HttpRequest, client_id: str) -> HttpResponse:
    client = client_for(request.user, client_id)
    log_client_view(request, firm_id=client.firm.slug, client_id=client.external_id, page="advice_timeline")
    history = list(advice_history(client)[:TIMELINE_LIMIT])
    return render(request, "twin/advice_timeline.html", {"client": client, "history": history})


@require_http_methods(["POST"])
def prepare_brief(request: HttpRequest, client_id: str) -> HttpResponse:
    client = client_for(request.user, client_id)
    try:
        brief(client=client, actor=request.user, channel="portal")
    except GraphUnavailable as error:
        messages.error(request, f"The twin's memory is unavailable ({error}); try again when it is back.")
    else:
        messages.success(request, "Brief prepared.")
    return redirect("advice-timeline", client_id=client.external_id)


def compare_advice(request: HttpRequest, client_id: str) -> HttpResponse:
    """'What changed and why' between any two pieces of the client's advice, older first."""
    client = client_for(request.user, client_id)
    if not (request.GET.get("from") and request.GET.get("to")):  # no choice made: the two latest
        latest = list(advice_history(client)[:2])
        if len(latest) < 2:
            return render(request, "twin/advice_compare.html", {"client": client, "older": None, "newer": None})
        first, second = latest
    else:
        first = advice_for(client, request.GET["from"])
        second = advice_for(client, request.GET["to"])
    older, newer = sorted((first, second), key=lambda a: a.created_at)
    log_client_view(request, firm_id=client.firm.slug, client_id=client.external_id, page="advice_compare",
                    target=f"advice:{older.pk}..{newer.pk}")
    comparison = changes_since(older, newer) if older.pk != newer.pk else {"advice_id": older.pk, "changes": []}
    return render(request, "twin/advice_compare.html",
                  {"client": client, "older": older, "newer": newer, "changes": comparison["changes"]})
