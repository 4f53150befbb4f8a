"""Scheduling, building, releasing and sending research digests.

The way of a digest:
1. `schedule_firm` (beat, through `digests.schedule`) creates one `Digest` per reader and due period,
   under a unique constraint, in a `DigestRun`; running it again creates nothing new.
2. `build_digest` reads memory and renders it; a failure is recorded on the digest (retried on
   transient errors, then `failed`, shown to the advisor), never skipped silently.
3. When every digest of a run is built (or failed), `release_run` applies the communications rules
   to the whole run at once, so the retail threshold counts every recipient of the same content
   before any of them is sent; `send_digest` e-mails and archives what was sent, append-only.
A client who is not opted in is skipped when scheduling, and cancelled when building or sending.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from time import perf_counter

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from advisor.models import Client, Firm, User
from audit import services as audit
from memory.graph.driver import GraphUnavailable
from twin.digests import compliance
from twin.digests.content import Citation, DigestContent, client_section
from twin.digests.models import Digest, DigestApproval, DigestRun, SentDigest
from twin.digests.render import render

logger = logging.getLogger(__name__)
Status = Digest.Status
FIRST_LOOKBACK = {Digest.Period.DAILY: timedelta(days=1), Digest.Period.WEEKLY: timedelta(days=7),
                  Digest.Period.MONTHLY: timedelta(days=31)}


class DigestRejected(ValueError):
    """A digest action cannot be done as asked; the message says why."""


@dataclass(frozen=True)
class DuePeriod:
    period: str
    key: str


def due_periods(firm: Firm, now: datetime) -> dict[str, DuePeriod | None]:
    """The period each schedule is in at `now`, or None when its digests are not due yet.

    Daily (advisors) from the firm's hour each day; weekly (clients) from that hour on the firm's
    weekday; monthly (clients) from that hour on the 1st. A period whose moment passed while beat
    was down is still due until the next one begins.
    """
    local = timezone.localtime(now)
    at_hour = datetime.combine(local.date(), time(firm.digest_hour), tzinfo=local.tzinfo)
    daily = DuePeriod(Digest.Period.DAILY, local.date().isoformat()) if local >= at_hour else None
    week_slot = at_hour - timedelta(days=local.weekday() - firm.client_digest_weekday)
    if local < week_slot:
        week_slot -= timedelta(days=7)
    year, week, _ = week_slot.isocalendar()
    month_slot = at_hour.replace(day=1)
    monthly = DuePeriod(Digest.Period.MONTHLY, f"{local:%Y-%m}") if local >= month_slot else None
    return {Digest.Period.DAILY: daily, Digest.Period.WEEKLY: DuePeriod(Digest.Period.WEEKLY, f"{year}-W{week:02d}"),
            Digest.Period.MONTHLY: monthly}


def _previous_sent(recipient_key: str, period: str) -> Digest | None:
    return (Digest.objects.filter(recipient_key=recipient_key, period=period, status=Status.SENT)
            .order_by("-covers_to").first())


def schedule_firm(*, firm: Firm, now: datetime | None = None) -> DigestRun | None:
    """Create the firm's due digests that do not exist yet, in a new run (None when there are none)."""
    now = now or timezone.now()
    due = due_periods(firm, now)
    wanted: list[dict] = []
    if firm.advisor_digests and due[Digest.Period.DAILY]:
        advisors = User.objects.filter(firm=firm, role=User.Role.ADVISOR, is_active=True, advised_clients__isnull=False)
        for advisor in advisors.distinct():
            wanted.append({"audience": Digest.Audience.ADVISOR, "advisor": advisor,
                           "recipient_key": f"advisor:{advisor.pk}", "due": due[Digest.Period.DAILY]})
    for client in Client.objects.filter(firm=firm, digest_opt_in=True):
        slot = due[client.digest_frequency]
        if slot:
            wanted.append({"audience": Digest.Audience.CLIENT, "client": client,
                           "recipient_key": f"client:{client.pk}", "due": slot})
    existing = set(Digest.objects.filter(firm=firm, period_key__in={w["due"].key for w in wanted})
                   .values_list("recipient_key", "period", "period_key"))
    missing = [w for w in wanted if (w["recipient_key"], w["due"].period, w["due"].key) not in existing]
    if not missing:
        return None
    with transaction.atomic():
        run = DigestRun.objects.create(firm=firm, started_at=now,
                                       periods=sorted({f"{w['due'].period}:{w['due'].key}" for w in missing}))
        rows = []
        for w in missing:
            previous = _previous_sent(w["recipient_key"], w["due"].period)
            covers_from = previous.covers_to if previous else now - FIRST_LOOKBACK[w["due"].period]
            rows.append(Digest(firm=firm, run=run, audience=w["audience"], advisor=w.get("advisor"),
                               client=w.get("client"), recipient_key=w["recipient_key"], period=w["due"].period,
                               period_key=w["due"].key, covers_from=covers_from, covers_to=now))
        # Another scheduler racing this one may have created some of them: the constraint keeps one each.
        Digest.objects.bulk_create(rows, ignore_conflicts=True)
        run.planned = run.digests.count()
        if run.planned == 0:
            run.delete()
            return None
        run.save(update_fields=["planned"])
    return run


