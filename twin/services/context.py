"""Everything the twin knows about one client at one moment, gathered once into plain dataclasses.

The rules (twin/services/rules.py) only read a `ClientContext`, so they are pure and testable with
hand-built inputs; all I/O (memory graph, quotes, price history, the securities master) happens here.
"""
from __future__ import annotations

import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from advisor.models import Client, Viewpoint
from marketdata.services.drift import remembered_prices_for
from marketdata.services.history import price_history
from memory.extraction.securities import find_securities
from memory.graph import advice as graph_advice
from memory.ids import stable_id
from memory.scope import Reader
from memory.graph.facts import FactRow
from memory.selectors import client_facts, client_facts_with_history
from memory.services.retrieval import search
from marketdata.services.risk import RiskFigures, portfolio_risk
from memory.extraction.securities import SecurityInfo, security_info

RISK_WINDOW_DAYS = 252  # one year of trading days
RISK_CACHE_SECONDS = 3600
RECALL_K = 5

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_TARGET = re.compile(r"target (?:(" + "|".join(_MONTHS) + r") )?(\d{4})", re.I)


@dataclass(frozen=True)
class ProfileFact:
    """A current statement about the client (risk tolerance, a goal, an exclusion...) with its turns."""

    id: str
    attribute: str
    slot: str
    value: str
    text: str
    valid_from: datetime
    sources: tuple[str, ...] = ()
    target_date: date | None = None  # goals and cash needs: when the client wants it
    securities: tuple[str, ...] = ()  # exclusions: companies the statement names


@dataclass(frozen=True)
class Position:
    """A holding valued at its live quote (or at the close on the `as_of` day)."""

    symbol: str
    quantity: float
    price: float | None
    as_of: datetime | None
    source: str | None
    status: str = "fresh"  # "fresh" | "stale" | "unknown"

    @property
    def value(self) -> float | None:
        return None if self.price is None else self.quantity * self.price


@dataclass(frozen=True)
class RememberedPrice:
    """A price the client discussed, and the security's quote now."""

    id: str
    symbol: str
    price: float
    said_at: datetime
    text: str
    current_price: float | None
    as_of: datetime | None
    source: str | None
    status: str = "fresh"
    error: str | None = None
    sources: tuple[str, ...] = ()

    @property
    def drift_percent(self) -> float | None:
        if self.current_price is None or not self.price:
            return None
        return 100.0 * (self.current_price - self.price) / self.price


@dataclass(frozen=True)
class AnalystView:
    id: str  # the viewpoint's memory id
    symbol: str
    stance: str  # buy | hold | sell
    target_price: float | None
    published_at: datetime
    analyst: str
    rationale: str


@dataclass(frozen=True)
class Recalled:
    """A memory retrieved for the question, with the turns it came from."""

    id: str
    text: str
    kind: str
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    """The firm's (and client's) settings the rules apply."""

    concentration_limit_percent: float = 25.0
    sector_limit_percent: float = 40.0
    profile_max_age_days: int = 365
    goal_due_months: int = 24
    significant_move_percent: float = 5.0


@dataclass(frozen=True)
class ClientContext:
    client_id: str
    client_name: str
    as_of: datetime
    facts: tuple[ProfileFact, ...] = ()
    positions: tuple[Position, ...] = ()
    securities: dict[str, SecurityInfo] = field(default_factory=dict)
    prices: tuple[RememberedPrice, ...] = ()
    viewpoints: tuple[AnalystView, ...] = ()
    risk: RiskFigures | None = None
    recalled: tuple[Recalled, ...] = ()
    policy: Policy = Policy()
    question: str | None = None

    def facts_of(self, attribute: str) -> list[ProfileFact]:
        return [f for f in self.facts if f.attribute == attribute]


def policy_for(client: Client) -> Policy:
    firm = client.firm
    move = client.significant_move_percent or firm.significant_move_percent or settings.SIGNIFICANT_MOVE_PERCENT
    return Policy(concentration_limit_percent=firm.concentration_limit_percent,
                  sector_limit_percent=firm.sector_limit_percent, profile_max_age_days=firm.profile_max_age_days,
                  goal_due_months=firm.goal_due_months, significant_move_percent=float(move))


