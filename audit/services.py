"""Writing and verifying the audit trail. Call `record` inside the transaction of the change it audits."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import AuditChainHead, AuditEntry

GENESIS = "0" * 64


def _digest(previous_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((previous_hash + canonical).encode()).hexdigest()


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {"action": entry.action, "actor": entry.actor, "firm_id": entry.firm_id, "client_id": entry.client_id,
            "target": entry.target, "detail": entry.detail, "ip_address": entry.ip_address,
            "at": entry.at.isoformat()}


def record(*, action: str, actor: str, firm_id: str, client_id: str = "", target: str = "",
           detail: dict[str, Any] | None = None, ip_address: str | None = None) -> AuditEntry:
    """Append one entry to the chain (in the caller's transaction, or a new one)."""
    return record_many([{"action": action, "actor": actor, "firm_id": firm_id, "client_id": client_id,
                         "target": target, "detail": detail, "ip_address": ip_address}])[0]


def record_many(entries: list[dict[str, Any]]) -> list[AuditEntry]:
    """Append several entries (each the keyword arguments of `record`) in order: one lock of the chain
    head and one insert for all of them, the same chain as one `record` call per entry (an import
    records hundreds of sessions per transaction)."""
    if not entries:
        return []
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            head = AuditChainHead.objects.create(pk=1, last_hash=GENESIS)
        previous = head.last_hash
        at = timezone.now().replace(microsecond=0)
        built = []
        for fields in entries:
            entry = AuditEntry(action=fields["action"], actor=fields.get("actor") or "unknown",
                               firm_id=fields["firm_id"], client_id=fields.get("client_id") or "",
                               target=fields.get("target", ""),
                               detail=json.loads(json.dumps(fields.get("detail") or {}, default=str)),
                               ip_address=fields.get("ip_address"), at=at, previous_hash=previous)
            entry.entry_hash = previous = _digest(previous, _fields(entry))
            built.append(entry)
        # Ids follow the list's order (one multi-row INSERT), which is the order `verify_chain` reads.
        AuditEntry.objects.bulk_create(built)
        AuditChainHead.objects.filter(pk=1).update(last_hash=previous)
    return built


@dataclass(frozen=True)
class ChainCheck:
    entries: int
    ok: bool
    first_bad_id: int | None = None
    problem: str = ""


def verify_chain() -> ChainCheck:
    """Recompute every hash in order; the first mismatch names the entry that was altered or removed."""
    previous = GENESIS
    count = 0
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=2000):
        count += 1
        if entry.previous_hash != previous:
            return ChainCheck(count, False, entry.pk, "an entry before it was removed or altered")
        if _digest(previous, _fields(entry)) != entry.entry_hash:
            return ChainCheck(count, False, entry.pk, "its content was altered")
        previous = entry.entry_hash
    head = AuditChainHead.objects.filter(pk=1).values_list("last_hash", flat=True).first()
    if head is not None and head != previous:
        return ChainCheck(count, False, None, "the newest entries were removed")
    return ChainCheck(count, True)


def entries_for_client(*, firm_id: str, client_id: str, since: datetime | None = None,
                       until: datetime | None = None) -> list[AuditEntry]:
    entries = AuditEntry.objects.filter(firm_id=firm_id, client_id=client_id)
    if since:
        entries = entries.filter(at__gte=since)
    if until:
        entries = entries.filter(at__lte=until)
    return list(entries.order_by("id"))
