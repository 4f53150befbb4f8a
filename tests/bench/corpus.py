"""A seeded synthetic advisor corpus with gold answers.

Each client meets their advisor every few months over about three years. Most of every session is
small talk and market chat that shares the vocabulary of the facts ("retirement", "risk", "the
house", Apple, Microsoft, prices), so plain keyword search is not trivially right. Facts are planted
at known client turns, phrased in many ways, and several are later updated or contradicted (risk
moderate -> conservative, retirement 2035 -> 2033, house budget 600k -> 750k, a new employer).

Questions paraphrase the facts rather than copy them. Each question's `evidence` lists the turns that
state its answer: for an updated fact the *latest* statement (`superseded` lists the older ones), for
a "history" question the original one. `answer` is the canonical value and `answer_spans[i]` is the
verbatim text in `evidence[i]` that states it (`value_of(slot, span) == answer` for numeric slots).

Everything is derived from `random.Random(f"{seed}/{client_index}")`, so a seed gives the same corpus
in any process, and client i is the same whatever the number of clients.

    python -m tests.bench.corpus --seed 7 --out var/bench-corpus   # sessions.jsonl, questions.jsonl, gold.jsonl
"""
from __future__ import annotations

import argparse
import json
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

KINDS = ("single-fact", "updated-fact", "history", "temporal", "security-price", "multi-session")
FIRST_DATE = datetime(2022, 1, 1, tzinfo=timezone.utc)
SPAN_MONTHS = 36  # sessions fall in distinct months of 2022-2024

# --- people and places -------------------------------------------------------------------------------
FIRST = ["Ann", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jamal", "Kira", "Liam",
         "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Wes", "Xia", "Yusuf",
         "Zoe", "Aaron", "Bianca", "Carlos", "Dana", "Emeka", "Fiona", "Gideon", "Hana", "Ivan", "Julia"]
LAST = ["Carter", "Okafor", "Lindqvist", "Patel", "Rossi", "Haddad", "Kim", "Moreau", "Silva", "Brown", "Novak",
        "Murphy", "Cohen", "Tanaka", "Petrova", "Garcia", "Adeyemi", "Fischer", "Walsh", "Nakamura", "Dubois",
        "Kowalski", "Reyes", "Schmidt", "O'Neill", "Larsen", "Mensah", "Ferreira"]
ADVISORS = ["Alex Morgan", "Priya Shah", "Daniel Weber", "Helen Osei"]
CHILDREN = ["Mia", "Leo", "Ava", "Oscar", "Lily", "Theo", "Ella", "Max", "Nora", "Sami"]
RELATIVES = ["brother", "sister", "dad", "mum", "brother-in-law", "cousin", "neighbour", "best friend", "uncle"]
PLACES = ["Lisbon", "the Lake District", "Crete", "Toronto", "the coast", "my in-laws' place", "Barcelona",
          "Edinburgh", "a cabin up north", "Rome", "Cape Town", "the mountains"]
CITIES = ["Manchester", "Bristol", "Denver", "Austin", "Leeds", "Lyon", "Seattle", "Porto"]
EMPLOYERS = ["Hartwell Logistics", "Northbridge Health", "Calder & Finch", "Bluewater Engineering",
             "Stonegate Insurance", "Meridian Software", "the county council", "Orchard Foods", "Kestrel Energy",
             "Ashdown University", "Pinecrest Hotels", "Vantage Media"]
ACTIVITIES = ["football practice", "swimming lessons", "exams", "the school play", "piano", "a science fair"]
TEAMS = ["United", "the Rovers", "the Giants", "City", "the Bears", "Athletic"]
INDICES = ["S&P 500", "Nasdaq", "FTSE", "Dow", "MSCI World index"]
WEATHER = ["lovely", "awful, it rained all week", "far too hot", "perfect", "grey but fine"]
PERIODS = ["week", "month", "quarter"]
MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December"]

# ticker, names people use, a plausible 2022-2024 price range
SECURITIES = [
    ("AAPL", ("Apple",), (125, 230)),
    ("MSFT", ("Microsoft",), (220, 440)),
    ("IBM", ("IBM",), (115, 225)),
    ("GOOG", ("Google", "Alphabet"), (85, 185)),
    ("FB", ("Facebook", "Meta"), (90, 520)),
    ("AMZN", ("Amazon",), (85, 195)),
    ("NVDA", ("Nvidia",), (110, 140)),
    ("JNJ", ("Johnson & Johnson",), (145, 180)),
    ("KO", ("Coca-Cola",), (52, 72)),
    ("TSLA", ("Tesla",), (110, 400)),
]
HOLDING_TICKERS = ("AAPL", "MSFT", "IBM", "GOOG", "FB", "AMZN", "JNJ", "KO", "TSLA")
_SECURITY = {ticker: (names, prices) for ticker, names, prices in SECURITIES}

