"""Analysts publish viewpoints on securities: shared memory for every twin in the firm."""
from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from advisor.models import User, Viewpoint
from audit import services as audit
from memory.extraction.securities import lookup_symbol
from memory.records import ViewpointRecord
from memory.services import outbox
from memory.tasks import nudge_outbox_drain


class ViewpointRejected(ValueError):
    """The viewpoint cannot be published as given; the message says what to fix."""


def publish_viewpoint(*, analyst: User, symbol: str, stance: str, rationale: str,
                      target_price: Decimal | None = None, horizon_months: int | None = None) -> Viewpoint:
    if analyst.role != User.Role.ANALYST or analyst.firm_id is None:
        raise ViewpointRejected("Only a firm's analysts publish viewpoints.")
    resolved = lookup_symbol(symbol)
    if resolved is None:
        raise ViewpointRejected(f"{symbol!r} is not a security we know; use its ticker, e.g. AAPL.")
    if stance not in Viewpoint.Stance.values:
        raise ViewpointRejected(f"stance must be one of {', '.join(Viewpoint.Stance.values)}")
    if not rationale.strip():
        raise ViewpointRejected("Give the rationale: it is what advisors will quote.")
    if target_price is not None and target_price <= 0:
        raise ViewpointRejected("A target price must be positive.")
    with transaction.atomic():
        viewpoint = Viewpoint.objects.create(
            firm_id=analyst.firm_id, analyst=analyst, symbol=resolved, stance=stance, target_price=target_price,
            horizon_months=horizon_months, rationale=rationale.strip(), published_at=timezone.now(),
        )
        outbox.enqueue_viewpoint(ViewpointRecord(
            firm_id=analyst.firm.slug, viewpoint_id=str(viewpoint.pk), symbol=resolved, stance=stance,
            target_price=float(target_price) if target_price is not None else None, horizon_months=horizon_months,
            rationale=viewpoint.rationale, analyst=analyst.get_full_name() or analyst.username,
            published_at=viewpoint.published_at), object_id=viewpoint.pk)
        audit.record(action="viewpoint.published", actor=analyst.username, firm_id=analyst.firm.slug,
                     target=f"viewpoint:{viewpoint.pk}", detail={"symbol": resolved, "stance": stance})
        transaction.on_commit(nudge_outbox_drain)
    return viewpoint