def build_digest(*, digest_id: int, now: datetime | None = None) -> Digest:
    """Read memory, compose and render one digest; leaves it `built`, `rejected` or `cancelled`.

    Errors propagate to the caller (the task), which records them with `record_failure`.
    """
    started = perf_counter()
    digest = Digest.objects.select_related("firm", "client__firm", "advisor").get(pk=digest_id)
    if digest.status != Status.PENDING:
        return digest  # built by an earlier delivery of the same task
    if digest.client_id and not digest.client.digest_opt_in:
        return _cancel_opted_out(digest)
    firm = digest.firm
    citations: dict[str, Citation] = {}
    previous = _previous_sent(digest.recipient_key, digest.period)
    last_prices = (previous.content.get("last_prices", {}) if previous else {})
    if digest.audience == Digest.Audience.ADVISOR:
        clients = list(Client.objects.filter(advisor=digest.advisor, firm=firm).select_related("firm").order_by("name"))
        reader_name = digest.advisor.get_full_name() or digest.advisor.username
        subject = f"Daily research digest: {len(clients)} clients, {timezone.localtime(digest.covers_to):%-d %B %Y}"
    else:
        clients = [digest.client]
        reader_name = digest.client.name
        subject = f"Your {digest.get_period_display().lower()} research digest, {timezone.localtime(digest.covers_to):%-d %B %Y}"
    sections = [client_section(client=client, audience=digest.audience, since=digest.covers_from,
                               until=digest.covers_to, previous_prices=last_prices.get(client.external_id, {}),
                               citations=citations) for client in clients]
    content = DigestContent(audience=digest.audience, reader_name=reader_name, covers_from=digest.covers_from,
                            covers_to=digest.covers_to, sections=sections, citations=citations)
    disclosure = compliance.disclosure_for(firm) if digest.audience == Digest.Audience.CLIENT else ""
    rendered = render(content, subject=subject, firm_name=firm.name, disclosure=disclosure)
    stored = content.to_json()
    stored["last_prices"] = {s.client_id: s.last_prices for s in sections}
    digest.subject, digest.html, digest.text, digest.content = rendered.subject, rendered.html, rendered.text, stored
    digest.content_hash = hashlib.sha256((rendered.subject + rendered.text + rendered.html).encode()).hexdigest()
    digest.built_at = now or timezone.now()
    digest.build_seconds = perf_counter() - started
    digest.last_error = ""
    digest.status = Status.BUILT
    if digest.audience == Digest.Audience.CLIENT:
        shared = [item.text for s in sections for item in s.viewpoints]
        shared += [item.text for s in sections for item in s.notes if item.data.get("shared")]
        digest.shared_fingerprint = compliance.shared_fingerprint(shared, disclosure)
        violations = compliance.check_wording(_client_readable(content))
        if violations:
            digest.status = Status.REJECTED
            digest.last_error = " ".join(v.reason() for v in violations)
    with transaction.atomic():
        digest.save()
        if digest.status == Status.REJECTED:
            audit.record(action="digest.rejected", actor="system:digests", firm_id=firm.slug,
                         client_id=digest.client.external_id, target=f"digest:{digest.pk}",
                         detail={"reason": digest.last_error})
    return digest


def _client_readable(content: DigestContent) -> list[tuple[str, str]]:
    """Every sentence a client reads, with where it came from (the disclosure is checked by the firm)."""
    parts = []
    for section in content.sections:
        for name in ("moves", "viewpoints", "confirm", "goals", "concerns", "notes"):
            for item in getattr(section, name):
                origin = (f"the {item.data['symbol']} viewpoint by {item.data['analyst']}" if item.kind == "viewpoint"
                          else f"the {name} section")
                parts.append((origin, item.text))
    parts += [(f"source {c.id}", c.text) for c in content.citations.values()]
    return parts


def _cancel_opted_out(digest: Digest) -> Digest:
    digest.status = Status.CANCELLED
    digest.last_error = f"{digest.client.name} has opted out of digests."
    digest.save(update_fields=["status", "last_error"])
    return digest


def record_failure(*, digest_id: int, error: BaseException, final: bool) -> Digest:
    """Keep the error on the digest: `failed` when no retry follows, still `pending` (retrying) otherwise."""
    with transaction.atomic():
        digest = Digest.objects.select_for_update().get(pk=digest_id)
        digest.attempts += 1
        digest.last_error = failure_message(error, final)
        if final:
            digest.status = Status.FAILED
        digest.save(update_fields=["attempts", "last_error", "status"])
    logger.warning("digest %s attempt %s failed%s: %s", digest_id, digest.attempts, "" if not final else " for good", error)
    return digest


