"""The deterministic extractor: regular rules over each sentence, no LLM, thousands of turns a second.

It favours precision: a missed fact is still found later through its raw turn, while a wrong fact
would be asserted to the client. Only the client's own words (or an advisor reporting them: "Ann
said she...") become facts about the client.
"""
from __future__ import annotations

import re
from datetime import MAXYEAR, MINYEAR, date, datetime, timedelta

from memory.extraction.securities import find_securities
from memory.extraction.types import (
    EntityRef,
    ExtractedFact,
    ExtractedObservation,
    Extraction,
    PriceMention,
    SessionInput,
    TurnInput,
)

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_YEAR = r"(20[2-9]\d)"
_NUMBER = r"(\d[\d,]*(?:\.\d+)?)"
_CURRENCY_SIGNS = {"$": "USD", "€": "EUR", "£": "GBP"}
_CURRENCY_WORDS = {"usd": "USD", "dollars": "USD", "dollar": "USD", "eur": "EUR", "euros": "EUR", "euro": "EUR",
                   "gbp": "GBP", "pounds": "GBP", "pound": "GBP"}
_MULTIPLIERS = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mm": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
_AMOUNT = re.compile(
    r"(?P<sign>[$€£])\s?(?P<num>\d[\d,]*(?:\.\d+)?)\s?(?P<mult>k|m|mm|bn|thousand|million|billion)?\b"
    r"|(?P<num2>\d[\d,]*(?:\.\d+)?)\s?(?P<mult2>k|m|thousand|million)?\s?(?P<word>usd|dollars|euros?|eur|gbp|pounds)\b"
    r"|\b(?P<code>USD|EUR|GBP)\s?(?P<num3>\d[\d,]*(?:\.\d+)?)\s?(?P<mult3>k|m|million)?\b"
    r"|\b(?P<num4>\d[\d,]*(?:\.\d+)?)\s?(?P<mult4>k|thousand|million)\b",
    re.IGNORECASE,
)
_PRICE_CONTEXT = re.compile(
    r"(?:\bat\b|\bfor\b|trading at|price of|priced at|\bwas\b|\bis\b|\bhit\b|went to|paid)\s*(?P<sign>[$€£])?\s?(?P<num>\d[\d,]*(?:\.\d+)?)"
    r"(?!\s?(?:k|m|%|percent|shares|years?|months?)\b)",
    re.IGNORECASE,
)
_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
     "december"], start=1)}
_WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "fifteen": 15, "twenty": 20, "eighteen": 18, "twelve": 12}
_MONTH_YEAR = re.compile(r"\b(" + "|".join(_MONTHS) + r")\s+" + _YEAR)
_REPORTS_CLIENT = re.compile(r"\b(?:she|he|they|client)\s+(?:said|told|mentioned|wants?|plans?)\b", re.I)
_ADVICE = re.compile(r"\b(?:recommend|suggest|advise|propose)", re.I)

RISK_LEVELS = (
    ("conservative", re.compile(
        r"\bconservative\b|\blow[- ]risk\b|can(?:'|no)t (?:stomach|handle|afford) (?:big |large |any )?loss|"
        r"don'?t want (?:to take )?(?:much|any|a lot of) risk|keep (?:things|it) safe|play it safe|\bcautious\b|"
        r"can'?t sleep when the market", re.I)),
    ("aggressive", re.compile(
        r"\baggressive\b|\bhigh[- ]risk\b|fine with (?:a lot of )?volatility|comfortable with (?:high|a lot of) risk|"
        r"\bgo for growth\b|maximi[sz]e growth", re.I)),
    ("moderate", re.compile(r"\bmoderate\b|\bbalanced\b|\bmedium[- ]risk\b|some risk is fine|middle of the road", re.I)),
)
_RISK_TOPIC = re.compile(r"risk|volatil|loss|safe|aggressive|conservative|cautious|growth|balanced|moderate|market", re.I)
_NOT_LEVEL = {level: re.compile(r"\bnot (?:too |very )?" + level, re.I) for level, _ in RISK_LEVELS}

