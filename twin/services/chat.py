"""A client's chat with their advisor's twin: rounds, going back, corrections and advisor review.

Each round's client words are recorded as a chat session (`advisor.services.sessions.record_session`),
so the outbox and ingestion turn them into memory like any meeting: the twin grows with the client.
Going back to round N withdraws the later rounds (a rewind and one withdrawal record per round; the
rounds themselves are never changed or deleted) and rolls their memory back (`memory.services.rollback`,
recorded once per round as a ChatMemoryRollback): it leaves the current view, stays auditable, and the
facts it had superseded are current again. A round that asks for another client's memory or for the firm's
research to be forgotten is refused, recorded and logged. Every answer shown to a client carries the
firm's disclosure; a firm can hold answers for an advisor's review first.
"""
from __future__ import annotations

import hashlib
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone, translation

from audit import services as audit
from advisor.models import Client, ConversationSession, ConversationTurn, User
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
from memory import selectors as memory_selectors
from memory.graph.driver import GraphUnavailable
from memory.scope import Reader
from memory.services.corrections import CorrectionRejected, correct_fact
from memory.services.rollback import roll_back_sessions
from memory.tasks import nudge_outbox_drain
from twin.models import (
    ChatAnswer,
    ChatConversation,
    ChatMemoryRollback,
    ChatMemoryRollbackRound,
    ChatRewind,
    ChatRound,
    ChatWithdrawal,
    MemoryCorrection,
    ReviewDecision,
    ReviewItem,
    TwinFirmSettings,
)
from twin.services import advice

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_CORRECTION_CHARS = 1000
# Advice item kinds (twin-interfaces) that recommend something, rather than recall or decline.
RECOMMENDATION_KINDS = frozenset({
    "exclusion_breach", "concentration", "risk_mismatch", "goal_due", "life_event_review", "price_move",
    "analyst_view", "viewpoint_reversal",
})
REFUSALS = {
    "other_client": "I can only talk about your own memory, never another client's. "
                    "This request was refused and logged.",
    "firm_research": "I can't forget or change the firm's research: it is shared by every advisor's twin. "
                     "This request was refused and logged; your advisor can take it up with the analysts.",
}
_OTHER_CLIENTS = re.compile(
    r"\b(?:other|another|different)\s+clients?\b|\bsomeone\s+else'?s?\b|\b(?:all|every)\s+(?:the\s+)?clients?\b"
    r"|\bclient[\s_-]?ids?\b",
    re.IGNORECASE,
)
_FORGET = re.compile(r"\b(?:forget|delete|erase|remove|ignore|drop|wipe|discard|purge|unlearn|disregard|clear)\w*",
                     re.IGNORECASE)
_FIRM_RESEARCH = re.compile(
    r"\b(?:research|viewpoints?|analysts?'?s?|house\s+views?|firm'?s?\s+views?|ratings?|price\s+targets?)\b",
    re.IGNORECASE,
)
# A name used as a person: possessive, the object of a question, or the subject of a verb.
_AS_PERSON = (r"\b{name}'s\b|\b(?:about|does|did|is|has|for|of|with|to)\s+{name}\b"
              r"|\b{name}\s+(?:said|says|told|wants?|plans?|holds?|owns?|thinks?|has|is|does|did)\b")
_REMEMBER_ME = re.compile(r"\bwhat\s+do\s+you\s+(?:remember|know)\s+about\s+me\b", re.IGNORECASE)


class ChatRejected(ValueError):
    """The chat request cannot be carried out as asked; the message says what to do instead."""


@dataclass(frozen=True)
class SourceTurn:
    turn_id: str
    speaker: str
    text: str
    said_at: datetime
    channel: str


@dataclass(frozen=True)
class Citation:
    number: int
    memory_id: str
    text: str
    sources: list[SourceTurn] = field(default_factory=list)


