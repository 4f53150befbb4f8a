"""A small demo firm, idempotent: an advisor, an analyst, a compliance officer and two clients."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from advisor.models import Client, Firm, Holding, User
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
from marketdata.providers.replay import ReplayProvider
from memory.graph.driver import GraphUnavailable
from memory.services.ingest import drain_outbox

DEMO_PASSWORD = "twin-demo-2026"
PEOPLE = [
    ("advisor", "Alex", "Morgan", User.Role.ADVISOR),
    ("analyst", "Priya", "Shah", User.Role.ANALYST),
    ("compliance", "Chris", "Lee", User.Role.COMPLIANCE),
    ("ann", "Ann", "Carter", User.Role.CLIENT),
    ("ben", "Ben", "Okafor", User.Role.CLIENT),
]


def demo_sessions(today: date) -> list[tuple[str, str, datetime, list[tuple[str, str]]]]:
    """The demo's conversations, dated back from the day they are first seeded.

    The prices the clients quote are the replayed market's own closes on the day they mean, so the
    drift the portal shows since then, and the market-move alerts, are real moves of real history.
    """
    def at(days_ago: int, hour: int) -> datetime:
        return datetime.combine(today - timedelta(days=days_ago), time(hour), tzinfo=dt_timezone.utc)

    replay = ReplayProvider()

    def close(symbol: str, days_ago: int) -> float:
        day = today - timedelta(days=days_ago)
        return float(replay.daily_history(symbol, day - timedelta(days=7), day)["close"].iloc[-1])

    return [
        ("ann", "ann-review-1", at(300, 10), [
            ("Alex Morgan", "Good to see you, Ann. How are you feeling about the portfolio?"),
            ("Ann Carter", "I'm 52 and I want to retire in 2035. I'm fine with moderate risk."),
            ("Ann Carter", f"I bought Apple at ${close('AAPL', 330):.2f} last month and I also hold some Microsoft."),
            ("Ann Carter", "Please no tobacco companies, and I'm worried about inflation."),
        ]),
        ("ann", "ann-review-2", at(75, 15), [
            ("Ann Carter", "We had a baby last month, so things have changed."),
            ("Ann Carter", "Honestly I can't stomach big losses any more; I'd call myself conservative now."),
            ("Ann Carter", "I'd like to retire earlier, in 2033 if possible."),
        ]),
        ("ben", "ben-review-1", at(150, 9), [
            ("Ben Okafor", "I'm saving for a house deposit of $120,000 by 2028."),
            ("Ben Okafor", f"IBM was trading at {close('IBM', 150):.0f} when I bought it. I prefer ETFs for the rest."),
        ]),
    ]


class Command(BaseCommand):
    help = "Create the demo firm, its people and a few sessions (safe to run again)."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            firm, _ = Firm.objects.get_or_create(slug="northwind", defaults={"name": "Northwind Wealth"})
            users = {}
            for username, first, last, role in PEOPLE:
                user, created = User.objects.get_or_create(
                    username=username, defaults={"first_name": first, "last_name": last, "role": role, "firm": firm}
                )
                if created:
                    user.set_password(DEMO_PASSWORD)
                    user.save()
                users[username] = user
            clients = {}
            for key in ("ann", "ben"):
                person = users[key]
                client, _ = Client.objects.get_or_create(
                    firm=firm, external_id=key,
                    defaults={"name": person.get_full_name(), "advisor": users["advisor"], "user": person},
                )
                clients[key] = client
            Holding.objects.get_or_create(client=clients["ann"], symbol="AAPL", defaults={"quantity": 40})
            Holding.objects.get_or_create(client=clients["ann"], symbol="MSFT", defaults={"quantity": 25})
            Holding.objects.get_or_create(client=clients["ann"], symbol="KO", defaults={"quantity": 60})
            Holding.objects.get_or_create(client=clients["ben"], symbol="IBM", defaults={"quantity": 30})
        for key, session_id, started_at, turns in demo_sessions(timezone.localdate()):
            client = clients[key]
            if client.sessions.filter(external_id=session_id).exists():
                continue  # seeded on an earlier day: keep what was said then
            participants = {"Alex Morgan": "advisor", client.name: "client"}
            draft = SessionDraft(
                session_id=session_id, channel="meeting", started_at=started_at, participants=participants,
                turns=tuple(TurnDraft(f"{session_id}-t{i + 1}", who, text) for i, (who, text) in enumerate(turns)),
            )
            record_session(client=client, draft=draft, recorded_by=users["advisor"])
        try:
            drain_outbox()
        except GraphUnavailable as error:
            self.stdout.write(f"Demo sessions are recorded and pending memory: {error}")
        self.stdout.write("Demo logins (password for all: %s):" % DEMO_PASSWORD)
        for username, first, last, role in PEOPLE:
            self.stdout.write(f"  {username:<11} {first} {last} ({role})")
