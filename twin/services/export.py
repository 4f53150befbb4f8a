"""The twin's section of a compliance export: every piece of advice in the range, with its basis."""
from __future__ import annotations

from typing import Any

from advisor.services.export import ExportScope
from twin.models import Advice


def advice_section(scope: ExportScope) -> list[dict[str, Any]]:
    advice = (Advice.objects.filter(client=scope.client, created_at__gte=scope.since, created_at__lte=scope.until)
              .select_related("actor").order_by("created_at"))
    return [{**a.to_contract(), "question": a.question, "channel": a.channel,
             "actor": a.actor.username if a.actor else "", "profile_facts": a.profile_facts, "quotes": a.quotes,
             "viewpoint_ids": a.viewpoint_ids, "tool_calls": a.tool_calls, "model_check": a.model_check,
             "memory_id": a.memory_id} for a in advice]
