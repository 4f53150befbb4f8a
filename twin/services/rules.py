"""The twin's advice rules: pure functions from a `ClientContext` to advice items, no I/O.

Every item says what it rests on (`basis`: memories with their source turns, quotes with value,
as_of and source, viewpoints) and puts each figure it computed in `figures`, so every number in its
text can be traced (see `ungrounded_numbers`). Item kinds are the agreed set in
`ITEM_KINDS`; `key` identifies "the same item" across two pieces of advice.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from twin.services.context import (
    AnalystView,
    ClientContext,
    Position,
    ProfileFact,
    RememberedPrice,
)

ITEM_KINDS = ("decline", "exclusion_breach", "concentration", "risk_mismatch", "goal_due", "life_event_review",
              "price_move", "analyst_view", "viewpoint_reversal", "memory")

# Exclusion key (memory.extraction.rules.EXCLUSIONS) -> industries of the securities master that break it.
# The master's wording is uneven ("Aerospace & Defense", "Aerospaceanddefense"), hence patterns. "Food & Tobacco"
# is also on General Motors, Hershey and Nestlé, so tobacco takes only the labels that mean tobacco alone.
EXCLUDED_INDUSTRIES: dict[str, re.Pattern[str]] = {
    "tobacco": re.compile(r"^tobacco$|^food tobacco$|cigar", re.I),
    "fossil_fuels": re.compile(r"\boil\b|oilfield|petroleum|\bcoal\b|fossil|natural gas|erdöl|ölförderung", re.I),
    "weapons": re.compile(r"\bdefen[cs]e\b|aerospaceanddefense|\barms\b|weapon|ordnance|military", re.I),
    "crypto": re.compile(r"crypto|bitcoin", re.I),
    "gambling": re.compile(r"gambl|casino|lottery|igaming", re.I),
    "alcohol": re.compile(r"(?<!non)(?<!non-)alcohol|brewer|distiller|wineries", re.I),
}

# Realised figures a stated risk tolerance can live with, as (annual volatility, worst drawdown).
RISK_LIMITS: dict[str, tuple[float, float]] = {
    "conservative": (0.12, -0.15),
    "moderate": (0.20, -0.30),
}

# Life events that change what the client needs, and what to review for each.
LIFE_EVENT_NEEDS: dict[str, str] = {
    "new_child": "the emergency fund, insurance and saving for education",
    "job_loss": "cash needs and the emergency fund before any investment risk",
    "inheritance": "how the new money is invested and whether goals can move",
    "divorce": "ownership of the accounts, goals and beneficiaries",
    "marriage": "joint goals, accounts and beneficiaries",
    "retired": "income from the portfolio and the withdrawal plan",
    "health_event": "cash needs, insurance and the horizon",
    "home_sale": "where the sale proceeds go",
}

PROFILE_REQUIREMENTS = (("risk tolerance", "risk_tolerance"), ("horizon", "time_horizon"), ("objectives", "goal"))


@dataclass(frozen=True)
class AdviceItem:
    kind: str
    key: str
    text: str
    basis: tuple[dict[str, Any], ...] = ()
    figures: dict[str, Any] = field(default_factory=dict)

    def to_contract(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "text": self.text, "basis": [dict(b) for b in self.basis],
                "figures": dict(self.figures)}


@dataclass(frozen=True)
class RulesOutcome:
    items: tuple[AdviceItem, ...]
    declined: bool
    missing: tuple[str, ...]


def apply_rules(context: ClientContext) -> RulesOutcome:
    """Every rule, in the order an advisor reads them: what stops advice, breaches, risk, goals, markets."""
    missing, decline = profile_gaps(context)
    items = ([decline] if decline else []) + exclusion_breaches(context) + concentration(context) \
        + risk_mismatch(context) + goals_due(context) + life_event_reviews(context) + price_moves(context) \
        + analyst_views(context) + viewpoint_reversals(context) + recalled_memories(context)
    return RulesOutcome(items=tuple(items), declined=decline is not None, missing=tuple(missing))


# ---- basis entries -------------------------------------------------------------------------------------

def iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def fact_basis(fact: ProfileFact) -> dict[str, Any]:
    return {"type": "memory", "id": fact.id, "text": fact.text, "sources": list(fact.sources),
            "valid_from": iso(fact.valid_from)}


def position_basis(position: Position) -> dict[str, Any]:
    return {"type": "quote", "id": f"quote:{position.symbol}@{iso(position.as_of)}", "symbol": position.symbol,
            "price": position.price, "quantity": position.quantity, "value": position.value,
            "as_of": iso(position.as_of), "source": position.source, "status": position.status}


def mention_basis(mention: RememberedPrice) -> dict[str, Any]:
    return {"type": "memory", "id": mention.id, "text": mention.text, "sources": list(mention.sources),
            "price": mention.price, "valid_from": iso(mention.said_at)}


def mention_quote_basis(mention: RememberedPrice) -> dict[str, Any]:
    return {"type": "quote", "id": f"quote:{mention.symbol}@{iso(mention.as_of)}", "symbol": mention.symbol,
            "price": mention.current_price, "as_of": iso(mention.as_of), "source": mention.source,
            "status": mention.status, "error": mention.error}


def viewpoint_basis(view: AnalystView) -> dict[str, Any]:
    return {"type": "viewpoint", "id": view.id, "symbol": view.symbol, "stance": view.stance,
            "target_price": view.target_price, "published_at": iso(view.published_at), "analyst": view.analyst,
            "rationale": view.rationale}


def day(value: datetime | date) -> str:
    return f"{value.day} {value:%B %Y}"


def money(value: float) -> str:
    return f"{value:,.2f}"


# ---- the rules ----------------------------------------------------------------------------------------

def profile_gaps(context: ClientContext) -> tuple[list[str], AdviceItem | None]:
    """What personalised advice needs and the profile lacks: absent, or stated too long ago."""
    max_age = context.policy.profile_max_age_days
    absent, stale, stale_facts = [], [], []
    for label, attribute in PROFILE_REQUIREMENTS:
        facts = context.facts_of(attribute)
        if not facts:
            absent.append(label)
            continue
        newest = max(facts, key=lambda f: f.valid_from)
        if (context.as_of - newest.valid_from).days > max_age:
            stale.append(f"{label} (last stated {day(newest.valid_from)})")
            stale_facts.append(newest)
    missing = absent + stale
    if not missing:
        return [], None
    parts = []
    if absent:
        parts.append("there is no " + _join(absent) + " on record")
    if stale:
        parts.append(f"the {_join(stale)} {'is' if len(stale) == 1 else 'are'} older than the firm's "
                     f"{max_age}-day limit")
    text = ("I can't make personalised recommendations for this client yet: " + "; ".join(parts)
            + ". Please confirm " + _join([m.split(" (")[0] for m in missing], "and") + " with the client first.")
    return missing, AdviceItem("decline", "decline", text, tuple(fact_basis(f) for f in stale_facts),
                               {"profile_max_age_days": max_age})


def exclusion_breaches(context: ClientContext) -> list[AdviceItem]:
    """Holdings whose classified industry (or name) breaks an exclusion the client stated."""
    items = []
    for fact in context.facts_of("exclusion"):
        key = fact.slot.split(":", 1)[1] if ":" in fact.slot else fact.slot
        pattern = EXCLUDED_INDUSTRIES.get(key)
        label = fact.value.removeprefix("no ").strip() or key.replace("_", " ")
        for position in context.positions:
            info = context.securities.get(position.symbol)
            name = info.name if info else position.symbol
            industry = next((i for i in (info.industries if info else ()) if pattern and pattern.search(i)), None)
            if industry:
                why = f"it is classified under \u201c{industry}\u201d"
            elif position.symbol in fact.securities:
                why = "the client named this company"
            else:
                continue
            text = (f"{name} ({position.symbol}) breaks the client's exclusion of {label}: {why}. "
                    f"The client said: {_quoted(fact.text)}")
            items.append(AdviceItem("exclusion_breach", f"exclusion_breach:{key}:{position.symbol}", text,
                                    (fact_basis(fact), position_basis(position)),
                                    {"industry": industry} if industry else {}))
    return items


def concentration(context: ClientContext) -> list[AdviceItem]:
    """One security, or one sector, above the firm's share of the holdings' live value."""
    valued = [p for p in context.positions if p.value]
    total = sum(p.value for p in valued)
    if not total:
        return []
    basis = tuple(position_basis(p) for p in valued)
    items = []
    limit = context.policy.concentration_limit_percent
    for position in sorted(valued, key=lambda p: -p.value):
        share = round(100.0 * position.value / total, 1)
        if share > limit:
            items.append(AdviceItem(
                "concentration", f"concentration:{position.symbol}",
                f"{position.symbol} is {share:.1f}% of the holdings' live value ({money(position.value)} of "
                f"{money(total)}), above the firm's {limit:g}% limit for one security.",
                basis, {"share_percent": share, "value": round(position.value, 2), "total": round(total, 2),
                        "limit_percent": limit}))
    sectors: dict[str, list[Position]] = {}
    for position in valued:
        info = context.securities.get(position.symbol)
        if info and info.sector:
            sectors.setdefault(info.sector, []).append(position)
    sector_limit = context.policy.sector_limit_percent
    for sector, members in sorted(sectors.items()):
        value = sum(p.value for p in members)
        share = round(100.0 * value / total, 1)
        if share > sector_limit:
            items.append(AdviceItem(
                "concentration", f"concentration:sector:{sector}",
                f"The {sector} sector ({', '.join(p.symbol for p in members)}) is {share:.1f}% of the holdings' "
                f"live value ({money(value)} of {money(total)}), above the firm's {sector_limit:g}% limit for one sector.",
                basis, {"share_percent": share, "value": round(value, 2), "total": round(total, 2),
                        "limit_percent": sector_limit, "sector": sector}))
    return items


def risk_mismatch(context: ClientContext) -> list[AdviceItem]:
    """Realised volatility or drawdown of the holdings beyond what the stated risk tolerance allows."""
    facts = context.facts_of("risk_tolerance")
    risk = context.risk
    if not facts or risk is None or risk.volatility is None:
        return []
    fact = max(facts, key=lambda f: f.valid_from)
    limits = RISK_LIMITS.get(fact.value)
    if limits is None:
        return []
    max_vol, max_drawdown = limits
    volatility = round(100 * risk.volatility, 1)
    drawdown = round(100 * risk.max_drawdown, 1) if risk.max_drawdown is not None else None
    too_volatile = risk.volatility > max_vol
    too_deep = risk.max_drawdown is not None and risk.max_drawdown < max_drawdown
    if not (too_volatile or too_deep):
        return []
    measured = f"realised volatility of {volatility:.1f}% a year"
    if drawdown is not None:
        measured += f" and a worst fall of {drawdown:.1f}%"
    text = (f"The holdings had {measured} over the last {risk.days} trading days; for the client's {fact.value} "
            f"risk tolerance the firm's guide is at most {100 * max_vol:.0f}% volatility and a "
            f"{100 * max_drawdown:.0f}% fall.")
    if risk.missing:
        text += f" No price history for {', '.join(risk.missing)}, left out of the figures."
    figures = {"volatility_percent": volatility, "max_drawdown_percent": drawdown, "days": risk.days,
               "limit_volatility_percent": round(100 * max_vol), "limit_drawdown_percent": round(100 * max_drawdown),
               "risk_source": risk.source}
    return [AdviceItem("risk_mismatch", "risk_mismatch", text,
                       (fact_basis(fact),) + tuple(position_basis(p) for p in context.positions if p.value), figures)]


def months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def horizon_months(value: str) -> int | None:
    match = re.match(r"(\d+) years", value or "")
    return int(match.group(1)) * 12 if match else None


def goals_due(context: ClientContext) -> list[AdviceItem]:
    """Goals and cash needs whose date is within the firm's window (or past), set against the stated horizon."""
    horizon = max(context.facts_of("time_horizon"), key=lambda f: f.valid_from, default=None)
    items = []
    for goal in context.facts_of("goal") + context.facts_of("liquidity_need"):
        if goal.target_date is None:
            continue
        months = months_between(context.as_of.date(), goal.target_date)
        if months > context.policy.goal_due_months:
            continue
        when = f"{goal.target_date:%B %Y}" if goal.target_date.month != 1 else str(goal.target_date.year)
        if goal.attribute == "liquidity_need":
            subject = f"The cash need of {goal.value} (by {when})"
        else:
            subject = f"The {goal.slot.split(':', 1)[-1].replace('_', ' ')} goal (target {when})"
        if months >= 0:
            text = f"{subject} is {months} months away."
        else:
            text = f"{subject} was due {-months} months ago: confirm whether it still stands."
        basis = [fact_basis(goal)]
        horizon_span = horizon_months(horizon.value) if horizon else None
        if horizon and horizon_span is not None and months < horizon_span:
            text += (f" That is sooner than the stated horizon of {horizon.value}, so the money for it should not "
                     f"depend on long-term growth.")
            basis.append(fact_basis(horizon))
        items.append(AdviceItem("goal_due", f"goal_due:{goal.slot}", text, tuple(basis),
                                {"months_until": months}))
    return items