# --- filler: small talk and generic market chat -------------------------------------------------------
ADVISOR_OPENERS = {
    "meeting": ["Good to see you again, {first}. Coffee?", "Come in, {first}, have a seat.",
                "Thanks for making the time, {first}. How have you been?", "Morning {first}! Traffic okay?"],
    "call": ["Hi {first}, can you hear me all right?", "Hello {first}, thanks for picking up.",
             "Hi {first}, is now still a good time to talk?"],
    "email": ["Hi {first}, following up on our last conversation.", "Dear {first}, a quick check-in from me."],
}
ADVISOR_CLOSERS = ["I'll send you the summary by email later today.", "Great, let's speak again next quarter.",
                   "I'll write all this up and share it on the portal.", "Thanks {first}, talk soon.",
                   "Let's pick this up at our next review."]
CLIENT_CLOSERS = ["Thanks, that was helpful.", "Perfect, speak soon.", "Great, thanks for your time.",
                  "Sounds good. Bye for now."]
ADVISOR_FILLER = [
    "Markets have been a bit jumpy this {period}; the {index} was down {pct}% at one point.",
    "{company} reported earnings last week and the stock moved about {pct}% on the day.",
    "We did a small rebalance of the portfolio in {month}, nothing dramatic.",
    "A lot of clients ask me about risk when the headlines get loud.",
    "Retirement accounts had a decent quarter across the board.",
    "Bond yields ticked up again, which is why the fixed income part of the portfolio looks flat.",
    "Let me pull up the performance summary on screen.",
    "The Fed meets next week, so expect some noise in the markets.",
    "Platform fees are coming down a little next year, which helps everyone.",
    "{company} closed at {price} yesterday, for what it's worth.",
    "Diversification is doing its job; the portfolio held up better than the {index}.",
    "Have you had a chance to read the quarterly letter?",
    "Inflation came in at {infl}% last month according to the figures.",
    "The tax year end is coming up, so let's keep the allowances in mind.",
    "Some people are piling into {company} right now; I'd be careful with the hype.",
    "Risk isn't only about volatility, it's about whether the plan still works.",
    "Plenty of people your age aim to retire around {year}, but everyone's different.",
    "House prices have cooled a little in most areas, from what I read.",
    "Dividend payments across the funds came through on schedule.",
    "Tech stocks had a rough {period}, but it tends to even out.",
    "I've seen a few clients move cash into money market funds while rates are high.",
    "Our research team is neutral on {company} at the moment.",
    "The portfolio is up about {pct}% since our last review.",
    "Mortgage rates are around {rate}% at the moment, give or take.",
    "College costs keep rising faster than inflation, it's a common theme.",
    "We keep an eye on concentration risk, no single stock should dominate.",
]
CLIENT_FILLER = [
    "The kids are busy with {activity} at the moment.",
    "We just got back from {place}; the weather was {weather}.",
    "My {relative} keeps sending me articles about {company}.",
    "I saw {company} in the news, everyone at work is talking about it.",
    "Work has been hectic, we have a big deadline in {month}.",
    "My {relative} retired last {season} and is already bored.",
    "A colleague of mine lost a lot on crypto, it was a mess.",
    "I read that the {index} hit a record, is that right?",
    "Honestly I don't check the portfolio much, maybe once a month.",
    "Did the dividend from the fund come through?",
    "Our neighbours are selling their house, prices around here are crazy.",
    "{team} lost again on Sunday, so I'm in a bad mood.",
    "Can you remind me what the fees are on the pension?",
    "The car needs new tyres, there's always something.",
    "I don't really follow {company}, but my {relative} swears by it.",
    "We're thinking about redoing the kitchen at some point.",
    "Is market risk higher now, with everything in the news?",
    "Everyone at the office seems to be talking about early retirement lately.",
    "My {relative} just paid about {big_amount} for a flat in {city}, can you believe it?",
    "I had a look at the statement, the numbers looked fine to me.",
    "What do you make of all the talk about a recession?",
    "We had friends over for dinner and all they talked about was interest rates.",
    "I keep meaning to sort out my will, it's on the list.",
    "The garden has taken over my weekends.",
]
SHORT = ["Right.", "Okay, got it.", "That's good to hear.", "Makes sense.", "Sure.", "Mm-hm, go on.",
         "Fair enough.", "Interesting.", "Yes, I remember that.", "Okay."]
ACKS = ["Noted, I'll update your file.", "Okay, that's helpful to know.", "Got it, we'll factor that in.",
        "Understood.", "That makes sense given everything.", "Thanks for telling me, that matters for the plan.",
        "Good, I'll make sure the plan reflects that."]
UPDATE_PREFIXES = ["", "", "I've changed my mind about something. ", "Things are different now. ",
                   "Can I revise what I said before? ", "We've talked it over at home. "]

