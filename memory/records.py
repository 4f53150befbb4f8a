"""What memory is given to remember: plain data that the outbox carries (docs/architecture.md).

Memory never reads another app's models. The app that records a session or publishes a viewpoint
hands memory one of these records; the outbox stores it as JSON in the same database transaction as
the record itself, and ingestion rebuilds it from there.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from memory.extraction.types import SessionInput, TurnInput


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class SessionRecord:
    """One recorded conversation with a client, as memory needs it."""

    firm_id: str
    client_id: str
    client_name: str
    session_id: str
    channel: str
    started_at: datetime
    participants: dict[str, str]  # name -> role
    turns: tuple[TurnInput, ...]
    # A corrected version names the version it replaces: that version's memories leave the current view
    # (status 'corrected', with the reason), keeping their text and provenance.
    replaces: str | None = None
    correction_reason: str = ""

    def to_payload(self) -> dict[str, Any]:
        payload = {
            "firm_id": self.firm_id, "client_id": self.client_id, "client_name": self.client_name,
            "session_id": self.session_id, "channel": self.channel, "started_at": self.started_at.isoformat(),
            "participants": self.participants,
            "turns": [[t.turn_id, t.speaker, t.role, t.text, t.at.isoformat()] for t in self.turns],
        }
        if self.replaces:
            payload.update(replaces=self.replaces, correction_reason=self.correction_reason)
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> SessionRecord:
        return cls(
            firm_id=payload["firm_id"], client_id=payload["client_id"], client_name=payload["client_name"],
            session_id=payload["session_id"], channel=payload["channel"],
            started_at=datetime.fromisoformat(payload["started_at"]), participants=dict(payload["participants"]),
            turns=tuple(TurnInput(turn_id, speaker, role, text, datetime.fromisoformat(at))
                        for turn_id, speaker, role, text, at in payload["turns"]),
            replaces=payload.get("replaces"), correction_reason=payload.get("correction_reason", ""),
        )

    def as_extraction_input(self) -> SessionInput:
        return SessionInput(session_id=self.session_id, client_id=self.client_id, started_at=self.started_at,
                            channel=self.channel, turns=self.turns)


@dataclass(frozen=True)
class ViewpointRecord:
    """An analyst's published view on a security: firm-shared memory."""

    firm_id: str
    viewpoint_id: str
    symbol: str
    stance: str  # buy | hold | sell
    target_price: float | None
    horizon_months: int | None
    rationale: str
    analyst: str
    published_at: datetime

    def to_payload(self) -> dict[str, Any]:
        return {
            "firm_id": self.firm_id, "viewpoint_id": self.viewpoint_id, "symbol": self.symbol, "stance": self.stance,
            "target_price": self.target_price, "horizon_months": self.horizon_months, "rationale": self.rationale,
            "analyst": self.analyst, "published_at": self.published_at.isoformat(),
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ViewpointRecord:
        return cls(**{**payload, "published_at": _time(payload["published_at"])})


@dataclass(frozen=True)
class NoteRecord:
    """What the twin remembers of its own advice: written to memory after the answer is returned, so the
    answer never waits on the graph (docs/architecture.md, "outbox")."""

    firm_id: str
    client_id: str
    memory_id: str  # chosen when queued, so the advice names its memory before the graph has it
    text: str
    source: str
    importance: float
    cites: tuple[str, ...]
    noted_at: datetime

    def to_payload(self) -> dict[str, Any]:
        return {"firm_id": self.firm_id, "client_id": self.client_id, "memory_id": self.memory_id, "text": self.text,
                "source": self.source, "importance": self.importance, "cites": list(self.cites),
                "noted_at": self.noted_at.isoformat()}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> NoteRecord:
        return cls(**{**payload, "cites": tuple(payload["cites"]), "noted_at": _time(payload["noted_at"])})