def goal_target(value: str) -> date | None:
    """The target date in a goal fact's value ("amount 50,000 USD; target June 2027")."""
    match = _TARGET.search(value or "")
    if not match:
        return None
    month = _MONTHS.index(match.group(1).lower()) + 1 if match.group(1) else 1
    return date(int(match.group(2)), month, 1)


def _target_of(attribute: str, slot: str, value: str) -> date | None:
    """When a goal or a cash need falls due: in a goal's value, in a liquidity need's slot (ISO date)."""
    if attribute == "goal":
        return goal_target(value)
    if attribute == "liquidity_need":
        try:
            return date.fromisoformat(slot.split(":", 1)[1])
        except (IndexError, ValueError):  # "liquidity_need:open": no date given
            return None
    return None


def _replaced_statements(history: list[FactRow], moment: datetime) -> tuple[set[str], set[tuple[str, str]]]:
    """Ids of facts a newer statement had replaced by `moment`, and the turns (as (session source, turn
    id): turn ids repeat across sessions) that said nothing but those replaced facts."""
    replaced = [f for f in history if f.superseded_at is not None and f.superseded_at <= moment]
    standing = {(f.source, turn) for f in history if f not in replaced for turn in f.sources}
    return {f.id for f in replaced}, {(f.source, turn) for f in replaced for turn in f.sources} - standing


def _replaced(result, replaced_ids: set[str], replaced_turns: set[tuple[str, str]]) -> bool:  # noqa: ANN001
    """A recalled memory that no longer holds: a replaced fact, or a turn that said only replaced things.
    The twin does not offer what the client said before as what is true now."""
    return result.id in replaced_ids or (
        result.level == "turn" and any((result.origin, turn) in replaced_turns for turn in result.sources))


def gather_context(*, client: Client, reader: Reader, as_of: datetime | None = None,
                   question: str | None = None) -> ClientContext:
    """Read the client's profile, holdings, remembered prices, viewpoints, risk and (for a question) memory."""
    moment = as_of or timezone.now()
    # The graph reads are independent: run them side by side (the driver is thread-safe), keeping the
    # relational reads on this thread, where Django's connection lives.
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="twin-context") as pool:
        facts_read = pool.submit(_facts_and_history, reader, as_of, with_history=bool(question))
        prices_read = pool.submit(_remembered_prices, reader, as_of)
        recall_read = pool.submit(search, reader, question, k=RECALL_K, as_of=as_of) if question else None
        positions = tuple(_positions(client, as_of))
        (current, history), prices = facts_read.result(), tuple(prices_read.result())
        facts = tuple(_profile_facts(current))
        replaced = _replaced_statements(history, moment) if question else None
        recalled = tuple(Recalled(r.id, r.text, r.kind, tuple(r.sources)) for r in recall_read.result()
                         if not _replaced(r, *replaced)) if recall_read else ()
    if as_of is not None:
        prices = tuple(_priced_at(prices, as_of))
    discussed = {p.symbol for p in prices} | {f.slot.split(":", 1)[1] for f in facts if f.attribute == "holding"}
    held = {p.symbol for p in positions}
    securities = {symbol: info for symbol in sorted(held) if (info := security_info(symbol)) is not None}
    return ClientContext(
        client_id=client.external_id, client_name=client.name, as_of=moment, facts=facts, positions=positions,
        securities=securities, prices=prices, viewpoints=tuple(_viewpoints(client, held | discussed, moment)),
        risk=_risk(positions, moment), recalled=recalled, policy=policy_for(client), question=question,
    )


def _facts_and_history(reader: Reader, as_of: datetime | None, *, with_history: bool
                       ) -> tuple[list[FactRow], list[FactRow]]:
    """The facts in view (now or at `as_of`) and, for a question, every active fact with its history (to
    leave replaced statements out of what is recalled). Now, both come from one read of the history."""
    if not with_history:
        return client_facts(reader, as_of=as_of), []
    if as_of is None:
        return client_facts_with_history(reader)
    # At an earlier moment the facts in view include some since forgotten, which the history leaves out.
    return client_facts(reader, as_of=as_of), client_facts_with_history(reader)[1]


def _profile_facts(rows: list[FactRow]) -> list[ProfileFact]:
    facts = []
    for row in rows:
        named = tuple(dict.fromkeys(ref.key for ref, _ in find_securities(row.text))) \
            if row.attribute == "exclusion" else ()
        facts.append(ProfileFact(
            id=row.id, attribute=row.attribute, slot=row.slot, value=row.value or "", text=row.text,
            valid_from=row.valid_from, sources=tuple(row.sources or ()),
            target_date=_target_of(row.attribute, row.slot, row.value), securities=named,
        ))
    return facts