def life_event_reviews(context: ClientContext) -> list[AdviceItem]:
    """Life events that change the client's needs raise a review while they are recent (within the
    firm's profile age)."""
    items = []
    for event in context.facts_of("life_event"):
        parts = event.slot.split(":")
        key = parts[1] if len(parts) > 1 else event.value
        needs = LIFE_EVENT_NEEDS.get(key)
        if needs is None or (context.as_of - event.valid_from).days > context.policy.profile_max_age_days:
            continue
        when = parts[2] if len(parts) > 2 else None
        month = f" ({datetime.strptime(when, '%Y-%m'):%B %Y})" if when else ""
        text = f"Life event: {event.value}{month}. It changes what the client needs: review {needs}."
        items.append(AdviceItem("life_event_review", f"life_event_review:{event.slot}", text, (fact_basis(event),)))
    return items


_FIRST_PERSON = ((r"\bI'm\b", "you're"), (r"\bI've\b", "you've"), (r"\bI'd\b", "you'd"), (r"\bI'll\b", "you'll"),
                 (r"\bI\b", "you"), (r"\bmy\b", "your"), (r"\bme\b", "you"), (r"\bmine\b", "yours"),
                 (r"\bwe\b", "you"), (r"\bour\b", "your"))


def in_client_words(mention: RememberedPrice) -> str:
    """The sentence the price was said in, turned to the second person: 'you bought Apple at 325.47'."""
    said = mention.text.split("): ", 1)[-1]
    number = f"{mention.price:.2f}".rstrip("0").rstrip(".")
    sentences = re.split(r"(?<=[.!?])\s+", said)
    sentence = next((s for s in sentences if number in s.replace(",", "")), sentences[0]).strip().rstrip(".!?")
    for pattern, replacement in _FIRST_PERSON:
        sentence = re.sub(pattern, replacement, sentence, flags=re.I)
    return sentence[:1].upper() + sentence[1:]