# --- planted facts: "[...]" marks the span that states the value --------------------------------------
RISK = {
    "conservative": [
        "Honestly I can't sleep when the market drops, so [let's keep things safe].",
        "After the last year I'd rather [play it safe] with most of the money.",
        "I've become [a lot more cautious]; losing a big chunk would really hurt us now.",
        "Put me down as [conservative], I care more about not losing money than about growth.",
        "[Protecting what we have] matters most to me now, I don't need to shoot the lights out.",
        "The swings were too much for me. [I want much less risk] from here on.",
    ],
    "moderate": [
        "I'm okay with [some ups and downs], as long as it's not a roller coaster.",
        "Something [balanced] feels right, half growth and half steady stuff.",
        "I'd say my appetite is [middle of the road]: not reckless, not timid.",
        "I can live with a bad year now and then; [moderate risk] is fine by me.",
        "Let's aim for [a sensible mix], I don't want all my eggs in the stock basket.",
    ],
    "aggressive": [
        "I'm young enough to ride out the dips, [let's go for growth].",
        "Volatility doesn't bother me at all, [I want an aggressive portfolio].",
        "Honestly I'd rather [swing for the fences] while I still have time.",
        "Put me in [high-growth] stuff, I could watch it fall by a third without panicking.",
        "I'm comfortable [taking a lot of risk] for higher returns.",
    ],
}
RETIRE = [
    "I'd like to retire in [{year}] if the numbers work.",
    "My target for stopping work is [{year}].",
    "We've pencilled in [{year}] as the year I hang up my boots.",
    "If all goes to plan I'll be done with work by [{year}].",
    "I'm hoping to leave the nine-to-five for good in [{year}].",
    "Retirement in [{year}], that's what I'm working towards.",
    "Realistically I'll keep working until [{year}].",
    "Let's plan on me finishing work in [{year}].",
]
HOUSE = [
    "We're looking at houses around [{amount}], hopefully buying in {year}.",
    "Our budget for the new place is [{amount}].",
    "We've been to a few viewings; anything up to [{amount}] would work for us.",
    "The mortgage broker says we can stretch to [{amount}] for the house.",
    "We want to buy a home by {year}, something in the [{amount}] range.",
    "For the property we're now thinking a ceiling of [{amount}].",
]
COLLEGE = [
    "We want [{amount}] set aside for {child}'s college by {year}.",
    "{child} starts university in {year}; we reckon it'll cost about [{amount}] all in.",
    "I'd like to have [{amount}] ready for {child}'s education by {year}.",
    "Tuition for {child} is the big one, we're aiming to have [{amount}] saved by {year}.",
]
HORIZON = [
    "I'm not touching this money for at least [{h}].",
    "Think of it as a [{h_adj}] horizon, roughly.",
    "We're investing for the long haul, about [{h}] I'd say.",
    "I won't need to draw on it for [{h}] or so.",
]
EXCLUSION = {
    "tobacco": ["Please, [no tobacco] companies in my accounts.",
                "I don't want to own [cigarette makers], my dad died of lung cancer.",
                "Keep me out of [tobacco stocks], whatever the returns."],
    "fossil fuels": ["I'd rather not hold [oil and gas] companies.",
                     "[No fossil fuels], please, it's a values thing for us.",
                     "Can we make sure there's nothing in [coal or oil] in the funds?"],
    "weapons": ["I won't invest in [arms manufacturers].", "No [defence contractors] for me, please.",
                "I'm not comfortable owning [weapons makers], full stop."],
    "gambling": ["Keep [casinos and betting companies] out of the portfolio.",
                 "I don't want money in [gambling] businesses."],
}
PREFERENCE = {
    "etfs": ["I like [index funds], cheap and simple.", "[ETFs] make the most sense to me, low fees.",
             "I'd prefer [passive trackers] over stock picking."],
    "dividends": ["I like companies that [pay a steady dividend].", "Income matters to me, so [dividend payers] please.",
                  "I'm a fan of [regular dividend income]."],
    "esg": ["I'm keen on [sustainable funds], it matters to my kids.", "Can we lean towards [ESG] options?",
            "I'd love the money to go into [green investments] where possible."],
    "bonds": ["I'm more comfortable with [bonds] than shares, to be honest.",
              "I like the idea of [government bonds] for the steady part."],
}
CONCERN = {
    "inflation": ["What keeps me up at night is [inflation] eating into our savings.",
                  "Everything costs more, [the cost of living] really worries me.",
                  "I'm nervous that [rising prices] will wipe out the gains."],
    "job security": ["There were layoffs at work, I'm worried about [losing my job].",
                     "Honestly [job security] is my biggest worry right now."],
    "market crash": ["I'm scared of [another crash] like 2008.", "I keep worrying [the market will collapse]."],
    "running out of money": ["My fear is [running out of money] in my eighties.",
                             "I'm anxious we'll [outlive our savings]."],
}
BABY = ["We had [a baby girl] in {month}, she's wonderful.", "Big news: [our son was born] last month!",
        "We've [had our second child], so life is chaos."]
INHERITANCE = ["My aunt passed away and left me about [{amount}].",
               "I'm getting an inheritance from my grandmother, roughly [{amount}].",
               "Dad's estate finally settled, my share is [{amount}]."]