def failure_message(error: BaseException, final: bool) -> str:
    """What the advisor reads; driver details (addresses, errno) stay in the log."""
    if isinstance(error, GraphUnavailable):
        text = "The twin's memory could not be reached while building this digest"
    else:
        text = f"Building or sending failed: {type(error).__name__}: {error}"[:1500]
    return text + (". Build it again once the cause is fixed." if final else "; it will be retried automatically.")


def run_is_built(run: DigestRun) -> bool:
    return not run.digests.filter(status=Status.PENDING).exists()


def release_run(*, run: DigestRun, now: datetime | None = None) -> dict[str, int]:
    """Send the run's built digests, holding content over the retail threshold for approval.

    Only once nothing in the run is still being built: the threshold must see every recipient.
    Safe to call again (or concurrently): each digest is sent at most once.
    """
    if not run_is_built(run):
        return {}
    now = now or timezone.now()
    outcome: dict[str, int] = {}
    for digest in run.digests.filter(status=Status.BUILT).select_related("client__user", "advisor", "firm"):
        status = release_digest(digest=digest, now=now).status
        outcome[status] = outcome.get(status, 0) + 1
    return outcome


def retail_recipients(*, firm: Firm, fingerprint: str, now: datetime) -> int:
    """Distinct clients who got, or are about to get, this content in the last 30 days."""
    window = now - timedelta(days=settings.DIGEST_RETAIL_WINDOW_DAYS)
    return (Digest.objects.filter(firm=firm, shared_fingerprint=fingerprint, audience=Digest.Audience.CLIENT,
                                  created_at__gte=window,
                                  status__in=[Status.BUILT, Status.AWAITING_APPROVAL, Status.SENT])
            .values("client_id").distinct().count())


def release_digest(*, digest: Digest, now: datetime) -> Digest:
    approval = None
    if digest.audience == Digest.Audience.CLIENT and digest.shared_fingerprint:
        approval = DigestApproval.objects.filter(firm=digest.firm, fingerprint=digest.shared_fingerprint).first()
        if approval is None and retail_recipients(firm=digest.firm, fingerprint=digest.shared_fingerprint,
                                                  now=now) > settings.DIGEST_RETAIL_THRESHOLD:
            Digest.objects.filter(pk=digest.pk, status=Status.BUILT).update(status=Status.AWAITING_APPROVAL)
            digest.status = Status.AWAITING_APPROVAL
            return digest
    try:
        return send_digest(digest=digest, approval=approval, now=now)
    except Exception as error:  # noqa: BLE001  (any mail backend error: recorded and shown, never lost)
        return record_failure(digest_id=digest.pk, error=error, final=True)


def recipient_address(digest: Digest) -> str:
    if digest.audience == Digest.Audience.ADVISOR:
        return digest.advisor.email
    user = digest.client.user
    return user.email if user is not None else ""


def send_digest(*, digest: Digest, approval: DigestApproval | None, now: datetime) -> Digest:
    """E-mail the digest and archive exactly what was sent, once (a repeated call finds it sent)."""
    with transaction.atomic():
        digest = Digest.objects.select_for_update(of=("self",)).select_related("client__user", "advisor", "firm").get(pk=digest.pk)
        if digest.status not in (Status.BUILT, Status.AWAITING_APPROVAL):
            return digest
        if digest.client_id and not digest.client.digest_opt_in:
            return _cancel_opted_out(digest)
        address = recipient_address(digest)
        if not address:
            digest.status = Status.FAILED
            digest.last_error = (f"{digest.reader_name} has no e-mail address; add one to their login and retry. "
                                 "The digest is readable in the portal meanwhile.")
            digest.save(update_fields=["status", "last_error"])
            return digest
        message = EmailMultiAlternatives(digest.subject, digest.text, settings.DEFAULT_FROM_EMAIL, [address])
        message.attach_alternative(digest.html, "text/html")
        message.send()
        SentDigest.objects.create(digest=digest, firm_id=digest.firm.slug,
                                  client_id=digest.client.external_id if digest.client_id else "",
                                  recipient_key=digest.recipient_key, to_address=address, subject=digest.subject,
                                  text=digest.text, html=digest.html, content_hash=digest.content_hash,
                                  approval=approval, sent_at=now)
        digest.status, digest.sent_at, digest.last_error = Status.SENT, now, ""
        digest.save(update_fields=["status", "sent_at", "last_error"])
        audit.record(action="digest.sent", actor="system:digests", firm_id=digest.firm.slug,
                     client_id=digest.client.external_id if digest.client_id else "", target=f"digest:{digest.pk}",
                     detail={"period": f"{digest.period}:{digest.period_key}", "recipient": digest.recipient_key,
                             "content_hash": digest.content_hash,
                             "approval": approval.pk if approval else None})
    return digest