def price_moves(context: ClientContext) -> list[AdviceItem]:
    """The latest price discussed per security, when it has moved past the client's threshold since."""
    latest: dict[str, RememberedPrice] = {}
    for mention in context.prices:
        if mention.symbol not in latest or mention.said_at > latest[mention.symbol].said_at:
            latest[mention.symbol] = mention
    threshold = context.policy.significant_move_percent
    items = []
    for symbol, mention in sorted(latest.items()):
        drift = mention.drift_percent
        if drift is None or abs(drift) < threshold:
            continue
        drift = round(drift, 1)
        text = (f"{in_client_words(mention)}; it is {mention.current_price:.2f} now, {drift:+.1f}% since "
                f"{day(mention.said_at)}")
        if mention.source == "replay":
            text += ", replayed prices"
        text += "."
        if mention.status == "stale":
            text += " That quote is stale (the last refresh failed), so check it before acting."
        items.append(AdviceItem("price_move", f"price_move:{symbol}", text,
                                (mention_basis(mention), mention_quote_basis(mention)),
                                {"drift_percent": drift, "threshold_percent": threshold}))
    return items


def _latest_views(context: ClientContext) -> dict[str, list[AnalystView]]:
    views: dict[str, list[AnalystView]] = {}
    for view in sorted(context.viewpoints, key=lambda v: v.published_at):
        views.setdefault(view.symbol, []).append(view)
    return views


