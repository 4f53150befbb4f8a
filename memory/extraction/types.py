"""What an extractor reads and what it produces. Both extractors (rules, LLM) speak these types.

Everything derived names the turns it came from (`turn_ids`), so every memory keeps its provenance.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol


@dataclass(frozen=True)
class TurnInput:
    turn_id: str
    speaker: str
    role: str  # "client", "advisor", "analyst", "twin", or "" when unknown
    text: str
    at: datetime  # when it was said (falls back to the session start)


@dataclass(frozen=True)
class SessionInput:
    session_id: str
    client_id: str
    started_at: datetime
    channel: str
    turns: tuple[TurnInput, ...]


@dataclass(frozen=True)
class EntityRef:
    """An entity a memory is about. `key` is its stable identity within its kind."""

    kind: str  # "security" | "sector" | "goal" | "topic" | "person"
    key: str  # ticker for securities ("AAPL"), lower-case slug otherwise ("retirement")
    name: str  # display name ("Apple Inc.")


@dataclass(frozen=True)
class ExtractedFact:
    """A statement about the client that stays true until contradicted.

    `slot` decides supersession: a new fact with the same slot replaces the active one
    (e.g. "risk_tolerance", "goal:retirement", "time_horizon"). Facts that can coexist
    (preferences, exclusions, concerns, life events) get a slot that includes their value.
    """

    attribute: str  # goal | risk_tolerance | time_horizon | liquidity_need | preference | exclusion
    #                 | concern | life_event | holding
    slot: str
    value: str  # normalised value, e.g. "conservative", "2033", "no tobacco"
    text: str  # one readable sentence, e.g. "Risk tolerance is conservative."
    turn_ids: tuple[str, ...]
    valid_from: datetime
    importance: float = 0.5  # 0..1
    entities: tuple[EntityRef, ...] = ()
    amount: float | None = None
    currency: str | None = None
    target_date: date | None = None


@dataclass(frozen=True)
class ExtractedObservation:
    """Something that happened or was felt in a session: episodic, not a standing fact."""

    kind: str  # "observation" | "event"
    text: str
    turn_ids: tuple[str, ...]
    at: datetime
    importance: float = 0.4
    sentiment: float = 0.0  # -1 (anxious, negative) .. +1 (positive)
    entities: tuple[EntityRef, ...] = ()


@dataclass(frozen=True)
class PriceMention:
    """A price somebody said for a security, remembered so its drift can be shown later."""

    symbol: str
    price: float
    currency: str
    turn_id: str
    at: datetime
    text: str  # the sentence it was said in


@dataclass(frozen=True)
class Extraction:
    facts: tuple[ExtractedFact, ...] = ()
    observations: tuple[ExtractedObservation, ...] = ()
    price_mentions: tuple[PriceMention, ...] = ()
    # Entities named in each turn (turn_id -> refs): links raw turns into the entity graph.
    turn_entities: dict[str, tuple[EntityRef, ...]] = field(default_factory=dict)


class Extractor(Protocol):
    def extract(self, session: SessionInput) -> Extraction: ...