GOALS = {
    "retirement": (re.compile(r"\bretire(?:ment|d|s)?\b|\bretiring\b|stop working", re.I), "Retirement"),
    "house": (re.compile(r"\b(?:house|home|flat|apartment|property)\b.*\b(?:deposit|buy|purchase|down ?payment)|"
                         r"\b(?:deposit|buy|purchase|down ?payment)\b.*\b(?:house|home|flat|apartment|property)\b", re.I),
              "Home purchase"),
    "education": (re.compile(r"\b(?:college|university|tuition|school fees|education)\b", re.I), "Education"),
    "wedding": (re.compile(r"\bwedding\b", re.I), "Wedding"),
    "travel": (re.compile(r"\b(?:world trip|travel(?:ling)? (?:fund|plan)|sabbatical)\b", re.I), "Travel"),
    "emergency_fund": (re.compile(r"\bemergency fund\b|\brainy day\b", re.I), "Emergency fund"),
    "business": (re.compile(r"\bstart (?:a|my own) business\b|\bmy own company\b", re.I), "Business"),
    "legacy": (re.compile(r"\b(?:charity|legacy|leave (?:something|money) to)\b", re.I), "Legacy"),
    "car": (re.compile(r"\b(?:new car|buy a car)\b", re.I), "Car"),
}
_GOAL_INTENT = re.compile(
    r"\b(?:want|wants|plan|plans|planning|hope|hoping|aim|aiming|like to|saving|save|goal|need|needs|would like|"
    r"going to|intend|target|by|in)\b", re.I)
_RETIRE_AT_AGE = re.compile(r"retire\w*\s+(?:at|by)\s+(?:age\s+)?(\d{2})\b", re.I)
_AGE = re.compile(r"\b(?:I'?m|I am|aged?|turning)\s+(\d{2})\b(?!\s*(?:%|percent|k\b))", re.I)

EXCLUSIONS = {
    "tobacco": re.compile(r"tobacco|cigarette|smoking", re.I),
    "fossil_fuels": re.compile(r"fossil|oil (?:and|&) gas|\boil\b|coal", re.I),
    "weapons": re.compile(r"weapon|arms|defen[cs]e", re.I),
    "crypto": re.compile(r"crypto|bitcoin", re.I),
    "gambling": re.compile(r"gambling|casino", re.I),
    "alcohol": re.compile(r"alcohol|brewer", re.I),
}
_EXCLUSION_INTENT = re.compile(
    r"\bno\b|\bnot\b|don'?t want|do not want|avoid|exclude|never|keep (?:me )?out of|stay away|nothing (?:to do )?with|"
    r"won'?t invest|against", re.I)

PREFERENCES = {
    "etfs": re.compile(r"\bETFs?\b|index funds?|passive", re.I),
    "dividends": re.compile(r"dividend", re.I),
    "esg": re.compile(r"\bESG\b|sustainab|green (?:funds|investing)|impact investing", re.I),
    "bonds": re.compile(r"\bbonds?\b|fixed income", re.I),
    "tech": re.compile(r"\btech(?:nology)? (?:stocks|sector)\b", re.I),
}
_PREFERENCE_INTENT = re.compile(r"\bprefer|\blike\b|\blove\b|interested in|keen on|\bfan of\b|more of", re.I)

CONCERNS = {
    "inflation": re.compile(r"inflation|cost of living|prices (?:keep )?going up", re.I),
    "market_drop": re.compile(r"crash|downturn|market (?:drop|fall|falls|drops)|recession|the market", re.I),
    "job_security": re.compile(r"(?:lose|losing) my job|job security|layoffs?|redundan", re.I),
    "interest_rates": re.compile(r"interest rates?|rate hikes?", re.I),
    "health": re.compile(r"\bhealth\b|medical", re.I),
    "running_out": re.compile(r"run(?:ning)? out of money|outlive my savings", re.I),
}
_NEGATIVE = re.compile(r"worried|worry|concerned|anxious|nervous|afraid|scared|stress|can'?t sleep|fear|panic", re.I)
_POSITIVE = re.compile(r"excited|happy|thrilled|confident|optimistic|relieved|great news", re.I)

