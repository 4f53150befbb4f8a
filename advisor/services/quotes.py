"""Quotes for the firm's clients: what they hold beside what they discussed, at their own move thresholds."""
from __future__ import annotations

from datetime import datetime

from advisor.models import Client, Firm, Holding
from marketdata.providers import QuoteProvider
from marketdata.services.move_alerts import MoveThresholds
from marketdata.services.refresh import RefreshReport, refresh_remembered_quotes


def move_thresholds() -> MoveThresholds:
    """Per-client and per-firm significant-move settings (set in the admin); blanks use the default."""
    by_client = {(firm, client): percent for firm, client, percent in
                 Client.objects.filter(significant_move_percent__isnull=False)
                 .values_list("firm__slug", "external_id", "significant_move_percent")}
    by_firm = dict(Firm.objects.filter(significant_move_percent__isnull=False)
                   .values_list("slug", "significant_move_percent"))
    return MoveThresholds(by_client=by_client, by_firm=by_firm)


def refresh_client_quotes(provider: QuoteProvider | None = None, now: datetime | None = None) -> RefreshReport:
    """One refresh cycle for everything remembered or held (beat runs it every QUOTE_REFRESH_SECONDS)."""
    held = Holding.objects.values_list("symbol", flat=True).distinct()
    return refresh_remembered_quotes(provider, now, also_quote=list(held), thresholds=move_thresholds())
