"""Returning a client's memory to an earlier point of a conversation.

The caller (the twin's chat) names the sessions recorded after that point. Their memories leave the
current view (status `rolled_back`, kept for the audit), and the slots they touched are planned again
with the same rules ingestion uses (`plan_supersession`) over the facts not withdrawn: a fact that
only a withdrawn fact had closed is current again, and one closed by a fact that stands stays closed.
Saying the same things again later therefore yields the same current facts as never having left.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from audit import services as audit
from memory.graph import driver
from memory.graph import rollback as graph_rollback
from memory.scope import client_scope
from memory.services.supersession import FactVersion, plan_supersession

MAX_SESSIONS = 1000


class RollbackRejected(ValueError):
    """The rollback cannot be run as asked; the message says what to change."""


@dataclass(frozen=True)
class RollbackOutcome:
    rollback_id: str
    withdrawn: int  # memories that left the current view (turns, facts, observations, prices)
    withdrawn_facts: int
    reopened: int  # facts current again


def roll_back_sessions(
    *, firm_id: str, client_id: str, session_ids: list[str], rollback_id: str, actor: str, reason: str,
    at: datetime | None = None,
) -> RollbackOutcome:
    """Withdraw the memory of `session_ids` for one client, in one graph transaction, and audit it.

    Safe to repeat with the same `rollback_id` (e.g. once sessions still pending ingestion are in
    the graph): only what is still active is withdrawn.
    """
    if not rollback_id or not actor:
        raise RollbackRejected("A rollback needs an id and the name of who asked for it.")
    if not session_ids:
        raise RollbackRejected("Name at least one session to roll back.")
    if len(session_ids) > MAX_SESSIONS:
        raise RollbackRejected(f"Roll back at most {MAX_SESSIONS} sessions at a time.")
    at = at or timezone.now()
    scope = client_scope(firm_id, client_id)

    def _write(tx) -> RollbackOutcome:
        withdrawn = graph_rollback.withdraw_sessions(
            tx, rollback_id=rollback_id, scope=scope, session_ids=list(dict.fromkeys(session_ids)), actor=actor,
            reason=reason, at=at,
        )
        slots = sorted({m.slot for m in withdrawn if m.slot})
        reopened = 0
        if slots:
            facts = graph_rollback.standing_facts_in_slots(tx, scope=scope, slots=slots)
            plan = plan_supersession([
                FactVersion(id=f.id, scope=scope, slot=f.slot, value=f.value, valid_from=f.valid_from,
                            recorded_at=f.recorded_at)
                for f in facts
            ])
            by_id = {f.id: f for f in facts}
            still_closed = {close["id"] for close in plan.closes}
            reopened = graph_rollback.reopen_facts(
                tx, rollback_id=rollback_id,
                fact_ids=[f.id for f in facts if f.superseded_at is not None and f.id not in still_closed],
            )
            # Only what changes is written: most of a long slot history is closed exactly as before.
            changed = [close for close in plan.closes
                       if (by_id[close["id"]].valid_to, by_id[close["id"]].superseded_at)
                       != (close["valid_to"], close["superseded_at"])]
            changed_ids = {close["id"] for close in changed}
            graph_rollback.close_facts(tx, changed, [link for link in plan.links if link["older"] in changed_ids])
        graph_rollback.retrack_prices(tx, scope=scope, symbols=sorted({m.symbol for m in withdrawn if m.symbol}))
        return RollbackOutcome(rollback_id=rollback_id, withdrawn=len(withdrawn),
                               withdrawn_facts=sum(1 for m in withdrawn if m.slot), reopened=reopened)

    outcome = driver.write(_write)
    if outcome.withdrawn:
        audit.record(
            action="memory.rollback", actor=actor, firm_id=firm_id, client_id=client_id, target=f"rollback:{rollback_id}",
            detail={"reason": reason, "sessions": len(session_ids), "withdrawn": outcome.withdrawn,
                    "reopened": outcome.reopened},
        )
    return outcome


def rollbacks_for(*, firm_id: str, client_id: str) -> list[graph_rollback.RollbackRecord]:
    """The client's rollbacks, newest first, with how much each withdrew and reopened."""
    return graph_rollback.rollbacks_for(client_scope(firm_id, client_id))
