"""The digest schedule through a real Celery worker and Redis: tasks on the `digests` queue, run twice."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from advisor.models import Client, Firm, Holding, User, Viewpoint
from advisor.services.quotes import refresh_client_quotes
from config.celery import app
from twin.digests import services
from twin.digests.models import Digest, DigestApproval, SentDigest
from twin.tasks import schedule_digests

pytestmark = pytest.mark.django_db(transaction=True)


def test_digest_tasks_are_routed_to_the_digests_queue():
    for name in ("digests.schedule", "digests.build", "digests.release_run"):
        assert app.amqp.router.route({}, name)["queue"].name == "digests"


def test_running_the_schedule_twice_on_a_worker_sends_one_digest_per_reader(clean_graph, celery_worker_process):
    call_command("seed_demo")
    refresh_client_quotes()
    Firm.objects.filter(slug="northwind").update(digest_hour=0, client_digest_weekday=timezone.localtime().weekday())
    User.objects.filter(username__in=["advisor", "ann"]).update(email="someone@example.com")
    Client.objects.filter(external_id="ann").update(digest_opt_in=True)

    first = schedule_digests.apply_async().get(timeout=60)
    second = schedule_digests.apply_async().get(timeout=60)

    assert first == {"created": 2, "dispatched": 2}
    assert second["created"] == 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and Digest.objects.exclude(status=Digest.Status.SENT).exists():
        time.sleep(0.5)
    assert sorted(Digest.objects.values_list("audience", "status")) == [("advisor", "sent"), ("client", "sent")]
    assert SentDigest.objects.count() == 2


def test_compliance_approves_held_content_in_the_portal_and_the_worker_sends_it(clean_graph, celery_worker_process,
                                                                                 client):
    firm = Firm.objects.create(slug="retail-w", name="Retail", digest_hour=0, advisor_digests=False,
                               client_digest_weekday=timezone.localtime().weekday())
    analyst = User.objects.create(username="ana-w", role="analyst", firm=firm)
    officer = User.objects.create(username="cco-w", first_name="Cora", last_name="Oversight", role="compliance", firm=firm)
    Viewpoint.objects.create(firm=firm, analyst=analyst, symbol="IBM", stance="sell", rationale="Margins are shrinking.",
                             published_at=timezone.now() - timedelta(hours=1))
    for n in range(26):
        user = User.objects.create(username=f"w{n}", role="client", firm=firm, email=f"w{n}@example.com")
        holder = Client.objects.create(firm=firm, external_id=f"w{n}", name=f"W {n}", user=user, digest_opt_in=True)
        Holding.objects.create(client=holder, symbol="IBM", quantity=1)
    run = services.schedule_firm(firm=firm)
    for digest in run.digests.all():
        services.build_digest(digest_id=digest.pk)
    services.release_run(run=run)
    client.force_login(officer)
    listing = client.get(reverse("digest-list")).content.decode()
    assert "Waiting for compliance approval" in listing and "26 clients waiting" in listing

    fingerprint = run.digests.values_list("shared_fingerprint", flat=True).first()
    response = client.post(reverse("digest-approve", args=[fingerprint]), {"note": "Checked the IBM view."})

    assert response.status_code == 302
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and SentDigest.objects.count() < 26:
        time.sleep(0.5)
    approval = DigestApproval.objects.get()
    assert (approval.approved_by, approval.note, approval.recipients) == (officer, "Checked the IBM view.", 26)
    assert SentDigest.objects.filter(approval=approval).count() == 26
    assert "by Cora Oversight" in client.get(reverse("digest-list")).content.decode()