LIFE_EVENTS = {
    "new_child": (re.compile(r"had a (?:baby|son|daughter)|baby (?:was )?born|new baby|became (?:a )?parents?|pregnan", re.I),
                  "new child"),
    "marriage": (re.compile(r"got married|getting married|our wedding|engaged", re.I), "marriage"),
    "divorce": (re.compile(r"divorc|separat(?:ed|ing) from", re.I), "divorce"),
    "new_job": (re.compile(r"new job|got (?:a )?promot|started (?:a new role|working at)|changed jobs", re.I), "new job"),
    "job_loss": (re.compile(r"lost my job|was laid off|got laid off|made redundant", re.I), "job loss"),
    "inheritance": (re.compile(r"inherit", re.I), "inheritance"),
    "health_event": (re.compile(r"diagnosed|surgery|hospital", re.I), "health event"),
    "relocation": (re.compile(r"moving to|moved to|relocat", re.I), "relocation"),
    "home_sale": (re.compile(r"sold (?:the|our|my) (?:house|home|flat)", re.I), "home sale"),
    "retired": (re.compile(r"\bI(?:'ve| have)? (?:just )?retired\b", re.I), "retired"),
}

_HOLDING = re.compile(
    r"\b(?:I|we)\s+(?:still\s+|also\s+)?(?:own|hold|have|bought|purchased|picked up|hold on to)\b(?:\s+(?:some|a few|about|around))?"
    r"(?:\s+(?P<qty>\d[\d,]*)\s+(?:shares\s+(?:of\s+|in\s+)?)?)?", re.I)
_SOLD = re.compile(r"\b(?:I|we)\s+(?:just\s+|finally\s+)?(?:sold|dumped|got rid of|exited)\b", re.I)
_HORIZON = re.compile(
    r"(?:(?P<n>\d+|" + "|".join(_WORD_NUMBERS) + r")[- ]year (?:time )?horizon|horizon (?:of|is) (?:about |around |roughly |some |maybe )?(?P<n2>\d+|"
    + "|".join(_WORD_NUMBERS) + r") years|need (?:the|this|that) money in (?P<n3>\d+|" + "|".join(_WORD_NUMBERS)
    + r") years|\b(?P<long>long[- ]term|short[- ]term)\b)", re.I)
_LIQUIDITY = re.compile(r"need (?:about |around )?(?P<amount>[$€£]?\s?\d[\d,.]*\s?(?:k|m|thousand|million)?)\s*(?:in )?cash", re.I)


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _to_number(word: str) -> int:
    return int(word) if word.isdigit() else _WORD_NUMBERS[word.lower()]


def parse_amounts(sentence: str) -> list[tuple[float, str]]:
    """Money amounts with their currency: "$1.2m" -> (1_200_000, "USD")."""
    amounts = []
    for match in _AMOUNT.finditer(sentence):
        groups = match.groupdict()
        if groups["sign"]:
            value, mult, currency = groups["num"], groups["mult"], _CURRENCY_SIGNS[groups["sign"]]
        elif groups["num2"]:
            value, mult, currency = groups["num2"], groups["mult2"], _CURRENCY_WORDS[groups["word"].lower()]
        elif groups["code"]:
            value, mult, currency = groups["num3"], groups["mult3"], groups["code"].upper()
        else:
            value, mult, currency = groups["num4"], groups["mult4"], "USD"
        amount = _number(value) * _MULTIPLIERS.get((mult or "").lower(), 1)
        amounts.append((amount, currency))
    return amounts


def _month_and_year(lower: str) -> date | None:
    """"june 2025" in a lower-cased sentence, as the first of that month."""
    match = _MONTH_YEAR.search(lower)
    return date(int(match.group(2)), _MONTHS[match.group(1)], 1) if match else None


