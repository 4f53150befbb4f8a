"""A firm run of client digests through real Celery workers: total time, per-digest build time, approval.

The firm: N clients, each with one imported session (a price discussed for AAPL and IBM, a goal, a
market concern), holding AAPL, opted in to weekly digests, quoted by an instant provider 12% above
what they discussed (so every client has a market-move memory), and one analyst view on AAPL published
in the period: every client's digest shares that content, so the run ends held for compliance approval
(more than 25 retail recipients), and approving it sends all N e-mails (file backend).
"""
from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from advisor.models import Client, Firm, Holding, User, Viewpoint
from advisor.services.importer import import_sessions
from advisor.services.quotes import refresh_client_quotes
from marketdata.providers.base import Quote, QuoteBatch
from twin.digests import services
from twin.digests.models import Digest, DigestRun, SentDigest

REPO = Path(__file__).resolve().parents[2]
FIRM = "bench-digests"


class InstantProvider:
    name = "bench"

    def __init__(self, prices: dict[str, float], as_of: datetime) -> None:
        self.prices, self.as_of = prices, as_of

    def latest_quotes(self, symbols: list[str]) -> QuoteBatch:
        return QuoteBatch(quotes={s: Quote(s, self.prices[s], "USD", self.as_of, self.name, self.as_of.date())
                                  for s in symbols if s in self.prices},
                          unknown=[s for s in symbols if s not in self.prices])


def load_firm(clients: int) -> Firm:
    said_at = datetime.now(dt_timezone.utc) - timedelta(days=30)
    lines = [json.dumps({
        "client_id": f"d{n}", "session_id": f"d{n}-s1", "channel": "meeting", "started_at": said_at.isoformat(),
        "participants": {f"Client {n}": "client", "Alex Morgan": "advisor"},
        "turns": [
            {"turn_id": f"d{n}-t1", "speaker": f"Client {n}", "text": "I bought Apple at $100.00 and IBM at $150.00."},
            {"turn_id": f"d{n}-t2", "speaker": f"Client {n}", "text": "I want to retire in 2027."},
            {"turn_id": f"d{n}-t3", "speaker": f"Client {n}", "text": "I'm worried about a market crash."},
        ]}) for n in range(clients)]
    report = import_sessions(lines, FIRM)
    if report.errors or report.pending:
        raise RuntimeError(f"bench import failed: {report.errors[:3]} pending={report.pending}")
    firm = Firm.objects.get(slug=FIRM)
    firm.digest_hour, firm.client_digest_weekday, firm.advisor_digests = 0, timezone.localtime().weekday(), False
    firm.save()
    analyst = User.objects.create(username="bench-analyst", first_name="Ana", last_name="Lyst", role="analyst", firm=firm)
    User.objects.create(username="bench-cco", role="compliance", firm=firm)
    users = User.objects.bulk_create([User(username=f"bench-client-{n}", role="client", firm=firm,
                                           email=f"client{n}@example.com") for n in range(clients)])
    by_name = {u.username: u for u in users}
    rows = list(Client.objects.filter(firm=firm))
    for row in rows:
        row.user = by_name[f"bench-client-{row.external_id[1:]}"]
        row.digest_opt_in, row.digest_frequency = True, "weekly"
    Client.objects.bulk_update(rows, ["user", "digest_opt_in", "digest_frequency"], batch_size=500)
    Holding.objects.bulk_create([Holding(client=row, symbol="AAPL", quantity=10) for row in rows])
    Viewpoint.objects.create(firm=firm, analyst=analyst, symbol="AAPL", stance="hold", target_price=Decimal("120"),
                             rationale="Priced for the good news already.", published_at=timezone.now() - timedelta(hours=1))
    refresh_client_quotes(provider=InstantProvider({"AAPL": 112.0, "IBM": 168.0}, datetime.now(dt_timezone.utc)))
    return firm


def _start_workers(concurrency: int, mail_dir: str) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}",
           "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": mail_dir}
    log = open(REPO / "var" / "log" / "bench-digest-worker.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING",
                                f"--concurrency={concurrency}", "-Q", "digests", "-n", f"bench-digests-{os.getpid()}@%h"],
                               cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(name.startswith("bench-digests-") for reply in (app.control.ping(timeout=1.0) or []) for name in reply):
            return process
    process.kill()
    raise RuntimeError("the bench Celery worker did not answer within 60 s")


def firm_run(clients: int, workers: int) -> dict[str, object]:
    load_started = time.perf_counter()
    firm = load_firm(clients)
    load_seconds = time.perf_counter() - load_started
    mail_dir = tempfile.mkdtemp(prefix="bench-digest-mail-")
    process = _start_workers(workers, mail_dir)
    try:
        from twin.tasks import schedule_digests

        started = time.perf_counter()
        schedule_digests.apply_async().get(timeout=600)
        run = DigestRun.objects.get(firm=firm)
        while run.digests.filter(status=Digest.Status.PENDING).exists() or run.digests.filter(status=Digest.Status.BUILT).exists():
            time.sleep(0.5)
        built_seconds = time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    statuses = services.progress(run)
    builds = sorted(run.digests.filter(build_seconds__isnull=False).values_list("build_seconds", flat=True))
    if not builds:
        raise RuntimeError(f"no digest was built: {statuses}; see var/log/bench-digest-worker.log")
    fingerprint = run.digests.values_list("shared_fingerprint", flat=True).first()
    approve_started = time.perf_counter()
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH=mail_dir):
        approval = services.approve_content(firm=firm, fingerprint=fingerprint,
                                            approver=User.objects.get(username="bench-cco"))
        services.send_approved(approval=approval)
    approve_seconds = time.perf_counter() - approve_started
    return {
        "client_digests": run.planned, "workers": workers, "load_seconds": round(load_seconds, 1),
        "run_seconds": round(built_seconds, 1), "digests_per_second": round(run.planned / built_seconds, 1),
        "build_p50_ms": round(1000 * statistics.median(builds)), "build_p95_ms": round(1000 * builds[int(0.95 * (len(builds) - 1))]),
        "build_max_ms": round(1000 * builds[-1]), "held_for_approval": statuses["awaiting_approval"],
        "failed": statuses["failed"], "approve_and_send_seconds": round(approve_seconds, 1),
        "sent": SentDigest.objects.filter(digest__run=run).count(),
    }
