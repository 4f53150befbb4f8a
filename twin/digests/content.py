"""What a digest says about one client, read straight from memory, market data and the advisor's records.

Each section item carries the ids of the memories it rests on (`cites`), and every cited memory is in
the digest's `citations` with its text and source turns, so a reader can check any sentence.
Moves use the client's own remembered prices exactly as the client page shows them
(`marketdata.services.drift.remembered_prices_for`), plus the move since the reader's last digest.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings

from advisor.models import Client, Viewpoint
from marketdata.services.drift import PriceDrift, drift_percent, remembered_prices_for
from memory import selectors as memory_selectors
from memory.extraction.securities import find_securities, ref_for
from memory.graph import digests as graph_digests
from memory.graph.facts import FactRow
from memory.ids import stable_id
from memory.scope import Reader

# Profile facts a firm must keep current (suitability): older than DIGEST_STALE_FACT_DAYS, they need confirming.
PROFILE_ATTRIBUTES = {"risk_tolerance": "risk tolerance", "time_horizon": "investment horizon",
                      "goal": "goal", "liquidity_need": "cash need"}
# Concerns that any fall in a held or discussed security touches (others only when they name the security).
MARKET_CONCERNS = {"concern:market_drop", "concern:running_out"}


@dataclass
class Citation:
    id: str
    text: str
    sources: list[str] = field(default_factory=list)


@dataclass
class Item:
    kind: str  # move | viewpoint | confirm | goal | concern | note
    text: str
    cites: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ClientSection:
    client_id: str
    client_name: str
    moves: list[Item] = field(default_factory=list)
    viewpoints: list[Item] = field(default_factory=list)
    confirm: list[Item] = field(default_factory=list)
    goals: list[Item] = field(default_factory=list)
    concerns: list[Item] = field(default_factory=list)
    notes: list[Item] = field(default_factory=list)  # talking points (advisor) or plain explanations (client)
    chart: list[tuple[str, float]] = field(default_factory=list)  # (symbol, % since discussed)
    last_prices: dict[str, float] = field(default_factory=dict)  # the reference for the next digest

    def is_empty(self) -> bool:
        return not (self.moves or self.viewpoints or self.confirm or self.goals or self.concerns)


@dataclass
class DigestContent:
    audience: str
    reader_name: str
    covers_from: datetime
    covers_to: datetime
    sections: list[ClientSection]
    citations: dict[str, Citation]

    def to_json(self) -> dict[str, Any]:
        return {"audience": self.audience, "reader_name": self.reader_name,
                "covers_from": self.covers_from.isoformat(), "covers_to": self.covers_to.isoformat(),
                "sections": [asdict(section) for section in self.sections],
                "citations": [asdict(citation) for citation in self.citations.values()]}


def client_section(*, client: Client, audience: str, since: datetime, until: datetime,
                   previous_prices: dict[str, float], citations: dict[str, Citation]) -> ClientSection:
    """Everything worth telling about `client` for (since, until]; adds what it cites to `citations`."""
    reader = Reader(firm_id=client.firm.slug, client_id=client.external_id)
    section = ClientSection(client_id=client.external_id, client_name=client.name)
    prices = remembered_prices_for(reader)
    held = list(client.holdings.values_list("symbol", flat=True))
    events = graph_digests.market_move_events(reader.writable_scopes, since, until)
    _moves(section, prices, held, events, since, previous_prices, citations)
    names = sorted({p.symbol for p in prices} | set(held))
    _viewpoints(section, client, names, held, since, until, citations)
    # One read of the client's facts with their history: the fact reads are most of a digest's build time.
    current, history = memory_selectors.client_facts_with_history(reader)
    _facts_to_confirm(section, current, history, since, until, citations)
    _goals_due(section, current, until.date(), citations)
    _concerns(section, current, citations)
    risk = next((f.value for f in current if f.attribute == "risk_tolerance"), None)
    section.notes = (_talking_points(section, client, risk, _threshold(client)) if audience == "advisor"
                     else _explanations(section))
    return section


def _threshold(client: Client) -> float:
    return client.significant_move_percent or client.firm.significant_move_percent or settings.SIGNIFICANT_MOVE_PERCENT


def _cite(citations: dict[str, Citation], id: str, text: str, sources: list[str] | None = None) -> str:
    citations.setdefault(id, Citation(id=id, text=text, sources=list(sources or [])))
    return id


def _moves(section: ClientSection, prices: list[PriceDrift], held: list[str], events: list[graph_digests.MoveEvent],
           since: datetime, previous: dict[str, float], citations: dict[str, Citation]) -> None:
    """One item per remembered price whose quote moved since the last digest (every one in a first digest),
    with the page's own summary, and one per held security never discussed."""
    first_digest = not previous
    event_ids: dict[str, list[str]] = {}
    for event in events:
        event_ids.setdefault(event.symbol, []).append(_cite(citations, event.id, event.text, [event.source] if event.source else []))
    for row in prices:
        if row.current_price is not None:
            section.last_prices.setdefault(row.symbol, row.current_price)
        if row.current_price is None or not (first_digest or row.symbol in event_ids
                                             or (row.as_of and row.as_of > since)):
            continue
        data = {"symbol": row.symbol, "price": row.price, "mentioned_on": row.mentioned_at.date().isoformat(),
                "current_price": row.current_price, "drift_pct": row.drift_pct, "status": row.status,
                "source": row.source, "summary": row.summary}
        text = f"{row.symbol} {row.summary}"
        text += _since_last(row.symbol, row.current_price, previous, data)
        cites = [_cite(citations, row.id, row.text)] + event_ids.get(row.symbol, [])
        section.moves.append(Item("move", text, cites, data))
        if row.drift_pct is not None and row.symbol not in dict(section.chart):
            section.chart.append((row.symbol, round(row.drift_pct, 1)))
    discussed = {row.symbol for row in prices}
    for quote in graph_digests.security_quotes([s for s in held if s not in discussed]):
        if quote.price is None:
            continue
        section.last_prices[quote.symbol] = quote.price
        if not (first_digest or (quote.as_of and quote.as_of > since)):
            continue
        data = {"symbol": quote.symbol, "current_price": quote.price, "status": quote.status, "source": quote.source,
                "held": True}
        text = f"{quote.symbol} (held, never discussed) now {quote.price:.2f}"
        if quote.source == "replay":
            text += " [replayed prices]"
        if quote.status == "stale":
            text += f"; STALE: {quote.error}"
        text += _since_last(quote.symbol, quote.price, previous, data)
        section.moves.append(Item("move", text, event_ids.get(quote.symbol, []), data))


