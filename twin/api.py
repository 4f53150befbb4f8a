"""The twin as a JSON API, for the chat page (session login) and firms' own apps (token).

The same permission rule as the portal: a client the caller may not see is a 404, whatever the id.
Responses carry the twin contract (`Advice.to_contract`), as `twin_ask` / `twin_brief` print it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.utils.dateparse import parse_datetime
from django.utils.decorators import method_decorator
from rest_framework import status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from advisor.permissions import MemoryAccessDenied
from advisor.selectors import client_for
from audit.access import log_client_view
from memory.graph.driver import GraphUnavailable
from memory.services.retrieval import InvalidQuery
from twin.selectors import advice_for, advice_history
from twin.services.advice import InvalidAdviceRequest, ask, brief

API_CHANNELS = ("api", "chat", "portal")
HISTORY_LIMIT = 100


class BadRequest(ValueError):
    pass


@method_decorator(login_not_required, name="dispatch")  # DRF answers 401/403 itself instead of a login redirect
class TwinView(APIView):
    # Token first: an unauthenticated call gets 401 with "WWW-Authenticate: Token", not a bare 403.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, (InvalidAdviceRequest, InvalidQuery, BadRequest)):
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, MemoryAccessDenied):
            return Response({"error": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        if isinstance(exc, GraphUnavailable):
            return Response({"error": f"The twin's memory is unavailable: {exc}"}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return super().handle_exception(exc)


def _options(request: Request) -> dict[str, Any]:
    data = request.data if isinstance(request.data, dict) else {}
    channel = data.get("channel") or "api"
    if channel not in API_CHANNELS:
        raise BadRequest(f"channel must be one of {', '.join(API_CHANNELS)}")
    return {"channel": channel, "as_of": _as_of(data.get("as_of"))}


def _as_of(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = parse_datetime(str(value))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadRequest("as_of must be an ISO 8601 date-time with a time zone, e.g. 2026-03-01T12:00:00Z")
    return moment


class AskView(TwinView):
    def post(self, request: Request, client_id: str) -> Response:
        client = client_for(request.user, client_id)
        question = request.data.get("question") if isinstance(request.data, dict) else None
        if not isinstance(question, str):
            raise BadRequest('Send {"question": "..."} as JSON.')
        result = ask(client=client, question=question, actor=request.user, **_options(request))
        return Response(result.to_contract(), status=status.HTTP_201_CREATED)


class BriefView(TwinView):
    def post(self, request: Request, client_id: str) -> Response:
        client = client_for(request.user, client_id)
        result = brief(client=client, actor=request.user, **_options(request))
        return Response(result.to_contract(), status=status.HTTP_201_CREATED)


class AdviceHistoryView(TwinView):
    def get(self, request: Request, client_id: str) -> Response:
        client = client_for(request.user, client_id)
        log_client_view(request, firm_id=client.firm.slug, client_id=client.external_id, page="api_advice_history")
        return Response([
            {"advice_id": a.id, "kind": a.kind, "question": a.question, "created_at": a.created_at.isoformat(),
             "as_of": a.as_of.isoformat(), "declined": a.declined, "items": len(a.items),
             "previous_advice_id": a.previous_id, "composer": a.composer}
            for a in advice_history(client)[:HISTORY_LIMIT]
        ])


class AdviceDetailView(TwinView):
    def get(self, request: Request, client_id: str, advice_id: str) -> Response:
        client = client_for(request.user, client_id)
        advice = advice_for(client, advice_id)
        log_client_view(request, firm_id=client.firm.slug, client_id=client.external_id, page="api_advice",
                        target=f"advice:{advice.pk}")
        return Response(advice.to_contract())