EMPLOYER_OLD = ["I've been at [{employer}] for {n} years now.", "Things at [{employer}] are steady for now.",
                "I work at [{employer}], same as always."]
EMPLOYER_NEW = ["I've [started at {employer}], it's a better salary.", "I changed jobs, I'm at [{employer}] now.",
                "Good news, I accepted an offer from [{employer}]."]
BUY = [
    "I bought {sec} at [{price}] last week.",
    "I picked up {qty} shares of {sec} for [{price}] each.",
    "I went ahead and added {sec}, got filled at ${price_span}.",
    "My {sec} order went through at [{price}] a share.",
    "I finally got into {sec}, paid [{price}] per share.",
    "{sec} dipped so I bought some at [{price}].",
]
SELL = ["I sold my {sec} at [{price}], took the profit.", "I got out of {sec} at [{price}] last month.",
        "I sold the {sec} shares for [{price}] each."]

# lead-ins the advisor says before a planted fact (sharing the question's vocabulary, as in real life)
LEAD_INS = {
    "risk": ["How are you feeling about risk these days?", "Let's talk about how much volatility you can live with.",
             "Has your view on risk shifted at all?"],
    "retirement": ["Have you given any more thought to when you'd like to stop working?",
                   "Let's revisit the retirement timeline."],
    "house": ["How's the house hunt going?", "Any update on the property search?"],
    "college": ["Let's talk about education costs for the kids.", "How are you thinking about the college fund?"],
    "horizon": ["How long can this money stay invested?", "When do you think you'll need to draw on the portfolio?"],
    "exclusion": ["Is there anything you'd never want to invest in?", "Any ethical limits I should know about?"],
    "preference": ["Do you have a preference for the kind of investments we use?"],
    "concern": ["What's on your mind financially at the moment?", "Anything worrying you about the plan?"],
    "holding": ["Have you made any trades yourself since we last spoke?", "Anything new in your own brokerage account?"],
    "employer": ["How's work going?", "Anything new on the job front?"],
    "event": ["Any news at home?", "How's the family?"],
}

# question templates: "{who}" is "the client", the first name or the full name
Q = {
    "risk_now": ["What is {who}'s current risk tolerance?", "How much investment risk is {who} willing to take now?",
                 "Is {who} cautious or growth-oriented at the moment?", "What's {who}'s appetite for volatility today?"],
    "risk_first": ["How did {who} describe their risk appetite originally?",
                   "What risk level did {who} start out with before changing their mind?"],
    "risk_history": ["How has {who}'s attitude to risk changed over time?",
                     "Trace {who}'s risk tolerance across our meetings."],
    "retire_now": ["What year does {who} currently plan to retire?", "When does {who} now expect to stop working?",
                   "What's the latest target retirement date for {who}?"],
    "retire_first": ["What retirement year did {who} first mention?",
                     "Which year did {who} originally give for retiring, before changing plans?"],
    "retire_history": ["How has {who}'s retirement date moved over the years?"],
    "house_now": ["What is {who}'s current budget for the home purchase?", "How much is {who} planning to spend on a property?",
                  "What price range is {who} looking at for a house now?"],
    "house_first": ["What was {who}'s original house budget before it changed?",
                    "How much did {who} first say they could spend on a home?"],
    "college": ["How much does {who} want to save for {child}'s education?",
                "What's the target for {child}'s university fund?"],
    "horizon": ["What is {who}'s investment time horizon?", "How long before {who} needs to draw on the investments?"],
    "exclusion": ["Are there any industries {who} refuses to invest in?", "What ethical restrictions does {who} have?",
                  "Which sectors should we keep out of {who}'s portfolio?"],
    "preference": ["What type of investments does {who} favour?", "What kind of products does {who} prefer?"],
    "concern": ["What is {who} most worried about financially?", "Which financial fears has {who} raised?"],
    "baby": ["Did {who}'s family grow recently?", "Has {who} had any children recently?"],
    "inheritance": ["Did {who} receive any windfall, and how much?", "How big is the inheritance {who} mentioned?"],
    "employer_now": ["Which company does {who} work for these days?", "Who is {who}'s current employer?"],
    "buy": ["At what price did {who} buy {sec}?", "What did {who} pay per share for {sec}?",
            "What was {who}'s entry price on {sec}?"],
    "sell": ["At what price did {who} sell {sec}?", "What did {who} get when they sold {sec}?"],
    "holdings_all": ["Which stocks has {who} told us they bought?", "List the securities {who} has purchased on their own."],
    "temporal": ["What did we discuss about {topic} in {month}?", "What did {who} say about {topic} when we spoke in {month}?",
                 "In our {month} conversation, what came up about {topic}?"],
}
TOPIC_WORDS = {"risk": "risk", "retirement": "retirement", "house": "the house", "college": "college savings",
               "employer": "work"}

_WORD_NUMBERS = {"five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15,
                 "twenty": 20, "twenty-five": 25, "thirty": 30}