def _positions(client: Client, as_of: datetime | None) -> list[Position]:
    holdings = list(client.holdings.all())
    if as_of is None:
        quotes = graph_advice.security_quotes([h.symbol for h in holdings])
        return [Position(h.symbol, float(h.quantity), q.price if q else None, q.as_of if q else None,
                         q.source if q else None, q.status if q else "unknown")
                for h in holdings for q in [quotes.get(h.symbol)]]
    positions = []
    for holding in holdings:
        close = close_on(holding.symbol, as_of)
        positions.append(Position(holding.symbol, float(holding.quantity), *close, "fresh") if close
                         else Position(holding.symbol, float(holding.quantity), None, None, None, "unknown"))
    return positions


def close_on(symbol: str, as_of: datetime) -> tuple[float, datetime, str] | None:
    """The last daily close on or before `as_of` (price, its day, source): the quote an earlier moment had."""
    frame = price_history(symbol, as_of.date(), days=10)
    if frame.empty:
        return None
    last = frame.sort_values("date").iloc[-1]
    return float(last["close"]), timezone.make_aware(datetime.combine(last["date"], datetime.min.time())), str(last["source"])


def _remembered_prices(reader: Reader, as_of: datetime | None) -> list[RememberedPrice]:
    rows = remembered_prices_for(reader)
    rows = [row for row in rows if as_of is None or row.mentioned_at <= as_of]
    sources = graph_advice.memory_sources([row.id for row in rows], reader.scopes)
    return [
        RememberedPrice(id=row.id, symbol=row.symbol, price=float(row.price), said_at=row.mentioned_at, text=row.text,
                        current_price=row.current_price, as_of=row.as_of, source=row.source,
                        status=row.status or "unknown", error=row.error, sources=tuple(sources.get(row.id, ())))
        for row in rows
    ]


def _priced_at(prices: tuple[RememberedPrice, ...], as_of: datetime) -> list[RememberedPrice]:
    """Remembered prices set against the quote each security had at `as_of`, not today's."""
    closes = {symbol: close_on(symbol, as_of) for symbol in {p.symbol for p in prices}}
    return [replace(p, current_price=close[0], as_of=close[1], source=close[2], status="fresh", error=None)
            if (close := closes[p.symbol]) else
            replace(p, current_price=None, as_of=None, source=None, status="unknown", error=None)
            for p in prices]


def _viewpoints(client: Client, symbols: set[str], moment: datetime) -> list[AnalystView]:
    rows = (Viewpoint.objects.filter(firm=client.firm, symbol__in=symbols, published_at__lte=moment)
            .select_related("analyst").order_by("symbol", "published_at", "pk"))
    return [
        AnalystView(id=stable_id("viewpoint", client.firm.slug, str(v.pk)), symbol=v.symbol, stance=v.stance,
                    target_price=float(v.target_price) if v.target_price is not None else None,
                    published_at=v.published_at, analyst=v.analyst.get_full_name() or v.analyst.username,
                    rationale=v.rationale)
        for v in rows
    ]


def _risk(positions: tuple[Position, ...], moment: datetime) -> RiskFigures | None:
    """A year of daily risk barely moves within a day: cached per weights (to 0.1%) and day, and per the
    quotes' moments: a quote refresh also rewrites today's close (marketdata.services.history.record_bars),
    so a risk figure never outlives the closes it was computed from."""
    values = {p.symbol: p.value for p in positions if p.value}
    total = sum(values.values())
    if not total:
        return None
    weights = {s: round(v / total, 3) for s, v in sorted(values.items())}
    quoted = sorted((p.symbol, p.as_of.isoformat() if p.as_of else None) for p in positions if p.value)
    key = "twin:risk:" + hashlib.sha1(repr((weights, quoted, moment.date().isoformat(), RISK_WINDOW_DAYS))
                                      .encode()).hexdigest()
    figures = cache.get(key)
    if figures is None:
        figures = portfolio_risk(weights=weights, as_of=moment.date(), window_days=RISK_WINDOW_DAYS)
        cache.set(key, figures, RISK_CACHE_SECONDS)
    return figures