def parse_target_date(sentence: str, spoken_at: datetime, age: int | None = None) -> date | None:
    """A date a goal aims at, resolved against when it was said."""
    lower = sentence.lower()
    if named := _month_and_year(lower):
        return named
    year = re.search(r"\b" + _YEAR + r"\b", lower)
    if year:
        return date(int(year.group(1)), 1, 1)
    relative = re.search(r"\bin (\d+|" + "|".join(_WORD_NUMBERS) + r") (years?|months?)\b", lower)
    if relative:
        n = _to_number(relative.group(1))
        months = n * 12 if relative.group(2).startswith("year") else n
        return _month_start(spoken_at.year * 12 + spoken_at.month - 1 + months)
    if "next year" in lower:
        return _month_start((spoken_at.year + 1) * 12)
    if "this year" in lower:
        return date(spoken_at.year, 12, 31)
    seasons = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}
    season = re.search(r"next (spring|summer|autumn|fall|winter)", lower)
    if season:
        month = seasons[season.group(1)]
        return _month_start((spoken_at.year + (1 if month <= spoken_at.month else 0)) * 12 + month - 1)
    at_age = _RETIRE_AT_AGE.search(sentence) or re.search(r"when I turn (\d{2})", sentence, re.I)
    if at_age and age:
        return _month_start((spoken_at.year + int(at_age.group(1)) - age) * 12)
    return None


def event_month(sentence: str, spoken_at: datetime) -> date:
    """The month something that already happened took place, resolved against when it was said.

    "We had a baby last month" said in September is August; "in March" is the latest March so far.
    """
    lower = sentence.lower()
    said = spoken_at.date().replace(day=1)
    if named := _month_and_year(lower):
        return named
    if "last month" in lower:
        return _month_start(spoken_at.year * 12 + spoken_at.month - 2) or said
    if "last week" in lower:
        return (max(spoken_at.date(), date.min + timedelta(days=7)) - timedelta(days=7)).replace(day=1)
    month = re.search(r"\b(?:in|on|during|since) (" + "|".join(_MONTHS) + r")\b", lower)
    if month:
        number = _MONTHS[month.group(1)]
        return _month_start((spoken_at.year - (1 if number > spoken_at.month else 0)) * 12 + number - 1) or said
    return said


def _month_start(months: int) -> date | None:
    """The first day of month number `months` (year * 12 + month - 1), or None beyond the calendar.

    "In 99999999 years" is no date: Python's dates end in year 9999 (and start in year 1).
    """
    year = months // 12
    return date(year, months % 12 + 1, 1) if MINYEAR <= year <= MAXYEAR else None


def _life_events(sentence: str) -> list[tuple[str, str]]:
    """(key, label) of each life event the sentence tells of."""
    return [(key, label) for key, (pattern, label) in LIFE_EVENTS.items() if pattern.search(sentence)]