def analyst_views(context: ClientContext) -> list[AdviceItem]:
    """The firm's latest analyst stance and target on each held name, against its live price."""
    views = _latest_views(context)
    items = []
    for position in context.positions:
        if position.symbol not in views:
            continue
        view = views[position.symbol][-1]
        text = (f"The firm's analyst ({view.analyst}, {day(view.published_at)}) rates {position.symbol} "
                f"{view.stance.upper()}")
        figures: dict[str, Any] = {}
        if view.target_price is not None and position.price:
            gap = round(100.0 * (view.target_price - position.price) / position.price, 1)
            text += (f" with a target of {view.target_price:.2f} against {position.price:.2f} now: "
                     f"the target is {abs(gap):.1f}% {'above' if gap >= 0 else 'below'} the live price")
            figures["target_gap_percent"] = gap
        elif view.target_price is not None:
            text += f" with a target of {view.target_price:.2f} (no live price to compare)"
        text += "."
        if view.stance == "sell":
            text += " The client holds a name the firm rates SELL: discuss it."
        items.append(AdviceItem("analyst_view", f"analyst_view:{position.symbol}", text,
                                (viewpoint_basis(view), position_basis(position)), figures))
    return items


def viewpoint_reversals(context: ClientContext) -> list[AdviceItem]:
    """A newer viewpoint whose stance differs from the one before it, on a held or discussed name."""
    items = []
    for symbol, views in sorted(_latest_views(context).items()):
        if len(views) < 2 or views[-1].stance == views[-2].stance:
            continue
        older, newer = views[-2], views[-1]
        text = (f"The analyst view on {symbol} changed from {older.stance.upper()} ({day(older.published_at)}) "
                f"to {newer.stance.upper()} ({day(newer.published_at)}): {newer.rationale}")
        items.append(AdviceItem("viewpoint_reversal", f"viewpoint_reversal:{symbol}", text,
                                (viewpoint_basis(newer), viewpoint_basis(older))))
    return items


