"""The twin's part of a retention purge: a client's advice goes when their records' retention ends."""
from __future__ import annotations

from advisor.models import Client
from twin.models import Advice


def purge_client_advice(client: Client) -> int:
    """Delete the client's advice, newest first (each names the one before it, which PROTECT keeps until then).
    Runs inside the purge's `audit.triggers.maintenance_window()`."""
    ids = list(Advice.objects.filter(client=client).order_by("-created_at").values_list("pk", flat=True))
    for advice_id in ids:
        Advice.objects.filter(pk=advice_id).purge()
    return len(ids)
