"""Digest pages: the list, one digest as it was sent, a firm run's progress, approvals. Thin views."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from advisor.models import Client, User
from advisor.selectors import client_for
from twin.digests import selectors, services
from twin.digests.models import Digest
from twin.tasks import dispatch_builds, send_approved_digests


def digest_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.role == User.Role.ANALYST:
        raise PermissionDenied("Digests are about clients; analysts do not see them.")
    digests = selectors.visible_digests(user)
    context = {
        "digests": digests[:200],
        "failed": digests.filter(status__in=[Digest.Status.FAILED, Digest.Status.REJECTED])
        if user.role != User.Role.CLIENT else [],
        "runs": selectors.visible_runs(user)[:10],
        "awaiting": selectors.awaiting_approval(user),
        "approvals": selectors.approvals(user)[:50],
        "client": getattr(user, "client_record", None) if user.role == User.Role.CLIENT else None,
        "frequencies": Client.DigestFrequency.choices,
    }
    return render(request, "twin/digests/list.html", context)


def digest_detail(request: HttpRequest, digest_id: int) -> HttpResponse:
    digest = selectors.digest_for(request.user, digest_id)
    return render(request, "twin/digests/detail.html",
                  {"digest": digest, "archive": digest.archive.select_related("approval__approved_by").first()})


def digest_email(request: HttpRequest, digest_id: int) -> HttpResponse:
    """The e-mail's HTML exactly as stored (sent), for the portal's frame and for printing."""
    digest = selectors.digest_for(request.user, digest_id)
    archive = digest.archive.first()
    response = HttpResponse(archive.html if archive else digest.html)
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    response["X-Frame-Options"] = "SAMEORIGIN"
    return response


def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(selectors.visible_runs(request.user), pk=run_id)
    counts = services.progress(run)
    done = run.planned - counts[Digest.Status.PENDING]
    problems = run.digests.filter(status__in=[Digest.Status.FAILED, Digest.Status.REJECTED]).select_related("client", "advisor")
    if request.user.role == User.Role.ADVISOR:
        problems = problems.filter(Q(client__advisor=request.user) | Q(advisor=request.user))
    return render(request, "twin/digests/run.html", {
        "run": run, "counts": [(Digest.Status(s).label, s, n) for s, n in counts.items()], "done": done,
        "percent": round(100 * done / run.planned) if run.planned else 100, "problems": problems[:200]})


@require_http_methods(["POST"])
def approve_view(request: HttpRequest, fingerprint: str) -> HttpResponse:
    try:
        approval = services.approve_content(firm=request.user.firm, fingerprint=fingerprint, approver=request.user,
                                            note=request.POST.get("note", "").strip())
    except services.DigestRejected as error:
        messages.error(request, str(error))
    else:
        send_approved_digests.delay(approval.pk)
        messages.success(request, f"Approved for {approval.recipients} retail clients; their digests are being sent.")
    return redirect("digest-list")


@require_http_methods(["POST"])
def retry_view(request: HttpRequest, digest_id: int) -> HttpResponse:
    digest = selectors.digest_for(request.user, digest_id)
    if request.user.role != User.Role.ADVISOR:
        raise PermissionDenied("Advisors retry their digests.")
    try:
        services.retry_digest(digest=digest, actor=request.user)
    except services.DigestRejected as error:
        messages.error(request, str(error))
    else:
        dispatch_builds([digest.pk])
        messages.success(request, "The digest is being built again.")
    return redirect("digest-detail", digest_id=digest.pk)


@require_http_methods(["POST"])
def preference_view(request: HttpRequest, client_id: str) -> HttpResponse:
    """A client (for themself) or their advisor opts in or out of digests."""
    client = client_for(request.user, client_id)
    if request.user.role not in (User.Role.CLIENT, User.Role.ADVISOR):
        raise PermissionDenied("Only the client or their advisor changes digest preferences.")
    opt_in = request.POST.get("opt_in") == "on"
    try:
        services.set_digest_preference(client=client, opt_in=opt_in,
                                       frequency=request.POST.get("frequency", client.digest_frequency),
                                       actor=request.user)
    except services.DigestRejected as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Digests {'on, ' + client.get_digest_frequency_display().lower() if opt_in else 'off'} "
                                  f"for {client.name}.")
    if request.user.role == User.Role.ADVISOR:
        return redirect("client-detail", client_id=client.external_id)
    return redirect("digest-list")