@dataclass(frozen=True)
class RoundView:
    """A round as the person looking at it may see it."""

    round: ChatRound
    answer: str  # empty while the answer is held for review
    citations: list[Citation]
    notice: str  # why there is no answer (review, withheld, refused, unavailable), else ""

    @property
    def citations_key(self) -> str:
        """Everything the rendered citations depend on, hashed. templates/twin/chat.html caches their HTML
        under it (rendering them was most of a long chat page's CPU): a source turn corrected or erased
        since, another time zone or language, gives another key, so a cached copy is never stale."""
        seen = (timezone.get_current_timezone_name(), translation.get_language(), self.citations)
        return hashlib.sha256(repr(seen).encode()).hexdigest()


# ---- conversations and rounds -------------------------------------------------------------------


def conversation_for(*, client: Client, actor: User) -> ChatConversation:
    """The client's current conversation, started on first use."""
    conversation = client.chat_conversations.order_by("-started_at", "-pk").first()
    if conversation is None:
        conversation = ChatConversation.objects.create(client=client, started_by=actor)
    conversation.client = client  # the row the caller holds (with its firm): not read again
    return conversation


def current_rounds(conversation: ChatConversation) -> QuerySet[ChatRound]:
    """The rounds of the conversation as it stands now: withdrawn ones are kept but not in this line."""
    return (conversation.rounds.filter(withdrawal__isnull=True).select_related("review__decision_record", "answer_record")
            .order_by("number"))


