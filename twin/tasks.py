"""Celery tasks of the twin: thin wrappers over services; `digests.*` run on the `digests` queue."""
from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from advisor.models import Firm
from memory.graph.driver import GraphUnavailable
from twin.digests import services as digests
from twin.digests.models import Digest, DigestApproval, DigestRun
from twin.services import chat

# Worth another try: the graph or database was briefly unavailable. Anything else fails at once.
TRANSIENT = (GraphUnavailable, DatabaseError, ConnectionError, TimeoutError)
BUILD_RETRIES = 3


@shared_task(name="digests.schedule", acks_late=True, soft_time_limit=120, time_limit=180)
def schedule_digests() -> dict[str, int]:
    """Beat's entry: create each firm's due digests, dispatch their builds (and any lost ones), release
    runs whose builds all finished. Running it again the same period creates nothing."""
    now = timezone.now()
    created = 0
    for firm in Firm.objects.all():
        run = digests.schedule_firm(firm=firm, now=now)
        created += run.planned if run else 0
    dispatched = dispatch_builds(digests.stuck_digests(now))
    for run in digests.releasable_runs():
        release_digest_run.delay(run.pk)
    return {"created": created, "dispatched": dispatched}


def dispatch_builds(digest_ids: list[int]) -> int:
    digests.mark_dispatched(digest_ids, timezone.now())
    for digest_id in digest_ids:
        build_digest.delay(digest_id)
    return len(digest_ids)


# An advisor digest reads every one of the advisor's clients: a few hundred take minutes.
@shared_task(bind=True, name="digests.build", acks_late=True, max_retries=BUILD_RETRIES, soft_time_limit=600,
             time_limit=660)
def build_digest(self, digest_id: int) -> str:
    try:
        digest = digests.build_digest(digest_id=digest_id)
    except Digest.DoesNotExist:
        return "gone"
    except Exception as error:
        transient = isinstance(error, TRANSIENT)
        final = not transient or self.request.retries >= self.max_retries
        digests.record_failure(digest_id=digest_id, error=error, final=final)
        if not final:
            raise self.retry(exc=error, countdown=min(10 * 2 ** self.request.retries, 120)) from error
        digest = Digest.objects.get(pk=digest_id)
    if digest.run_id and digests.run_is_built(digest.run):
        release_digest_run.delay(digest.run_id)  # the last build of the run: now the threshold sees everyone
    return digest.status


@shared_task(name="digests.release_run", acks_late=True, soft_time_limit=600, time_limit=660)
def release_digest_run(run_id: int) -> dict[str, int]:
    return digests.release_run(run=DigestRun.objects.get(pk=run_id))


@shared_task(name="digests.send_approved", acks_late=True, soft_time_limit=600, time_limit=660)
def send_approved_digests(approval_id: int) -> int:
    return digests.send_approved(approval=DigestApproval.objects.get(pk=approval_id))


@shared_task(name="twin.withdraw_pending_chat_memory", acks_late=True, soft_time_limit=120, time_limit=180)
def withdraw_pending_chat_memory(limit: int = 200) -> int:
    """Roll back the memory of chat rounds a client went back from before ingestion had taken them in.

    Idempotent (each rollback is keyed by its rewind); when the graph is down the rounds stay pending
    and the next sweep takes them.
    """
    return chat.apply_all_pending_withdrawals(limit=limit)