@dataclass
class Corpus:
    seed: int
    sessions: list[dict] = field(default_factory=list)
    questions: list[dict] = field(default_factory=list)

    @property
    def turn_count(self) -> int:
        return sum(len(s["turns"]) for s in self.sessions)

    def turns_by_id(self) -> dict[str, tuple[dict, dict]]:
        """turn_id -> (session, turn)."""
        return {t["turn_id"]: (s, t) for s in self.sessions for t in s["turns"]}


@dataclass
class Plant:
    slot: str
    value: str
    span: str
    session: int
    position: int
    turn_id: str = ""
    extra: dict = field(default_factory=dict)


def value_of(slot: str, span: str) -> str:
    """The canonical value a span states, for slots whose answer is a number."""
    text = span.lower().replace(",", "").replace("$", "").strip()
    if slot in ("house", "college", "inheritance"):
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(k|thousand|million|m)?", text)
        if not match:
            raise ValueError(f"not an amount: {span!r}")
        mult = {"k": 1_000, "thousand": 1_000, "million": 1_000_000, "m": 1_000_000}.get(match.group(2) or "", 1)
        return str(round(float(match.group(1)) * mult))
    if slot == "horizon":
        number = re.match(r"([a-z-]+|\d+)[- ]years?", text)
        if not number:
            raise ValueError(f"not a horizon: {span!r}")
        word = number.group(1)
        return str(int(word) if word.isdigit() else _WORD_NUMBERS[word])
    return span


def _say_amount(rng: random.Random, amount: int) -> str:
    if amount >= 1_000_000 and amount % 10_000 == 0:
        return rng.choice([f"${amount / 1e6:g} million", f"{amount / 1e6:g} million", f"${amount:,}"])
    if amount % 1000 == 0:
        return rng.choice([f"${amount:,}", f"{amount // 1000}k", f"${amount // 1000}k", f"{amount // 1000} thousand"])
    return f"${amount:,}"


def _fill(template: str, values: dict) -> tuple[str, str]:
    """Format a template and return (text, span) where span is the text that was in brackets."""
    text = template.format(**values)
    match = re.search(r"\[(.+?)\]", text)
    if not match:
        raise ValueError(f"template without a [span]: {template!r}")
    return text.replace("[", "").replace("]", ""), match.group(1)