def say(*, conversation: ChatConversation, text: str, actor: User, now: datetime | None = None) -> ChatRound:
    """The client says something: record it (it becomes memory), screen it, and answer it."""
    client = conversation.client
    if actor.role != User.Role.CLIENT or getattr(actor, "client_record", None) != client:
        raise ChatRejected("Only the client speaks in their chat; advisors read it and can go back.")
    text = (text or "").strip()
    if not text:
        raise ChatRejected("Type a message first.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ChatRejected(f"Keep a message under {MAX_MESSAGE_CHARS} characters (this one has {len(text)}).")
    apply_pending_withdrawals(conversation)
    now = now or timezone.now()
    refusal = screen_message(client=client, text=text)
    with transaction.atomic():
        ChatConversation.objects.select_for_update().filter(pk=conversation.pk).first()
        number = current_rounds(conversation).count() + 1
        if refusal:
            chat_round = ChatRound.objects.create(
                conversation=conversation, number=number, text=text, said_by=actor, said_at=now,
                refusal_reason=refusal,
            )
            ChatAnswer.objects.create(round=chat_round, answer=REFUSALS[refusal], disclosure=disclosure_for(client),
                                      answered_at=now)
        else:
            session = _record_words(client=client, conversation=conversation, text=text, actor=actor, now=now)
            chat_round = ChatRound.objects.create(
                conversation=conversation, number=number, text=text, said_by=actor, said_at=now, session=session,
            )
    if refusal:
        _log_refusal(chat_round, actor)
        return chat_round
    _answer(chat_round, actor)
    return chat_round


def screen_message(*, client: Client, text: str) -> str | None:
    """The refusal reason for a message the twin must not act on, or None.

    Scope already confines every read to the client's own memory; refusing explicitly (and logging it)
    tells the client why and leaves a trace for compliance.
    """
    if _OTHER_CLIENTS.search(text) or _names_another_client(client, text):
        return "other_client"
    if _FORGET.search(text) and _FIRM_RESEARCH.search(text):
        return "firm_research"
    return None


def _names_another_client(client: Client, text: str) -> bool:
    """Another client of the firm named by full name or id, or by a capitalised first or last name used
    as a person ("Ben's goals", "what does Ben plan"): "retire in May" names a month, not May Lin."""
    own = set(client.name.split())
    lowered = text.lower()
    # A firm has thousands of clients: a pattern is tried only when its words occur in the text at all (the
    # substring tests are implied by the patterns, so the answer is the same without a regex per name; an id
    # is tested by lower() only in ASCII, where it agrees with the pattern's IGNORECASE).
    plain = text.isascii()
    for other_name, other_id in Client.objects.filter(firm_id=client.firm_id).exclude(pk=client.pk).values_list(
            "name", "external_id"):
        if other_name.lower() in lowered:
            return True
        if (other_id.lower() in lowered or not (plain and other_id.isascii())) \
                and re.search(rf"\b{re.escape(other_id)}\b", text, re.IGNORECASE):
            return True
        for part in other_name.split():
            if len(part) >= 3 and part not in own and part in text \
                    and re.search(_AS_PERSON.format(name=re.escape(part)), text):
                return True
    return False


def _record_words(*, client: Client, conversation: ChatConversation, text: str, actor: User,
                  now: datetime) -> ConversationSession:
    session_id = f"chat-{conversation.pk}-{uuid.uuid4().hex[:12]}"
    draft = SessionDraft(
        session_id=session_id, channel=ConversationSession.Channel.CHAT, started_at=now,
        participants={client.name: "client"},
        turns=(TurnDraft(f"{session_id}-t1", client.name, text, now),),
    )
    session = record_session(client=client, draft=draft, recorded_by=actor).session
    transaction.on_commit(nudge_outbox_drain)  # a worker takes the words in now; else the beat sweep does
    return session


def _answer(chat_round: ChatRound, actor: User) -> None:
    client = chat_round.conversation.client
    try:
        if _REMEMBER_ME.search(chat_round.text):
            contract = remembered_contract(client=client)
        else:
            contract = advice.ask(client=client, question=chat_round.text, actor=actor, channel="chat").to_contract()
    except GraphUnavailable as error:
        logger.warning("chat round %s not answered: memory graph unavailable: %s", chat_round.pk, error)
        return  # the round stays "unanswered"; what the client said is recorded and queued for memory
    firm_settings = _settings(client)  # read once: the review policy and the disclosure
    reason = review_reason(contract, firm_settings.review_policy)
    with transaction.atomic():  # a held answer is never visible without its review item
        ChatAnswer.objects.create(round=chat_round, answer=contract.get("answer", ""), contract=contract,
                                  disclosure=firm_settings.disclosure_text())
        if reason:
            ReviewItem.objects.create(round=chat_round, reason=reason)


def remembered_contract(*, client: Client) -> dict[str, Any]:
    """'What do you remember about me?': the current facts, each cited, in the advice contract's shape."""
    facts = remembered_facts(client=client)
    citations = [{"id": fact.id, "text": fact.text, "sources": fact.sources} for fact in facts]
    if facts:
        answer = "Here is what I remember about you: " + " ".join(
            f"{fact.text} [{number}]" for number, fact in enumerate(facts, start=1)
        ) + " If something is wrong, ask for a correction below and your advisor will check it."
    else:
        answer = "I don't remember anything about you yet."
    return {"advice_id": None, "answer": answer, "declined": False, "missing": [],
            "items": [{"kind": "memory", "text": fact.text, "basis": [fact.id]} for fact in facts],
            "citations": citations, "changed_since": {"advice_id": None, "changes": []}}


def remembered_facts(*, client: Client) -> list[dict[str, Any]]:
    """The client's current facts (superseded ones are history, not shown)."""
    reader = Reader(firm_id=client.firm.slug, client_id=client.external_id)
    return [row for row in memory_selectors.client_facts(reader) if row.superseded_at is None]


def review_reason(contract: dict[str, Any], policy: str) -> str:
    """Why an answer must wait for an advisor under the firm's policy, or "" when it may go out."""
    if policy == TwinFirmSettings.ReviewPolicy.ALL:
        return "The firm reviews every answer before the client sees it."
    if policy == TwinFirmSettings.ReviewPolicy.RECOMMENDATIONS:
        kinds = sorted({item.get("kind", "") for item in contract.get("items", [])} & RECOMMENDATION_KINDS)
        if kinds:
            return "Recommendation (" + ", ".join(kinds) + ") held for review by firm policy."
    return ""


def _settings(client: Client) -> TwinFirmSettings:
    return TwinFirmSettings.objects.filter(firm_id=client.firm_id).first() or TwinFirmSettings(firm=client.firm)


def disclosure_for(client: Client) -> str:
    return _settings(client).disclosure_text()


def _log_refusal(chat_round: ChatRound, actor: User) -> None:
    client = chat_round.conversation.client
    logger.warning("chat round %s refused (%s) for client %s/%s, said by %s", chat_round.pk,
                   chat_round.refusal_reason, client.firm.slug, client.external_id, actor.username)
    audit.record(
        action="chat.refused", actor=actor.username, firm_id=client.firm.slug, client_id=client.external_id,
        target=f"chat-round:{chat_round.pk}", detail={"reason": chat_round.refusal_reason},
    )


# ---- reading rounds --------------------------------------------------------------------------------

# Rounds the chat page shows at once, the latest first in line; earlier ones a link away. Rendering every
# round made the page grow with the conversation (about 1.5 ms a round), and under load a long page held
# a web worker while shorter requests queued behind it (BENCHMARKS.md, "Portal and chat under load:
# where the tail came from").
PAGE_ROUNDS = 20


@dataclass(frozen=True)
class RoundPage:
    """The current rounds shown on one chat page, oldest first."""

    rounds: list[ChatRound]
    earlier_before: int | None  # `before` for the page of rounds ahead of these, None when there are none
    latest: bool  # these end the conversation as it stands (its last round is here, or it has none)


def round_page(conversation: ChatConversation, *, before: int | None = None, size: int | None = None) -> RoundPage:
    """The `size` (PAGE_ROUNDS) current rounds numbered below `before` (the latest when None), in one query.

    Current rounds are numbered 1..n without gaps (going back withdraws the later ones and the next round
    takes the next number), so the page of earlier rounds is the one `before` the first shown."""
    if before is not None and before < 1:
        raise ChatRejected(f"There is no round before round {before}; the first round is round 1.")
    size = size or PAGE_ROUNDS
    rounds = current_rounds(conversation).select_related("conversation").order_by("-number")
    if before is not None:
        rounds = rounds.filter(number__lt=before)
    shown = list(rounds[:size + 1])  # one more than shown says whether earlier rounds exist
    earlier = len(shown) > size
    shown = shown[:size][::-1]
    latest = before is None or not current_rounds(conversation).filter(number__gte=before).exists()
    return RoundPage(rounds=shown, earlier_before=shown[0].number if earlier else None, latest=latest)


def round_views(rounds: list[ChatRound], *, viewer: User) -> list[RoundView]:
    """Rounds with their citations opened up to the source turns; held answers hidden from the client."""
    turn_ids = {source for r in rounds for c in r.contract.get("citations", []) for source in c.get("sources", [])}
    client_ids = {r.conversation.client_id for r in rounds}
    turns = {
        turn.external_id: SourceTurn(turn.external_id, turn.speaker, turn.text,
                                     turn.spoken_at or turn.session.started_at, turn.session.channel)
        for turn in ConversationTurn.objects.filter(
            session__client_id__in=client_ids, external_id__in=turn_ids).select_related("session")
    }
    views = []
    for chat_round in rounds:
        hidden = viewer.role == User.Role.CLIENT and chat_round.status in (
            ChatRound.Status.AWAITING_REVIEW, ChatRound.Status.WITHHELD)
        citations = [] if hidden else [
            Citation(number, c["id"], c["text"], [turns[s] for s in c.get("sources", []) if s in turns])
            for number, c in enumerate(chat_round.contract.get("citations", []), start=1)
        ]
        views.append(RoundView(round=chat_round, answer="" if hidden else chat_round.answer, citations=citations,
                               notice=_notice(chat_round)))
    return views


def _notice(chat_round: ChatRound) -> str:
    if chat_round.status == ChatRound.Status.AWAITING_REVIEW:
        return "Your advisor reviews this answer before you see it."
    if chat_round.status == ChatRound.Status.WITHHELD:
        note = getattr(chat_round, "review", None)
        return "Your advisor withheld this answer" + (f": {note.note}" if note and note.note else ".")
    if chat_round.status == ChatRound.Status.UNANSWERED:
        return ("Not answered: the twin's memory could not be reached. What you said is saved; "
                "please ask again in a few minutes.")
    return ""


# ---- going back ----------------------------------------------------------------------------------


def go_back(*, conversation: ChatConversation, to_round: int, actor: User) -> ChatRewind:
    """Return the conversation to round `to_round` (0: before the first) and continue from there."""
    _require_participant(actor, conversation.client)
    with transaction.atomic():
        ChatConversation.objects.select_for_update().filter(pk=conversation.pk).first()
        later = list(current_rounds(conversation).filter(number__gt=to_round))
        if to_round < 0 or not later:
            current = current_rounds(conversation).count()
            raise ChatRejected(f"There is nothing after round {to_round} to go back from "
                               f"(the conversation has {current} round{'s' if current != 1 else ''}).")
        rewind = ChatRewind.objects.create(conversation=conversation, to_round=to_round, actor=actor)
        ChatWithdrawal.objects.bulk_create(ChatWithdrawal(round=r, rewind=rewind) for r in later)
    _withdraw_memory(rewind)
    return rewind


def apply_pending_withdrawals(conversation: ChatConversation) -> int:
    """Withdraw the memory of rounds that were still waiting for ingestion when someone went back.

    Called whenever the conversation is used, and for every conversation by the beat sweep
    (`twin.tasks.withdraw_pending_chat_memory`), so withdrawn words never stay current for long.
    Returns how many rewinds were applied. Most conversations were never taken back: for them a plain
    query answers (0.3 ms of CPU against 1.3 for the joined one, on every chat page and message).
    """
    if not conversation.rewinds.exists():
        return 0
    return _apply(_pending_rewinds().filter(conversation=conversation))


def apply_all_pending_withdrawals(*, limit: int = 200) -> int:
    """The beat sweep: pending withdrawals of every conversation, oldest rewind first."""
    return _apply(_pending_rewinds().order_by("pk")[:limit])


def _pending_rewinds() -> QuerySet[ChatRewind]:
    return ChatRewind.objects.filter(
        withdrawals__round__memory_rollback__isnull=True,
        withdrawals__round__session__memory_state__status=ConversationSession.MemoryStatus.STORED,
    ).distinct().select_related("conversation__client__firm", "actor")


def _apply(rewinds: QuerySet[ChatRewind]) -> int:
    applied = 0
    for rewind in rewinds:
        applied += _withdraw_memory(rewind)
    return applied


def _withdraw_memory(rewind: ChatRewind) -> int:
    """Roll the graph back for the rewind's rounds already in memory; the others wait for ingestion.
    Returns 1 when something was rolled back, else 0."""
    rounds = list(rewind.withdrawn_rounds.filter(session__isnull=False, memory_rollback__isnull=True)
                  .select_related("session__memory_state"))
    stored = [r for r in rounds if r.session.memory_status == ConversationSession.MemoryStatus.STORED]
    if not stored:
        return 0
    client = rewind.conversation.client
    actor = rewind.actor.username if rewind.actor else "unknown"
    try:
        outcome = roll_back_sessions(
            firm_id=client.firm.slug, client_id=client.external_id,
            session_ids=[r.session.external_id for r in stored], rollback_id=rewind.rollback_id, actor=actor,
            reason=f"chat conversation {rewind.conversation_id} went back to round {rewind.to_round}",
        )
    except GraphUnavailable as error:
        logger.warning("rewind %s: memory rollback deferred, graph unavailable: %s", rewind.pk, error)
        return 0
    try:
        with transaction.atomic():
            rollback = ChatMemoryRollback.objects.create(rewind=rewind, memories_withdrawn=outcome.withdrawn,
                                                         facts_reopened=outcome.reopened)
            ChatMemoryRollbackRound.objects.bulk_create(
                ChatMemoryRollbackRound(rollback=rollback, round=r) for r in stored)
    except IntegrityError:
        # Another process (the beat sweep, a page view) recorded these rounds' rollback first; the graph
        # rollback is idempotent, so this one withdrew nothing more.
        logger.info("rewind %s: memory rollback already recorded by another process", rewind.pk)
        return 0
    return 1


def _require_participant(actor: User, client: Client) -> None:
    is_client = actor.role == User.Role.CLIENT and getattr(actor, "client_record", None) == client
    is_advisor = actor.role == User.Role.ADVISOR and client.advisor_id == actor.pk
    if not (is_client or is_advisor):
        raise ChatRejected("Only the client or their advisor can take the conversation back.")


# ---- corrections ---------------------------------------------------------------------------------


def request_correction(*, client: Client, memory_id: str, correction: str, actor: User) -> MemoryCorrection:
    """The client says a remembered fact is wrong: a pending correction for their advisor."""
    if actor.role != User.Role.CLIENT or getattr(actor, "client_record", None) != client:
        raise ChatRejected("Only the client asks for corrections to what the twin remembers about them.")
    correction = (correction or "").strip()
    if not correction:
        raise ChatRejected("Say what is wrong, or what is right instead.")
    if len(correction) > MAX_CORRECTION_CHARS:
        raise ChatRejected(f"Keep a correction under {MAX_CORRECTION_CHARS} characters.")
    fact = next((row for row in remembered_facts(client=client) if row.id == memory_id), None)
    if fact is None:
        raise ChatRejected("That memory is not among what the twin currently remembers about you; reload the page.")
    return MemoryCorrection.objects.create(client=client, memory_id=memory_id, memory_text=fact.text,
                                           correction=correction, requested_by=actor)


def decide_correction(*, correction: MemoryCorrection, actor: User, confirm: bool, revised_text: str = "",
                      note: str = "") -> MemoryCorrection:
    """The advisor confirms (the corrected statement becomes the current fact, the old one history) or
    rejects a correction."""
    client = correction.client
    if actor.role != User.Role.ADVISOR or client.advisor_id != actor.pk:
        raise ChatRejected("Only the client's advisor decides corrections to their memory.")
    if correction.status != MemoryCorrection.Status.PENDING:
        raise ChatRejected(f"This correction was already {correction.get_status_display().lower()}.")
    revised_id = ""
    if confirm:
        text = (revised_text or correction.correction).strip()
        try:
            revised_id = correct_fact(
                reader=Reader(firm_id=client.firm.slug, client_id=client.external_id), fact_id=correction.memory_id,
                text=text, source=f"correction:{correction.pk}", actor=actor.username,
            )
        except CorrectionRejected as error:
            raise ChatRejected(f"{error} Reject this correction and ask the client to look again.") from error
    with transaction.atomic():
        # A request decided once (state, see docs/architecture.md); the decision itself goes to the audit trail.
        updated = MemoryCorrection.objects.filter(pk=correction.pk, status=MemoryCorrection.Status.PENDING).update(
            status=MemoryCorrection.Status.CONFIRMED if confirm else MemoryCorrection.Status.REJECTED,
            decided_by=actor, decided_at=timezone.now(), decision_note=note.strip(), revised_memory_id=revised_id,
        )
        if not updated:
            raise ChatRejected("Someone decided this correction at the same time; reload the queue.")
        audit.record(action="chat.correction_decided", actor=actor.username, firm_id=client.firm.slug,
                     client_id=client.external_id, target=f"memory-correction:{correction.pk}",
                     detail={"confirmed": confirm, "revised_memory_id": revised_id})
    correction.refresh_from_db()
    return correction


# ---- review of answers ---------------------------------------------------------------------------


def review_queue(*, advisor: User) -> QuerySet[ReviewItem]:
    """Answers waiting for this advisor, oldest first (rounds the client went back from are dropped)."""
    return ReviewItem.objects.filter(
        decision_record__isnull=True, round__conversation__client__advisor=advisor,
        round__withdrawal__isnull=True,
    ).select_related("round__conversation__client", "round__answer_record")


def correction_queue(*, advisor: User) -> QuerySet[MemoryCorrection]:
    return MemoryCorrection.objects.filter(
        status=MemoryCorrection.Status.PENDING, client__advisor=advisor).select_related("client", "requested_by")


def decide_review(*, item: ReviewItem, actor: User, approve: bool, note: str = "") -> ReviewItem:
    """Release the held answer to the client, or withhold it (the note tells the client why). The decision
    is a record of its own, made once: a second decision on the same item is refused."""
    if actor.role != User.Role.ADVISOR or item.round.conversation.client.advisor_id != actor.pk:
        raise ChatRejected("Only the client's advisor reviews the twin's answers to them.")
    try:
        with transaction.atomic():
            ReviewDecision.objects.create(item=item, approved=approve, decided_by=actor, note=note.strip())
    except IntegrityError:
        raise ChatRejected("This answer was already reviewed.") from None
    return ReviewItem.objects.select_related("decision_record").get(pk=item.pk)
