"""Reads of stored advice, filtered by what the user may see (the same rule as the portal)."""
from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from advisor.models import Client
from twin.models import Advice


def advice_history(client: Client) -> QuerySet[Advice]:
    """The client's advice, newest first. The caller has already resolved `client` for the user."""
    return Advice.objects.filter(client=client).select_related("actor").order_by("-created_at")


def advice_for(client: Client, advice_id: str) -> Advice:
    """One piece of the client's advice; 404 for an id that is not theirs (never reveal it exists)."""
    advice = Advice.objects.filter(client=client, pk=advice_id).first()
    if advice is None:
        raise Http404("No such advice for this client.")
    return advice