def recalled_memories(context: ClientContext) -> list[AdviceItem]:
    """For a question: what the memory holds that bears on it, each with its source turns."""
    return [
        AdviceItem("memory", f"memory:{memory.id}", f"From memory: {memory.text}",
                   ({"type": "memory", "id": memory.id, "text": memory.text, "sources": list(memory.sources)},))
        for memory in context.recalled
    ]


# ---- checks ---------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _grounding_values(value: Any, found: list[float]) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        found.append(abs(float(value)))
    elif isinstance(value, str):
        found.extend(float(token.replace(",", "")) for token in _NUMBER.findall(value))
    elif isinstance(value, dict):
        for inner in value.values():
            _grounding_values(inner, found)
    elif isinstance(value, (list, tuple)):
        for inner in value:
            _grounding_values(inner, found)


def ungrounded_numbers(text: str, basis: Any, figures: Any = None) -> list[str]:
    """Numbers in `text` that no value in the basis or figures gives (at the text's precision)."""
    values: list[float] = []
    _grounding_values(basis, values)
    _grounding_values(figures or {}, values)
    missing = []
    for token in _NUMBER.findall(text):
        number = float(token.replace(",", ""))
        decimals = len(token.split(".")[1]) if "." in token else 0
        if not any(round(v, decimals) == round(number, decimals) or (decimals == 0 and float(int(v)) == number)
                   for v in values):
            missing.append(token)
    return missing


def _join(words: list[str], conjunction: str = "or") -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {conjunction} " + words[-1]


def _quoted(text: str) -> str:
    match = re.search(r"\u201c(.+?)\u201d", text)
    return f"\u201c{match.group(1)}\u201d" if match else text
