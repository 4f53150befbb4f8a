"""Pages of the clients' chat with the twin, and the advisor's review and correction queues.

Thin: parse, authorise (`advisor.selectors.client_for` answers 404 for anyone else's client), call
`twin.services.chat`, render. Domain refusals come back as 400 with the service's message.
"""
from __future__ import annotations

import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from advisor.models import User
from advisor.selectors import client_for
from memory.graph.driver import GraphUnavailable
from twin.models import ChatConversation, MemoryCorrection, ReviewItem
from twin.services import chat

logger = logging.getLogger(__name__)


def chat_page(request: HttpRequest, client_id: str, *, error: str = "", status: int = 200,
              draft: str = "") -> HttpResponse:
    client = client_for(request.user, client_id)
    if request.user.role not in (User.Role.CLIENT, User.Role.ADVISOR, User.Role.COMPLIANCE):
        raise PermissionDenied("The chat is for the client and their advisor (compliance reads it).")
    conversation = chat.conversation_for(client=client, actor=request.user)
    chat.apply_pending_withdrawals(conversation)
    page, problem = _round_page(conversation, request.GET.get("before", ""))
    if problem:
        error, status = problem, 400
    withdrawn = list(conversation.rounds.filter(withdrawal__isnull=False).select_related("withdrawal__rewind__actor"))
    facts, memory_error = [], ""
    try:
        facts = chat.remembered_facts(client=client)
    except GraphUnavailable as problem:
        logger.warning("memory graph unavailable: %s", problem)
        memory_error = "The twin's memory cannot be reached right now; please try again in a few minutes."
    context = {
        "client": client, "rounds": chat.round_views(page.rounds, viewer=request.user), "page": page,
        "withdrawn": withdrawn,
        "facts": facts, "memory_error": memory_error, "error": error, "draft": draft,
        "corrections": client.memory_corrections.all()[:20], "is_client": request.user.role == User.Role.CLIENT,
        "can_go_back": request.user.role in (User.Role.CLIENT, User.Role.ADVISOR),
        "disclosure": chat.disclosure_for(client),
    }
    return render(request, "twin/chat.html", context, status=status)


def _round_page(conversation: ChatConversation, before: str) -> tuple[chat.RoundPage, str]:
    """The rounds `?before=N` asks for (the latest without it); a bad N shows the latest, and says why."""
    if not before:
        return chat.round_page(conversation), ""
    try:
        return chat.round_page(conversation, before=int(before)), ""
    except chat.ChatRejected as problem:
        return chat.round_page(conversation), str(problem)
    except ValueError:
        return chat.round_page(conversation), f"“{before[:20]}” is not a round number; here are the latest rounds."


@require_http_methods(["POST"])
def chat_say(request: HttpRequest, client_id: str) -> HttpResponse:
    client = client_for(request.user, client_id)
    conversation = chat.conversation_for(client=client, actor=request.user)
    text = request.POST.get("text", "")
    try:
        chat_round = chat.say(conversation=conversation, text=text, actor=request.user)
    except chat.ChatRejected as problem:
        return chat_page(request, client_id, error=str(problem), status=400, draft=text)
    return redirect(reverse("twin-chat", args=[client.external_id]) + f"#round-{chat_round.number}")


@require_http_methods(["POST"])
def chat_back(request: HttpRequest, client_id: str) -> HttpResponse:
    client = client_for(request.user, client_id)
    conversation = chat.conversation_for(client=client, actor=request.user)
    try:
        to_round = int(request.POST.get("to_round", ""))
        rewind = chat.go_back(conversation=conversation, to_round=to_round, actor=request.user)
    except ValueError as problem:  # ChatRejected is a ValueError too
        message = str(problem) if isinstance(problem, chat.ChatRejected) else "Choose a round to go back to."
        return chat_page(request, client_id, error=message, status=400)
    withdrawn = rewind.withdrawals.count()
    rounds = "1 later round" if withdrawn == 1 else f"{withdrawn} later rounds"
    messages.success(request, f"Back at round {rewind.to_round}: {rounds} set aside (kept in the record); "
                              "what you said there no longer counts in the twin's memory.")
    return redirect("twin-chat", client_id=client.external_id)


@require_http_methods(["POST"])
def chat_correction(request: HttpRequest, client_id: str) -> HttpResponse:
    client = client_for(request.user, client_id)
    try:
        chat.request_correction(client=client, memory_id=request.POST.get("memory_id", ""),
                                correction=request.POST.get("correction", ""), actor=request.user)
    except chat.ChatRejected as problem:
        return chat_page(request, client_id, error=str(problem), status=400)
    except GraphUnavailable:
        return chat_page(request, client_id, error="The twin's memory cannot be reached right now; "
                                                   "please try again in a few minutes.", status=503)
    messages.success(request, "Thank you. Your advisor will confirm or reject this correction.")
    return redirect("twin-chat", client_id=client.external_id)


def review_queue(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    if request.user.role != User.Role.ADVISOR:
        raise PermissionDenied("The review queue is for advisors.")
    items = list(chat.review_queue(advisor=request.user))
    context = {"reviews": chat.round_views([item.round for item in items], viewer=request.user),
               "corrections": chat.correction_queue(advisor=request.user), "error": error}
    return render(request, "twin/review_queue.html", context, status=status)


@require_http_methods(["POST"])
def review_answer(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(ReviewItem.objects.select_related("round__conversation__client"), pk=pk,
                             round__conversation__client__advisor=request.user)
    try:
        chat.decide_review(item=item, actor=request.user, approve=request.POST.get("decision") == "approve",
                           note=request.POST.get("note", ""))
    except chat.ChatRejected as problem:
        return review_queue(request, error=str(problem), status=400)
    return redirect("twin-review")


@require_http_methods(["POST"])
def review_correction(request: HttpRequest, pk: int) -> HttpResponse:
    correction = get_object_or_404(MemoryCorrection.objects.select_related("client__firm"), pk=pk,
                                   client__advisor=request.user)
    try:
        chat.decide_correction(correction=correction, actor=request.user,
                               confirm=request.POST.get("decision") == "confirm",
                               revised_text=request.POST.get("revised_text", ""), note=request.POST.get("note", ""))
    except chat.ChatRejected as problem:
        return review_queue(request, error=str(problem), status=400)
    except GraphUnavailable:
        return review_queue(request, error="The twin's memory cannot be reached right now; nothing was changed.",
                            status=503)
    return redirect("twin-review")
