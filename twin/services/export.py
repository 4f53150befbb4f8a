"""The twin's sections of a compliance export: advice with its basis, the chat, and the digests sent."""
from __future__ import annotations

from typing import Any

from advisor.services.export import ExportScope
from twin.models import Advice, ChatRound, SentDigest


def advice_section(scope: ExportScope) -> list[dict[str, Any]]:
    advice = (Advice.objects.filter(client=scope.client, created_at__gte=scope.since, created_at__lte=scope.until)
              .select_related("actor").order_by("created_at"))
    return [{**a.to_contract(), "question": a.question, "channel": a.channel,
             "actor": a.actor.username if a.actor else "", "profile_facts": a.profile_facts, "quotes": a.quotes,
             "viewpoint_ids": a.viewpoint_ids, "tool_calls": a.tool_calls, "model_check": a.model_check,
             "memory_id": a.memory_id} for a in advice]


def chat_section(scope: ExportScope) -> list[dict[str, Any]]:
    """Every chat round in the range as it was said and answered, withdrawn and refused rounds included,
    with when and by whom going back set a round aside and when its memory left the current view."""
    rounds = (ChatRound.objects.filter(conversation__client=scope.client, said_at__gte=scope.since,
                                       said_at__lte=scope.until)
              .select_related("said_by", "session", "answer_record", "review__decision_record__decided_by",
                              "withdrawal__rewind__actor",
                              "memory_rollback__rollback").order_by("said_at", "pk"))
    rows = []
    for r in rounds:
        rewind = r.withdrawn_by
        rows.append({
            "conversation": r.conversation_id, "round": r.number, "said_at": r.said_at.isoformat(),
            "said_by": r.said_by.username if r.said_by else "", "text": r.text, "status": r.status,
            "answer": r.answer, "answered_at": r.reply.answered_at.isoformat() if r.reply else "",
            "disclosure": r.disclosure, "refusal_reason": r.refusal_reason,
            "citations": r.contract.get("citations", []), "advice_id": r.contract.get("advice_id"),
            "session": r.session.external_id if r.session else "",
            "withdrawn_by_going_back_at": rewind.at.isoformat() if rewind else "",
            "withdrawn_by": (rewind.actor.username if rewind.actor else "unknown") if rewind else "",
            "withdrawn_back_to_round": rewind.to_round if rewind else "",
            "memory_withdrawn_at": r.memory_withdrawn_at.isoformat() if r.memory_withdrawn_at else "",
        })
    return rows


def digests_section(scope: ExportScope) -> list[dict[str, Any]]:
    """Every digest sent to the client in the range, exactly as sent (the append-only archive)."""
    sent = (SentDigest.objects.filter(digest__client=scope.client, sent_at__gte=scope.since, sent_at__lte=scope.until)
            .select_related("approval__approved_by").order_by("sent_at", "pk"))
    return [{"digest": s.digest_id, "sent_at": s.sent_at.isoformat(), "to": s.to_address, "subject": s.subject,
             "text": s.text, "content_hash": s.content_hash,
             "approved_by": s.approval.approved_by.username if s.approval else "",
             "approved_at": s.approval.approved_at.isoformat() if s.approval else ""} for s in sent]
