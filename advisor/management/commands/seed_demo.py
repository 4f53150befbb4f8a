"""A small demo firm, idempotent: an advisor, an analyst, a compliance officer and two clients."""
from __future__ import annotations

from datetime import datetime, timezone as dt_timezone

from django.core.management.base import BaseCommand
from django.db import transaction

from advisor.models import Client, Firm, Holding, User
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
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
SESSIONS = [
    ("ann", "ann-2024-03-03", datetime(2024, 3, 3, 10, 0, tzinfo=dt_timezone.utc), [
        ("Alex Morgan", "Good to see you, Ann. How are you feeling about the portfolio?"),
        ("Ann Carter", "I'm 52 and I want to retire in 2035. I'm fine with moderate risk."),
        ("Ann Carter", "I bought Apple at $182.10 last month and I also hold some Microsoft."),
        ("Ann Carter", "Please no tobacco companies, and I'm worried about inflation."),
    ]),
    ("ann", "ann-2024-09-12", datetime(2024, 9, 12, 15, 30, tzinfo=dt_timezone.utc), [
        ("Ann Carter", "We had a baby in August, so things have changed."),
        ("Ann Carter", "Honestly I can't stomach big losses any more; I'd call myself conservative now."),
        ("Ann Carter", "I'd like to retire earlier, in 2033 if possible."),
    ]),
    ("ben", "ben-2024-05-20", datetime(2024, 5, 20, 9, 0, tzinfo=dt_timezone.utc), [
        ("Ben Okafor", "I'm saving for a house deposit of $120,000 by 2027."),
        ("Ben Okafor", "IBM was trading at 170 when I bought it. I prefer ETFs for the rest."),
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
            Holding.objects.get_or_create(client=clients["ben"], symbol="IBM", defaults={"quantity": 30})
        for key, session_id, started_at, turns in SESSIONS:
            client = clients[key]
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