def _since_last(symbol: str, now: float, previous: dict[str, float], data: dict[str, Any]) -> str:
    before = previous.get(symbol)
    if before is None:
        return ""
    change = drift_percent(before, now)
    data["since_last_digest_pct"] = change
    data["last_digest_price"] = before
    return f"; since the last digest {before:.2f} \u2192 {now:.2f} ({change:+.1f}%)"


def _viewpoints(section: ClientSection, client: Client, names: list[str], held: list[str], since: datetime,
                until: datetime, citations: dict[str, Citation]) -> None:
    """Views published in the period on names the client holds or discussed; a change says what it replaced."""
    if not names:
        return
    published = (Viewpoint.objects.filter(firm=client.firm, symbol__in=names, published_at__gt=since,
                                          published_at__lte=until)
                 .select_related("analyst").order_by("symbol", "published_at"))
    for view in published:
        before = (Viewpoint.objects.filter(firm=client.firm, symbol=view.symbol, published_at__lt=view.published_at)
                  .order_by("-published_at").first())
        analyst = view.analyst.get_full_name() or view.analyst.username
        text = f"{analyst} rates {view.symbol} {view.stance}{_target(view)}: \u201c{view.rationale}\u201d"
        text += f" (published {view.published_at:%-d %B %Y})"
        if before is not None and (before.stance, before.target_price) != (view.stance, view.target_price):
            text += f"; changed from {before.stance}{_target(before)}"
        memory_id = stable_id("viewpoint", client.firm.slug, str(view.pk))
        cite = _cite(citations, memory_id, f"{analyst} on {view.symbol}: {view.stance}{_target(view)}. {view.rationale}",
                     [f"viewpoint:{view.pk}"])
        section.viewpoints.append(Item("viewpoint", text, [cite], {
            "symbol": view.symbol, "stance": view.stance, "analyst": analyst, "held": view.symbol in held,
            "target_price": float(view.target_price) if view.target_price is not None else None,
            "changed_from": before.stance if before is not None and before.stance != view.stance else None}))


def _target(view: Viewpoint) -> str:
    return f", target {view.target_price:.2f}" if view.target_price is not None else ""


def _facts_to_confirm(section: ClientSection, current: list[FactRow], history: list[FactRow], since: datetime,
                      until: datetime, citations: dict[str, Citation]) -> None:
    for older in history:
        if older.superseded_at is None or not since < older.superseded_at <= until:
            continue
        newer = next((f for f in history if older.id in f.supersedes), None)
        if newer is None:
            continue
        cites = [_cite(citations, newer.id, newer.text, newer.sources), _cite(citations, older.id, older.text, older.sources)]
        section.confirm.append(Item("confirm", f"Changed: {newer.text} It replaces: {older.text}", cites,
                                    {"attribute": newer.attribute, "value": newer.value, "was": older.value,
                                     "reason": "superseded"}))
    stale_before = until - timedelta(days=settings.DIGEST_STALE_FACT_DAYS)
    confirmed = {item.data["attribute"] for item in section.confirm}
    for fact in current:
        if fact.attribute in PROFILE_ATTRIBUTES and fact.attribute not in confirmed and fact.valid_from < stale_before:
            days = (until - fact.valid_from).days
            section.confirm.append(Item("confirm", f"Not confirmed for {days} days: {fact.text}",
                                        [_cite(citations, fact.id, fact.text, fact.sources)],
                                        {"attribute": fact.attribute, "value": fact.value, "reason": "stale",
                                         "days": days}))


