"""The twin's part of a retention purge: when a client's records' retention ends (and no legal hold
stops it), their advice, chat, memory corrections and digests go. Each purger runs inside the purge's
`audit.triggers.maintenance_window()` (advisor/services/erasure.py) and returns the rows it deleted."""
from __future__ import annotations

from advisor.models import Client
from twin.models import Advice, ChatConversation, MemoryCorrection
from twin.digests.models import Digest, SentDigest


def purge_client_advice(client: Client) -> int:
    """Delete the client's advice, newest first (each names the one before it, which PROTECT keeps until then)."""
    ids = list(Advice.objects.filter(client=client).order_by("-created_at").values_list("pk", flat=True))
    for advice_id in ids:
        Advice.objects.filter(pk=advice_id).purge()
    return len(ids)


def purge_client_chat(client: Client) -> int:
    """Delete the client's chat: conversations with their rounds, replies, rewinds, withdrawals, memory
    rollbacks, review items and decisions (all cascade from the conversation), and their corrections."""
    deleted = ChatConversation.objects.filter(client=client).delete()[0]
    return deleted + MemoryCorrection.objects.filter(client=client).delete()[0]


def purge_client_digests(client: Client) -> int:
    """Delete the digests made for the client and the archive of what was sent to them."""
    deleted = SentDigest.objects.filter(digest__client=client).purge()
    return deleted + Digest.objects.filter(client=client).delete()[0]