class RuleExtractor:
    """Deterministic extraction of facts, observations and price mentions from a session."""

    def extract(self, session: SessionInput) -> Extraction:
        facts: list[ExtractedFact] = []
        observations: list[ExtractedObservation] = []
        prices: list[PriceMention] = []
        turn_entities: dict[str, tuple[EntityRef, ...]] = {}
        age = self._stated_age(session)
        for turn in session.turns:
            securities = find_securities(turn.text)
            if securities:
                turn_entities[turn.turn_id] = tuple(dict.fromkeys(ref for ref, _ in securities))
            prices.extend(self._prices(turn, securities))
            about_client = self._speaks_for_client(turn)
            for sentence in _SENTENCE.split(turn.text):
                if not sentence.strip():
                    continue
                # Read once for both: a life event is a fact and an observation (regex searches are most
                # of extraction's time, and extraction half of an import's Python).
                events = _life_events(sentence) if about_client else []
                observations.extend(self._feelings_and_events(turn, sentence, about_client, events))
                if about_client:
                    facts.extend(self._facts(turn, sentence, age, events))
        return Extraction(facts=tuple(facts), observations=tuple(observations), price_mentions=tuple(prices),
                          turn_entities=turn_entities)

    @staticmethod
    def _speaks_for_client(turn: TurnInput) -> bool:
        if turn.role == "client":
            return True
        if turn.role in ("advisor", "analyst", "twin"):
            return bool(_REPORTS_CLIENT.search(turn.text))
        return True

    @staticmethod
    def _stated_age(session: SessionInput) -> int | None:
        for turn in session.turns:
            if turn.role in ("", "client"):
                match = _AGE.search(turn.text)
                if match and 18 <= int(match.group(1)) <= 99:
                    return int(match.group(1))
        return None

    def _prices(self, turn: TurnInput, securities: list[tuple[EntityRef, tuple[int, int]]]) -> list[PriceMention]:
        if not securities:
            return []
        mentions = []
        for match in _PRICE_CONTEXT.finditer(turn.text):
            value = _number(match.group("num"))
            if not 0.5 <= value <= 100_000 or (not match.group("sign") and 1900 <= value <= 2100):
                continue
            preceding = [ref for ref, span in securities if span[0] < match.start()]
            ref = preceding[-1] if preceding else securities[0][0]
            currency = _CURRENCY_SIGNS.get(match.group("sign") or "$", "USD")
            mentions.append(PriceMention(ref.key, value, currency, turn.turn_id, turn.at, turn.text))
        return mentions

    def _facts(self, turn: TurnInput, sentence: str, age: int | None,
               events: list[tuple[str, str]]) -> list[ExtractedFact]:
        facts: list[ExtractedFact] = []
        at, ids, said = turn.at, (turn.turn_id,), f"(said {turn.at:%d %b %Y})"

        def fact(attribute: str, slot: str, value: str, text: str, importance: float, **extra) -> None:
            facts.append(ExtractedFact(attribute=attribute, slot=slot, value=value, text=f"{text} {said}",
                                       turn_ids=ids, valid_from=at, importance=importance, **extra))

        if _RISK_TOPIC.search(sentence):
            for level, pattern in RISK_LEVELS:
                if pattern.search(sentence) and not _NOT_LEVEL[level].search(sentence):
                    fact("risk_tolerance", "risk_tolerance", level,
                         f"Client's risk tolerance is {level}: \u201c{sentence.strip()}\u201d", 0.9)
                    break
        # The intent first: one search rules out most sentences, instead of one per goal.
        goals = GOALS.items() if _GOAL_INTENT.search(sentence) and not _SOLD.search(sentence) else ()
        for key, (pattern, label) in goals:
            if pattern.search(sentence):
                target = parse_target_date(sentence, at, age)
                amounts = [a for a in parse_amounts(sentence) if a[0] >= 1000]
                if target is None and not amounts:
                    continue
                amount, currency = amounts[0] if amounts else (None, None)
                parts = [label]
                if amount:
                    parts.append(f"amount {amount:,.0f} {currency}")
                if target:
                    parts.append(f"target {target:%B %Y}" if target.month != 1 else f"target {target.year}")
                value = "; ".join(parts[1:])
                fact("goal", f"goal:{key}", value,
                     f"Client's goal: {', '.join(parts)}: \u201c{sentence.strip()}\u201d", 0.85,
                     entities=(EntityRef("goal", key, label),), amount=amount, currency=currency, target_date=target)
        horizon = _HORIZON.search(sentence)
        if horizon:
            years = horizon.group("n") or horizon.group("n2") or horizon.group("n3")
            value = f"{_to_number(years)} years" if years else horizon.group("long").lower().replace(" ", "-")
            fact("time_horizon", "time_horizon", value, f"Client's investment horizon is {value}.", 0.7)
        liquidity = _LIQUIDITY.search(sentence)
        if liquidity:
            amounts = parse_amounts(liquidity.group("amount") + " dollars" if not re.search(r"[$€£]", liquidity.group("amount")) else liquidity.group("amount"))
            if amounts:
                amount, currency = amounts[0]
                target = parse_target_date(sentence, at, age)
                fact("liquidity_need", f"liquidity_need:{target or 'open'}", f"{amount:,.0f} {currency}",
                     f"Client needs {amount:,.0f} {currency} in cash{f' by {target:%B %Y}' if target else ''}.", 0.7,
                     amount=amount, currency=currency, target_date=target)
        if _EXCLUSION_INTENT.search(sentence):
            for key, pattern in EXCLUSIONS.items():
                if pattern.search(sentence):
                    label = key.replace("_", " ")
                    fact("exclusion", f"exclusion:{key}", f"no {label}",
                         f"Client excludes {label} investments: \u201c{sentence.strip()}\u201d", 0.8,
                         entities=(EntityRef("topic", key, label),))
        if _PREFERENCE_INTENT.search(sentence):
            for key, pattern in PREFERENCES.items():
                if pattern.search(sentence):
                    fact("preference", f"preference:{key}", key,
                         f"Client prefers {key.upper() if key in ('etfs', 'esg') else key}: \u201c{sentence.strip()}\u201d",
                         0.6, entities=(EntityRef("topic", key, key),))
        if _NEGATIVE.search(sentence):
            for key, pattern in CONCERNS.items():
                if pattern.search(sentence):
                    label = key.replace("_", " ")
                    fact("concern", f"concern:{key}", label, f"Client is concerned about {label}: \u201c{sentence.strip()}\u201d",
                         0.5, entities=(EntityRef("topic", key, label),))
        for key, label in events:
            when = event_month(sentence, at)
            fact("life_event", f"life_event:{key}:{when:%Y-%m}", label,
                 f"Life event: {label} ({when:%B %Y}): \u201c{sentence.strip()}\u201d", 0.85,
                 entities=(EntityRef("topic", key, label),))
        # Each security named takes the holding verb nearest before it ("I sold Tesla but I still hold
        # Apple"); one named before any verb takes the next verb that has no security of its own
        # ("Apple dipped so I bought some"), so "Tesla is too risky, I sold my Nvidia" sells only Nvidia.
        verbs = sorted([(m.start(), "sold", None) for m in _SOLD.finditer(sentence)]
                       + [(m.start(), "held", m.group("qty")) for m in _HOLDING.finditer(sentence)])
        named: dict[str, tuple[EntityRef, int]] = {}  # first mention of each security, in order
        for ref, (start, _) in find_securities(sentence):
            named.setdefault(ref.key, (ref, start))
        before = {key: next((v for v in reversed(verbs) if v[0] < start), None) for key, (_, start) in named.items()}
        unclaimed = [v for v in verbs if v not in before.values()]
        for ref, start in named.values():
            verb = before[ref.key] or next((v for v in unclaimed if v[0] > start), None)
            if verb is None:
                continue
            sold, quantity = verb[1] == "sold", verb[2]
            value = "sold" if sold else (quantity.replace(",", "") + " shares" if quantity else "held")
            fact("holding", f"holding:{ref.key}", value,
                 f"Client {'sold' if sold else 'holds'} {ref.name} ({ref.key})"
                 f"{'' if sold or not quantity else f', {quantity} shares'}.", 0.6, entities=(ref,))
        return facts

    def _feelings_and_events(self, turn: TurnInput, sentence: str, about_client: bool,
                             events: list[tuple[str, str]]) -> list[ExtractedObservation]:
        negative, positive = _NEGATIVE.search(sentence), _POSITIVE.search(sentence)
        found: list[ExtractedObservation] = []
        if about_client and (negative or positive):
            sentiment = -0.6 if negative else 0.6
            topics = tuple(EntityRef("topic", key, key.replace("_", " ")) for key, p in CONCERNS.items() if p.search(sentence))
            mood = "anxious" if negative else "positive"
            found.append(ExtractedObservation("observation", f"{turn.speaker} sounded {mood}: \u201c{sentence.strip()}\u201d",
                                              (turn.turn_id,), turn.at, 0.5, sentiment, topics))
        for key, label in events:
            when = event_month(sentence, turn.at)
            found.append(ExtractedObservation("event", f"{turn.speaker}: {label} ({when:%B %Y}): {sentence.strip()}",
                                              (turn.turn_id,), turn.at, 0.8, 0.0, (EntityRef("topic", key, label),)))
        if turn.role == "advisor" and _ADVICE.search(sentence):
            found.append(ExtractedObservation("observation", f"Advice given by {turn.speaker}: {sentence.strip()}",
                                              (turn.turn_id,), turn.at, 0.6, 0.0,
                                              tuple(dict.fromkeys(r for r, _ in find_securities(sentence)))))
        return found