def _goals_due(section: ClientSection, current: list[FactRow], today: date, citations: dict[str, Citation]) -> None:
    horizon = today + timedelta(days=settings.DIGEST_GOAL_DUE_DAYS)
    for fact in current:
        if fact.attribute != "goal" or not fact.target_date:
            continue
        due = date.fromisoformat(fact.target_date)
        if due > horizon:
            continue
        months = (due.year - today.year) * 12 + due.month - today.month
        when = f"due {due:%B %Y}" + (f", in {months} months" if months > 0 else ", now due")
        section.goals.append(Item("goal", f"{fact.text} ({when})", [_cite(citations, fact.id, fact.text, fact.sources)],
                                  {"slot": fact.slot, "target_date": fact.target_date, "months": months}))


def _concerns(section: ClientSection, current: list[FactRow], citations: dict[str, Citation]) -> None:
    """Concerns a move of this digest touches: the concern names the security, or it is about markets
    falling and a held or discussed security fell."""
    moved = {}
    for item in section.moves:
        change = item.data.get("since_last_digest_pct", item.data.get("drift_pct"))
        if change is not None:
            moved.setdefault(item.data["symbol"], (change, item.cites))
    for fact in current:
        if fact.attribute != "concern":
            continue
        named = {ref.key for ref, _ in find_securities(fact.text)}
        touching = [(symbol, change, cites) for symbol, (change, cites) in moved.items()
                    if symbol in named or (fact.slot in MARKET_CONCERNS and change < 0)]
        if not touching:
            continue
        moves = ", ".join(f"{symbol} {change:+.1f}%" for symbol, change, _ in touching)
        cites = [_cite(citations, fact.id, fact.text, fact.sources)] + [c for _, _, cs in touching for c in cs]
        section.concerns.append(Item("concern", f"{fact.text} Touched by: {moves}.", cites,
                                     {"concern": fact.value, "symbols": [s for s, _, _ in touching]}))


def _name(symbol: str) -> str:
    name = ref_for(symbol).name
    return f"{name} ({symbol})" if name and name != symbol else symbol


def _talking_points(section: ClientSection, client: Client, risk: str | None, threshold: float) -> list[Item]:
    first = client.name.split()[0]
    points = []
    for item in section.moves:
        drift = item.data.get("drift_pct")
        if drift is not None and abs(drift) >= threshold:
            fit = f" Check it still fits {first}'s {risk} risk tolerance." if risk else " Check it still fits their plan."
            points.append(Item("note", f"{item.data['symbol']} is {'up' if drift > 0 else 'down'} {abs(drift):.1f}% since "
                                       f"{first} discussed it at {item.data['price']:.2f}.{fit}", item.cites))
    for item in section.viewpoints:
        how = "holds" if item.data["held"] else "discussed"
        points.append(Item("note", f"Tell {first} about {item.data['analyst']}'s {item.data['stance']} view on "
                                   f"{item.data['symbol']}, which {first} {how}.", item.cites))
    for item in section.confirm:
        label = PROFILE_ATTRIBUTES.get(item.data["attribute"], item.data["attribute"].replace("_", " "))
        points.append(Item("note", f"Confirm {first}'s {label} ({item.data['value']}).", item.cites))
    for item in section.goals:
        points.append(Item("note", f"Review progress on {first}'s goal ({item.data['target_date'][:7]}).", item.cites))
    for item in section.concerns:
        points.append(Item("note", f"{first} is concerned about {item.data['concern']}, and "
                                   f"{', '.join(item.data['symbols'])} moved: reach out before they ask.", item.cites))
    return points


def _explanations(section: ClientSection) -> list[Item]:
    """Plain words for a client; what happened, never what will happen."""
    notes = []
    for item in section.moves:
        data = item.data
        if data.get("drift_pct") is None:
            continue
        direction = "higher" if data["drift_pct"] > 0 else "lower"
        notes.append(Item("note", f"{_name(data['symbol'])} was {data['price']:.2f} when we talked about it; it is now "
                                  f"{data['current_price']:.2f}, {abs(data['drift_pct']):.1f}% {direction}. "
                                  "This describes the past, not what prices will do next.", item.cites))
    for item in section.viewpoints:
        notes.append(Item("note", f"Our analyst's view on {item.data['symbol']} is \u201c{item.data['stance']}\u201d. "
                                  "A view is an opinion about an uncertain future and can be wrong.", item.cites,
                          {"shared": True}))
    for item in section.goals:
        notes.append(Item("note", f"A goal of yours is {'due' if item.data['months'] <= 0 else 'coming up'} "
                                  f"({item.data['target_date'][:7]}). Your adviser will go over it with you.", item.cites))
    if section.confirm:
        notes.append(Item("note", "Some of what we noted about you may be out of date; please tell your adviser "
                                  "if anything below is not right.", [c for i in section.confirm for c in i.cites]))
    return notes