class _ClientBuilder:
    def __init__(self, rng: random.Random, index: int, id_prefix: str, n_sessions: int, n_turns: int) -> None:
        if n_sessions < 4 or n_turns < 16:
            raise ValueError("need at least 4 sessions per client and 16 turns per session (room for the facts)")
        self.rng = rng
        self.client_id = f"{id_prefix}{index:05d}"
        self.first = FIRST[index % len(FIRST)]
        self.name = f"{self.first} {LAST[(index * 7 + index // len(FIRST)) % len(LAST)]}"
        self.advisor = ADVISORS[index % len(ADVISORS)]
        self.n_sessions, self.n_turns = n_sessions, n_turns
        months = sorted(rng.sample(range(max(SPAN_MONTHS, n_sessions)), n_sessions))
        self.dates = []
        for m in months:
            year, month = FIRST_DATE.year + m // 12, m % 12 + 1
            self.dates.append(datetime(year, month, rng.randint(1, 28), rng.randint(9, 17), rng.choice((0, 15, 30, 45)),
                                       tzinfo=timezone.utc))
        self.channels = [rng.choices(("meeting", "call", "email"), weights=(5, 4, 1))[0] for _ in range(n_sessions)]
        self.turns: list[list[tuple[str, str]]] = [self._filler_session(s) for s in range(n_sessions)]
        self.used: set[tuple[int, int]] = set()  # (session, position) holding a plant, lead-in or ack
        self.plants: list[Plant] = []
        self.questions: list[dict] = []

    # -- filler ---------------------------------------------------------------------------------------
    def _values(self) -> dict:
        rng = self.rng
        ticker, names, (low, high) = rng.choice(SECURITIES)
        return {
            "first": self.first, "company": rng.choice(names + (ticker,)), "index": rng.choice(INDICES),
            "period": rng.choice(PERIODS), "pct": rng.choice((1.5, 2, 3, 4.2, 5, 7, 8.5, 11)),
            "month": rng.choice(MONTH_NAMES), "price": f"{rng.uniform(low, high):.2f}",
            "infl": rng.choice((2.4, 3.1, 3.7, 4.9, 6.2, 7.7, 8.3)), "year": rng.randint(2028, 2045),
            "rate": rng.choice((4.5, 5.2, 6.1, 6.8, 7.1)), "activity": rng.choice(ACTIVITIES),
            "place": rng.choice(PLACES), "weather": rng.choice(WEATHER), "relative": rng.choice(RELATIVES),
            "season": rng.choice(("spring", "summer", "autumn", "winter")), "team": rng.choice(TEAMS),
            "city": rng.choice(CITIES), "big_amount": _say_amount(rng, rng.randrange(250, 900, 25) * 1000),
        }

    def _filler_text(self, advisor: bool) -> str:
        rng = self.rng
        if rng.random() < 0.18:
            return rng.choice(SHORT)
        pool = ADVISOR_FILLER if advisor else CLIENT_FILLER
        sentences = [rng.choice(pool).format(**self._values()) for _ in range(rng.choice((1, 1, 1, 2)))]
        return " ".join(sentences)

    def _filler_session(self, s: int) -> list[tuple[str, str]]:
        turns, said = [], set()
        for t in range(self.n_turns):
            advisor = t % 2 == 0
            if t == 0:
                text = self.rng.choice(ADVISOR_OPENERS[self.channels[s]]).format(first=self.first)
            elif t == self.n_turns - 1:
                text = self.rng.choice(ADVISOR_CLOSERS if advisor else CLIENT_CLOSERS).format(first=self.first)
            else:
                text = self._filler_text(advisor)
                for _ in range(3):  # people rarely say the very same thing twice in one conversation
                    if text not in said:
                        break
                    text = self._filler_text(advisor)
            said.add(text)
            turns.append((self.advisor if advisor else self.name, text))
        return turns

    # -- planting -------------------------------------------------------------------------------------
    def _free_positions(self, s: int) -> list[int]:
        # client turns are the odd positions; keep the last turn for goodbyes
        return [p for p in range(1, self.n_turns - 1, 2) if (s, p) not in self.used]

    def _pick_session(self, sessions: list[int]) -> int:
        candidates = [s for s in sessions if self._free_positions(s)]
        if not candidates:
            raise ValueError("no free client turn left: use more turns per session")
        return self.rng.choice(candidates)

    def plant(self, slot: str, lead_in: str, sessions: list[int], template: str, values: dict, value: str,
              prefix: str = "", **extra) -> Plant:
        s = self._pick_session(sessions)
        p = self.rng.choice(self._free_positions(s))
        text, span = _fill(template, values)
        self.turns[s][p] = (self.name, prefix + text)
        self.used.add((s, p))
        if (s, p - 1) not in self.used and p - 1 > 0 and self.rng.random() < 0.6:
            self.turns[s][p - 1] = (self.advisor, self.rng.choice(LEAD_INS[lead_in]))
            self.used.add((s, p - 1))
        if (s, p + 1) not in self.used and p + 1 < self.n_turns - 1 and self.rng.random() < 0.5:
            self.turns[s][p + 1] = (self.advisor, self.rng.choice(ACKS))
            self.used.add((s, p + 1))
        plant = Plant(slot, value, span, s, p, f"{self.client_id}-s{s:03d}-t{p:03d}", extra)
        self.plants.append(plant)
        return plant

    def versions(self, count: int) -> list[list[int]]:
        """Session ranges for `count` successive statements of a fact: strictly later each time."""
        n = self.n_sessions
        bounds = [round(i * n / count) for i in range(count + 1)]
        return [list(range(bounds[i], bounds[i + 1])) for i in range(count)]

    # -- questions -------------------------------------------------------------------------------------
    def who(self) -> str:
        return self.rng.choice(("the client", "the client", self.first, self.name))

    def ask(self, kind: str, template_key: str, evidence: list[Plant], answer: str, *, superseded=(), **values) -> None:
        query = self.rng.choice(Q[template_key]).format(who=self.who(), **values)
        self.questions.append({
            "qid": f"{self.client_id}-q{len(self.questions):02d}", "client_id": self.client_id, "query": query,
            "evidence": [p.turn_id for p in evidence], "kind": kind, "answer": answer,
            "answer_spans": [p.span for p in evidence], "slot": evidence[0].slot,
            "superseded": [p.turn_id for p in superseded],
        })

    def build(self) -> None:
        rng = self.rng
        changes: list[tuple[str, list[Plant]]] = []  # facts stated more than once, oldest first

        # risk tolerance: stated, then often changed (and for some, changed again)
        count = rng.choices((1, 2, 3), weights=(3, 6, 1))[0]
        levels = [rng.choice(list(RISK))]
        while len(levels) < count:
            levels.append(rng.choice([lv for lv in RISK if lv != levels[-1]]))
        risk = [self.plant("risk", "risk", sessions, rng.choice(RISK[level]), {}, level,
                           prefix=rng.choice(UPDATE_PREFIXES) if i else "")
                for i, (level, sessions) in enumerate(zip(levels, self.versions(count), strict=False))]
        changes.append(("risk", risk))

        # retirement year: usually brought forward or pushed back
        count = rng.choices((1, 2, 3), weights=(3, 6, 2))[0]
        years = [rng.randint(2030, 2042)]
        while len(years) < count:
            year = years[-1] + rng.choice((-4, -3, -2, -2, -1, 1, 2))
            if year not in years:
                years.append(year)
        retire = [self.plant("retirement", "retirement", sessions, rng.choice(RETIRE), {"year": year}, str(year),
                             prefix=rng.choice(UPDATE_PREFIXES) if i else "")
                  for i, (year, sessions) in enumerate(zip(years, self.versions(count), strict=False))]
        changes.append(("retirement", retire))

        # house budget, for about two clients in three
        if rng.random() < 0.7:
            count = rng.choices((1, 2), weights=(1, 3))[0]
            budgets = [rng.randrange(350, 950, 25) * 1000]
            if count == 2:
                budgets.append(budgets[0] + rng.choice((-100, -50, 50, 100, 150, 200)) * 1000)
            year = rng.randint(2024, 2027)
            house = []
            for i, (budget, sessions) in enumerate(zip(budgets, self.versions(count), strict=False)):
                spoken = _say_amount(rng, budget)
                house.append(self.plant("house", "house", sessions, rng.choice(HOUSE),
                                        {"amount": spoken, "year": year + i}, str(budget)))
            changes.append(("house", house))

        # employer, changed for some
        if rng.random() < 0.4:
            old, new = rng.sample(EMPLOYERS, 2)
            first, second = self.versions(2)
            employer = [self.plant("employer", "employer", first, rng.choice(EMPLOYER_OLD),
                                   {"employer": old, "n": rng.randint(2, 15)}, old),
                        self.plant("employer", "employer", second, rng.choice(EMPLOYER_NEW), {"employer": new}, new)]
            changes.append(("employer", employer))

        all_sessions = list(range(self.n_sessions))
        # holdings: two or three different securities, some sold later
        buys, sells = [], []
        for ticker in rng.sample(HOLDING_TICKERS, rng.choice((2, 2, 3))):
            names, (low, high) = _SECURITY[ticker]
            said = rng.choice(names + (ticker,))
            price = f"{rng.uniform(low, high):.2f}"
            first, second = self.versions(2)
            template = rng.choice(BUY)
            values = {"sec": said, "price": price, "price_span": f"[{price}]", "qty": rng.choice((10, 20, 25, 50, 100))}
            buy = self.plant("buy", "holding", first if rng.random() < 0.7 else all_sessions, template, values, price,
                             ticker=ticker, said=said)
            buys.append(buy)
            if rng.random() < 0.3 and buy.session < self.n_sessions - 1:
                sell_price = f"{float(price) * rng.uniform(0.8, 1.4):.2f}"
                sells.append(self.plant("sell", "holding", list(range(buy.session + 1, self.n_sessions)),
                                        rng.choice(SELL), {"sec": rng.choice(names + (ticker,)), "price": sell_price},
                                        sell_price, ticker=ticker))

        # facts that can go in any session, placed last so the time-constrained ones found room
        child = rng.choice(CHILDREN)
        college = None
        if rng.random() < 0.5:
            amount = rng.randrange(40, 250, 10) * 1000
            college = self.plant("college", "college", all_sessions, rng.choice(COLLEGE),
                                 {"amount": _say_amount(rng, amount), "child": child, "year": rng.randint(2028, 2040)},
                                 str(amount))
        years_h = rng.choice((5, 7, 10, 12, 15, 20, 25, 30))
        word = {v: k for k, v in _WORD_NUMBERS.items()}.get(years_h)
        h = f"{word} years" if word and rng.random() < 0.4 else f"{years_h} years"
        horizon = self.plant("horizon", "horizon", all_sessions, rng.choice(HORIZON),
                             {"h": h, "h_adj": f"{years_h}-year"}, str(years_h))
        exclusion_key = rng.choice(list(EXCLUSION))
        exclusion = self.plant("exclusion", "exclusion", all_sessions, rng.choice(EXCLUSION[exclusion_key]), {},
                               exclusion_key)
        preference_key = rng.choice(list(PREFERENCE))
        preference = self.plant("preference", "preference", all_sessions, rng.choice(PREFERENCE[preference_key]), {},
                                preference_key)
        concern_key = rng.choice(list(CONCERN))
        concern = self.plant("concern", "concern", all_sessions, rng.choice(CONCERN[concern_key]), {}, concern_key)
        events = []
        if rng.random() < 0.35:
            events.append(("baby", self.plant("baby", "event", all_sessions, rng.choice(BABY),
                                              {"month": rng.choice(MONTH_NAMES)}, "new baby")))
        if rng.random() < 0.35:
            amount = rng.randrange(20, 600, 10) * 1000
            events.append(("inheritance", self.plant("inheritance", "event", all_sessions, rng.choice(INHERITANCE),
                                                     {"amount": _say_amount(rng, amount)}, str(amount))))

        # -- questions --------------------------------------------------------------------------------
        keys = {"risk": ("risk_now", "risk_first", "risk_history"), "retirement": ("retire_now", "retire_first", "retire_history"),
                "house": ("house_now", "house_first", None), "employer": ("employer_now", None, None)}
        history_done = 0
        for slot, plants in changes:
            now, first_key, history_key = keys[slot]
            latest = plants[-1]
            if len(plants) == 1:
                self.ask("single-fact", now, [latest], latest.value)
                continue
            self.ask("updated-fact", now, [latest], latest.value, superseded=plants[:-1])
            if first_key and history_done < 2 and rng.random() < 0.6:
                self.ask("history", first_key, [plants[0]], plants[0].value)
                history_done += 1
            if history_key and rng.random() < 0.3:
                self.ask("multi-session", history_key, plants, " -> ".join(p.value for p in plants))
        if college:
            self.ask("single-fact", "college", [college], college.value, child=child)
        self.ask("single-fact", "horizon", [horizon], horizon.value)
        self.ask("single-fact", "exclusion", [exclusion], exclusion.value)
        self.ask("single-fact", "preference", [preference], preference.value)
        self.ask("single-fact", "concern", [concern], concern.value)
        for key, event in events:
            self.ask("single-fact", key, [event], event.value)
        for buy in buys:
            names, _ = _SECURITY[buy.extra["ticker"]]
            # ask with another name than the one spoken when there is one ("MSFT" -> "Microsoft")
            others = [n for n in names + (buy.extra["ticker"],) if n != buy.extra["said"]] or list(names)
            self.ask("security-price", "buy", [buy], buy.value, sec=rng.choice(others if rng.random() < 0.7 else names))
        for sell in sells:
            self.ask("security-price", "sell", [sell], sell.value, sec=_SECURITY[sell.extra["ticker"]][0][0])
        if len({b.session for b in buys}) > 1:
            self.ask("multi-session", "holdings_all", buys, ", ".join(sorted(b.extra["ticker"] for b in buys)))
        # temporal: what was said about a topic in the month of one session (months are distinct per client)
        topical = [p for p in self.plants if p.slot in TOPIC_WORDS]
        for plant in rng.sample(topical, min(2, len(topical))):
            month = f"{self.dates[plant.session]:%B %Y}"
            self.ask("temporal", "temporal", [plant], plant.value, topic=TOPIC_WORDS[plant.slot], month=month)

    # -- output ---------------------------------------------------------------------------------------
    def sessions(self) -> list[dict]:
        out = []
        for s in range(self.n_sessions):
            session_id = f"{self.client_id}-s{s:03d}"
            started = self.dates[s]
            with_times = self.rng.random() < 0.85  # some records are notes without per-turn times ("at" is optional)
            turns, at = [], started
            for t, (speaker, text) in enumerate(self.turns[s]):
                turn = {"turn_id": f"{session_id}-t{t:03d}", "speaker": speaker, "text": text}
                if with_times:
                    turn["at"] = at.isoformat().replace("+00:00", "Z")
                    step = self.rng.randint(600, 7200) if self.channels[s] == "email" else self.rng.randint(15, 120)
                    at += timedelta(seconds=step)
                turns.append(turn)
            out.append({
                "client_id": self.client_id, "session_id": session_id, "channel": self.channels[s],
                "started_at": started.isoformat().replace("+00:00", "Z"),
                "participants": {self.advisor: "advisor", self.name: "client"},
                "turns": turns,
            })
        return out