def approve_content(*, firm: Firm, fingerprint: str, approver: User, note: str = "",
                    now: datetime | None = None) -> DigestApproval:
    """A compliance principal approves content held at the retail threshold (`send_approved` then sends it)."""
    if approver.role != User.Role.COMPLIANCE or approver.firm_id != firm.pk:
        raise DigestRejected("Only the firm's compliance officers approve digests for retail clients.")
    now = now or timezone.now()
    if not Digest.objects.filter(firm=firm, shared_fingerprint=fingerprint, status=Status.AWAITING_APPROVAL).exists():
        raise DigestRejected("No digest with that content is waiting for approval.")
    with transaction.atomic():
        approval, created = DigestApproval.objects.get_or_create(
            firm=firm, fingerprint=fingerprint,
            defaults={"approved_by": approver, "approved_at": now, "note": note,
                      "recipients": retail_recipients(firm=firm, fingerprint=fingerprint, now=now)})
        if created:
            audit.record(action="digest.approved", actor=approver.username, firm_id=firm.slug,
                         target=f"digest-content:{fingerprint}",
                         detail={"recipients": approval.recipients, "note": note})
    return approval


def send_approved(*, approval: DigestApproval, now: datetime | None = None) -> int:
    """Send every digest of the approved content still waiting (each once; opt-outs are cancelled)."""
    now = now or timezone.now()
    sent = 0
    waiting = Digest.objects.filter(firm=approval.firm_id, shared_fingerprint=approval.fingerprint,
                                    status=Status.AWAITING_APPROVAL)
    for digest in waiting.select_related("client__user", "firm"):
        try:
            sent += send_digest(digest=digest, approval=approval, now=now).status == Status.SENT
        except Exception as error:  # noqa: BLE001  (recorded on the digest and shown, never lost)
            record_failure(digest_id=digest.pk, error=error, final=True)
    return sent


def retry_digest(*, digest: Digest, actor: User) -> Digest:
    """An advisor asks for a failed or rejected digest to be built again (after fixing the cause)."""
    if digest.status not in (Status.FAILED, Status.REJECTED):
        raise DigestRejected("Only a failed or rejected digest can be retried.")
    with transaction.atomic():
        Digest.objects.filter(pk=digest.pk).update(status=Status.PENDING, dispatched_at=None)
        audit.record(action="digest.retry", actor=actor.username, firm_id=digest.firm.slug,
                     client_id=digest.client.external_id if digest.client_id else "", target=f"digest:{digest.pk}",
                     detail={"was": digest.status, "error": digest.last_error[:500]})
    digest.refresh_from_db()
    return digest


def set_digest_preference(*, client: Client, opt_in: bool, frequency: str, actor: User) -> Client:
    """Opt a client in or out (and choose weekly or monthly); every later step re-checks it."""
    if frequency not in Client.DigestFrequency.values:
        raise DigestRejected(f"frequency must be one of {', '.join(Client.DigestFrequency.values)}")
    with transaction.atomic():
        client.digest_opt_in, client.digest_frequency = opt_in, frequency
        client.save(update_fields=["digest_opt_in", "digest_frequency"])
        audit.record(action="digest.opt_in" if opt_in else "digest.opt_out", actor=actor.username,
                     firm_id=client.firm.slug, client_id=client.external_id, target=f"client:{client.external_id}",
                     detail={"frequency": frequency})
        if not opt_in:
            Digest.objects.filter(client=client, status__in=[Status.PENDING, Status.BUILT, Status.AWAITING_APPROVAL]) \
                .update(status=Status.CANCELLED, last_error=f"{client.name} opted out of digests.")
    return client


def progress(run: DigestRun) -> dict[str, int]:
    counts = dict(run.digests.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return {status: counts.get(status, 0) for status in Status.values}


def stuck_digests(now: datetime) -> list[int]:
    """Pending digests whose build task was never dispatched or seems lost: to dispatch (again)."""
    cutoff = now - timedelta(minutes=settings.DIGEST_REDISPATCH_MINUTES)
    return list(Digest.objects.filter(status=Status.PENDING)
                .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=cutoff)).values_list("pk", flat=True))


def mark_dispatched(digest_ids: list[int], now: datetime) -> None:
    Digest.objects.filter(pk__in=digest_ids).update(dispatched_at=now)


def releasable_runs() -> list[DigestRun]:
    """Runs with built digests and nothing left building (a release that a lost task never did)."""
    runs = DigestRun.objects.filter(digests__status=Status.BUILT).distinct()
    return [run for run in runs if run_is_built(run)]
