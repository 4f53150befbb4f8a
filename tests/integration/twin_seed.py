"""A client seeded through the real paths (recorded sessions drained into Neo4j, quotes refreshed,
a viewpoint published) for the twin's integration tests."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from advisor.models import Client, Firm, Holding, User
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
from advisor.services.viewpoints import publish_viewpoint
from marketdata.providers.base import Quote, QuoteBatch
from advisor.services.quotes import refresh_client_quotes
from memory.services.ingest import drain_outbox

NOW = datetime.now(timezone.utc)
MET = NOW - timedelta(days=30)


class FixedProvider:
    name = "fixed"

    def __init__(self, prices: dict[str, float], as_of: datetime = NOW) -> None:
        self.prices, self.as_of = prices, as_of

    def latest_quotes(self, symbols: list[str]) -> QuoteBatch:
        return QuoteBatch(quotes={s: Quote(s, self.prices[s], "USD", self.as_of, self.name, self.as_of.date())
                                  for s in symbols if s in self.prices},
                          unknown=[s for s in symbols if s not in self.prices])


def seed_client(*, turns: list[tuple[str, str]], external_id: str = "ann") -> Client:
    firm, _ = Firm.objects.get_or_create(slug="north", defaults={"name": "North"})
    advisor, _ = User.objects.get_or_create(username="alex", defaults={"role": User.Role.ADVISOR, "firm": firm})
    client = Client.objects.create(firm=firm, advisor=advisor, external_id=external_id, name="Ann Carter")
    draft = SessionDraft(session_id=f"{external_id}-s1", channel="meeting", started_at=MET,
                         participants={"Ann Carter": "client", "Alex": "advisor"},
                         turns=tuple(TurnDraft(turn_id, "Ann Carter", text) for turn_id, text in turns))
    record_session(client=client, draft=draft)
    drain_outbox()
    return client


FULL_PROFILE = [
    ("a1", "I'm conservative, I can't stomach big losses."),
    ("a2", "My horizon is 10 years."),
    ("a3", "I want to buy a house in 12 months with a $50,000 deposit."),
    ("a4", "No tobacco stocks for me, please."),
    ("a5", "I bought Apple at $150.00 last year."),
]



def seed_ann() -> Client:
    """Ann: a full profile, three holdings worth 20,000 (AAPL 10,000, MO 5,000, KO 5,000), a BUY view on AAPL."""
    client = seed_client(turns=FULL_PROFILE)
    for symbol, quantity in (("AAPL", 50), ("MO", 100), ("KO", 100)):
        Holding.objects.create(client=client, symbol=symbol, quantity=Decimal(quantity))
    refresh_client_quotes(FixedProvider({"AAPL": 200.0, "MO": 50.0, "KO": 50.0}))
    analyst, _ = User.objects.get_or_create(username="priya", defaults={"role": User.Role.ANALYST, "firm": client.firm})
    publish_viewpoint(analyst=analyst, symbol="AAPL", stance="buy", rationale="Services growth.",
                      target_price=Decimal("230"))
    drain_outbox()
    return client