def generate(seed: int = 7, clients: int = 20, sessions_per_client: int = 12, turns_per_session: int = 30, *,
             first_client: int = 0, id_prefix: str = "cl") -> Corpus:
    """A corpus of `clients` clients (ids `{id_prefix}{index:05d}` from `first_client`) with gold questions."""
    corpus = Corpus(seed=seed)
    for index in range(first_client, first_client + clients):
        builder = _ClientBuilder(random.Random(f"{seed}/{index}"), index, id_prefix, sessions_per_client,
                                 turns_per_session)
        builder.build()
        corpus.sessions.extend(builder.sessions())
        corpus.questions.extend(builder.questions)
    return corpus


def write(corpus: Corpus, directory: str | Path) -> Path:
    """sessions.jsonl (the import contract), questions.jsonl (`memory_search --queries`), gold.jsonl."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "sessions.jsonl", "w") as out:
        for session in corpus.sessions:
            out.write(json.dumps(session) + "\n")
    with open(directory / "questions.jsonl", "w") as out:
        for q in corpus.questions:
            out.write(json.dumps({"qid": q["qid"], "client_id": q["client_id"], "query": q["query"]}) + "\n")
    with open(directory / "gold.jsonl", "w") as out:
        for q in corpus.questions:
            out.write(json.dumps(q) + "\n")
    return directory


def load(directory: str | Path, seed: int = -1) -> Corpus:
    directory = Path(directory)
    read = lambda name: [json.loads(line) for line in open(directory / name) if line.strip()]  # noqa: E731
    return Corpus(seed=seed, sessions=read("sessions.jsonl"), questions=read("gold.jsonl"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a seeded advisor corpus with gold answers.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    corpus = generate(args.seed, args.clients, args.sessions, args.turns)
    path = write(corpus, args.out)
    print(f"{len(corpus.sessions)} sessions, {corpus.turn_count} turns, {len(corpus.questions)} questions -> {path}")


if __name__ == "__main__":
    main()
