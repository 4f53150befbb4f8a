"""Which digests a person may see: advisors their own and their clients', clients their own sent ones,
compliance the whole firm's. Analysts see none (digests are about clients)."""
from __future__ import annotations

from django.db.models import Count, Min, Q, QuerySet
from django.http import Http404

from advisor.models import User
from twin.digests.models import Digest, DigestApproval, DigestRun


def visible_digests(user: User) -> QuerySet[Digest]:
    if user.firm_id is None:
        return Digest.objects.none()
    digests = Digest.objects.filter(firm_id=user.firm_id).select_related("client", "advisor")
    if user.role == User.Role.ADVISOR:
        return digests.filter(Q(advisor=user) | Q(client__advisor=user))
    if user.role == User.Role.CLIENT:
        return digests.filter(client__user=user, status=Digest.Status.SENT)
    if user.role == User.Role.COMPLIANCE:
        return digests
    return Digest.objects.none()


def digest_for(user: User, digest_id: int) -> Digest:
    digest = visible_digests(user).filter(pk=digest_id).first()
    if digest is None:
        raise Http404("No such digest.")
    return digest


def visible_runs(user: User) -> QuerySet[DigestRun]:
    if user.firm_id is None or user.role not in (User.Role.ADVISOR, User.Role.COMPLIANCE):
        return DigestRun.objects.none()
    return DigestRun.objects.filter(firm_id=user.firm_id)


def awaiting_approval(user: User) -> list[dict]:
    """Content held at the retail threshold, one row per content with its recipients and a sample to read."""
    if user.role != User.Role.COMPLIANCE or user.firm_id is None:
        return []
    return list(Digest.objects.filter(firm_id=user.firm_id, status=Digest.Status.AWAITING_APPROVAL)
                .values("shared_fingerprint").annotate(recipients=Count("client", distinct=True), sample=Min("id"))
                .order_by("-recipients"))


def approvals(user: User) -> QuerySet[DigestApproval]:
    if user.role != User.Role.COMPLIANCE or user.firm_id is None:
        return DigestApproval.objects.none()
    return DigestApproval.objects.filter(firm_id=user.firm_id).select_related("approved_by").order_by("-approved_at")
