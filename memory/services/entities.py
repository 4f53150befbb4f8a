"""People in a client's life resolved to one person each ("my daughter Emma", "Emma", "Emma Carter").

Found in the client's turns: a relation with a name ("my daughter Emma"), a relation alone ("my
daughter"), and later bare mentions of a name already introduced ("Emma"), which share its key and so
its entity. Then pairs of people that may be one are scored:
- one name extends the other ("Emma" / "Emma Carter"): confident, merged automatically;
- a relation alone and the one person introduced with that relation ("my daughter" / "my daughter
  Emma"), or a name that starts another ("Em" / "Emma"): not sure, queued for an advisor.
Merges keep every link and provenance (memory/graph/lifecycle.py). Decisions are audited.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from audit import services as audit
from memory.graph import lifecycle
from memory.graph.lifecycle import MergeProposal, PersonRow
from memory.graph.summaries import TurnRow
from memory.ids import stable_id
from memory.scope import Reader

RELATIONS = ("daughter", "son", "wife", "husband", "partner", "mother", "mom", "mum", "father", "dad", "brother",
             "sister", "grandson", "granddaughter", "niece", "nephew", "fiancé", "fiancée", "fiance", "fiancee",
             "stepson", "stepdaughter", "aunt", "uncle", "cousin", "friend", "boyfriend", "girlfriend")
AUTO_MERGE = 0.85
_NAME = r"[A-Z][a-z]+(?:\s[A-Z][a-z]+)?"
_RELATION_NAMED = re.compile(r"\b(?:[Mm]y|[Oo]ur)\s+(" + "|".join(RELATIONS) + r")(?:,)?\s+(" + _NAME + r")\b")
_RELATION_ALONE = re.compile(r"\b(?:[Mm]y|[Oo]ur)\s+(" + "|".join(RELATIONS) + r")\b(?!,?\s+[A-Z][a-z])")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)?\b")


class MergeNotFound(LookupError):
    """No pending merge with that id for this client."""


@dataclass(frozen=True)
class PersonMention:
    turn: str  # turn node id
    key: str  # "emma", "emma carter", or "relation:daughter"
    name: str
    relation: str | None


def find_people(turns: list[TurnRow], participants: set[str]) -> list[PersonMention]:
    """People named or referred to in the turns (pure). Participants are the speakers, not people in
    the client's life."""
    spoken = {p.lower() for name in participants for p in [name, *name.split()]}
    mentions: list[PersonMention] = []
    introduced: dict[str, str] = {}  # first name (lower) -> key of the named person
    for turn in turns:
        words = turn.text.split(":", 1)[-1]
        for relation, name in _RELATION_NAMED.findall(words):
            if name.lower() in spoken:
                continue
            key = name.lower()
            introduced.setdefault(key.split()[0], key)
            mentions.append(PersonMention(turn.id, key, name, relation.lower()))
        for relation in _RELATION_ALONE.findall(words):
            relation = relation.lower()
            mentions.append(PersonMention(turn.id, f"relation:{relation}", f"their {relation}", relation))
    for turn in turns:  # bare names, once every introduction is known
        words = turn.text.split(":", 1)[-1]
        named_here = {m.key for m in mentions if m.turn == turn.id}
        for name in _CAPITALISED.findall(words):
            key = name.lower()
            first = key.split()[0]
            if first in introduced and key not in named_here and key not in spoken and first not in spoken:
                named_here.add(key)
                mentions.append(PersonMention(turn.id, key, name, None))
    return mentions


def score_pairs(people: list[PersonRow]) -> list[tuple[PersonRow, PersonRow, float, str]]:
    """(keep, absorb, confidence, reason) for each pair of active people that may be one (pure)."""
    active = [p for p in people if p.status == "active"]
    named = [p for p in active if not p.key.startswith("relation:")]
    pairs = []
    for i, a in enumerate(named):
        for b in named[i + 1:]:
            short, long_ = sorted((a, b), key=lambda p: (len(p.key), p.key))
            if long_.key.split()[0] == short.key and len(long_.key.split()) > 1:
                pairs.append((long_, short, 0.9, f"“{short.name}” is the first name of “{long_.name}”"))
            elif long_.key.startswith(short.key) and len(short.key) >= 2 and " " not in short.key:
                pairs.append((long_, short, 0.6, f"“{short.name}” may be short for “{long_.name}”"))
    for anonymous in (p for p in active if p.key.startswith("relation:")):
        relation = anonymous.key.split(":", 1)[1]
        holders = [p for p in named if relation in p.relations]
        for holder in holders:
            confidence = 0.7 if len(holders) == 1 else 0.4
            pairs.append((holder, anonymous, confidence, f"“{holder.name}” is the client's {relation}"))
    return pairs


def resolve_people(*, scope: str, turns: list[TurnRow], participants: set[str]) -> int:
    """Find the people in a client's turns, merge the sure pairs and queue the rest. Returns merges made.
    Idempotent: decided or queued pairs are never proposed again."""
    found = find_people(turns, participants)
    if found:
        people_rows = {m.key: {"id": stable_id("person", scope, m.key), "key": m.key, "name": m.name,
                               "relation": m.relation} for m in found}
        for mention in found:  # a relation seen anywhere belongs to the person
            if mention.relation:
                people_rows[mention.key]["relation"] = mention.relation
        lifecycle.write_people(scope, list(people_rows.values()),
                               [{"turn": m.turn, "person": people_rows[m.key]["id"]} for m in found])
    # Sure pairs first, so that an unsure one is put to the advisor about the person they produced.
    automatic = _new_pairs(scope, sure=True)
    if automatic:
        lifecycle.propose_merges(automatic)
        lifecycle.merge_automatically(automatic, timezone.now())
    queued = _new_pairs(scope, sure=False)
    if queued:
        lifecycle.propose_merges(queued)
    return len(automatic)


def _new_pairs(scope: str, *, sure: bool) -> list[dict]:
    """Scored pairs of the client's active people (sure: at least AUTO_MERGE) never proposed before."""
    known = {frozenset((p.keep_id, p.absorb_id)) for p in lifecycle.merge_proposals([scope])}
    rows = []
    for keep, absorb, confidence, reason in score_pairs(lifecycle.people(scope)):
        if frozenset((keep.id, absorb.id)) in known or (confidence >= AUTO_MERGE) != sure:
            continue
        known.add(frozenset((keep.id, absorb.id)))
        rows.append({"id": stable_id("same-person", keep.id, absorb.id), "keep": keep.id, "absorb": absorb.id,
                     "confidence": confidence, "reason": reason, "status": "automatic" if sure else "pending"})
    return rows


def pending_merges(reader: Reader) -> list[MergeProposal]:
    """The review queue: possible 'same person' pairs of this client waiting for an advisor."""
    if not reader.client_id:
        return []
    return lifecycle.merge_proposals(reader.writable_scopes, status="pending")


def decide_merge(reader: Reader, proposal_id: str, *, confirm: bool, actor: str) -> MergeProposal:
    """An advisor confirms (the two become one, every link kept) or rejects (nothing changes)."""
    with transaction.atomic():
        audit.record(action="memory.person_merge." + ("confirm" if confirm else "reject"), actor=actor,
                     firm_id=reader.firm_id, client_id=reader.client_id or "", target=f"merge:{proposal_id}")
        decided = lifecycle.decide_merge(proposal_id, reader.writable_scopes, confirm=confirm, decided_by=actor,
                                         at=timezone.now())
        if decided is None:
            raise MergeNotFound(f"No pending merge {proposal_id!r} for this client; it may have been decided already.")
    return decided
