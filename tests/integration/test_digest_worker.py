"""The digest schedule through a real Celery worker and Redis: tasks on the `digests` queue, run twice."""
from __future__ import annotations

import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from advisor.models import Client, Firm, User
from advisor.services.quotes import refresh_client_quotes
from config.celery import app
from twin.digests.models import Digest, SentDigest
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
