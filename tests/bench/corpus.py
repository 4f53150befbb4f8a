"""A seeded synthetic advisor corpus with gold answers.

Each client has sessions of small talk and market chat (sharing the vocabulary of the facts, so
keyword search is not trivially right), with facts planted at known turns, phrased in varied ways,
and later updated or contradicted. Questions paraphrase the facts; their evidence is the turn that
states the current answer (or, for history questions, the original one).
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

FIRST = ["Ann", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jamal", "Kira", "Liam", "Maya",
         "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Wes", "Xia", "Yusuf", "Zoe"]
LAST = ["Carter", "Okafor", "Lindqvist", "Patel", "Rossi", "Haddad", "Kim", "Moreau", "Silva", "Brown", "Novak",
        "Murphy", "Cohen", "Tanaka", "Petrova", "Garcia"]
FILLER = [
    "The markets were quite choppy this week, {name}.",
    "How was the trip to the coast? The weather looked lovely.",
    "We rebalanced the portfolio last quarter, nothing dramatic.",
    "I read that tech stocks had a rough month, but it evens out.",
    "Retirement planning is something everyone thinks about eventually.",
    "My neighbour keeps talking about risk and crypto, it's exhausting.",
    "Interest rates were in the news again this morning.",
    "The kids are busy with school and football practice.",
    "Let's review the quarterly statement together.",
    "Apple and Microsoft both reported earnings recently.",
    "Bond yields moved a little, which affects the balanced funds.",
    "I saw an article about house prices in the city.",
    "Fees on the old pension were higher than I expected.",
    "We should look at the tax wrapper before the end of the year.",
    "The dividend came in on time last month.",
    "Inflation numbers were published yesterday, slightly lower.",
    "I'm thinking of redecorating the kitchen this summer.",
    "Our savings account rate dropped again.",
    "Let me share the performance summary on screen.",
    "Diversification is why the portfolio held up well.",
]
RISK_PHRASES = {
    "moderate": ["I'm comfortable with moderate risk, some ups and downs are fine.",
                 "A balanced approach suits me, middle of the road on risk."],
    "conservative": ["Honestly I can't stomach big losses any more, let's keep things safe and conservative.",
                     "After this year I'd rather play it safe, I don't want to take much risk."],
    "aggressive": ["I'm fine with volatility, let's go aggressive for growth.",
                   "Put me down as high-risk, I want to maximise growth."],
}
RETIRE_PHRASES = ["I want to retire in {year}.", "My plan is to stop working in {year} if the numbers allow.",
                  "Retirement in {year} is what I'm aiming for."]
HOUSE_PHRASES = ["We're saving for a house deposit of ${amount:,} by {year}.",
                 "The plan is to buy a home around {year}, budget about ${amount:,} for the deposit."]
EXCLUSIONS = [("tobacco", "Please, no tobacco companies in my portfolio."),
              ("fossil_fuels", "I don't want anything to do with oil and coal."),
              ("weapons", "Avoid weapons manufacturers, that's important to me.")]
PREFERENCES = [("etfs", "I prefer ETFs and index funds, low cost and simple."),
               ("dividends", "I like companies that pay a steady dividend."),
               ("esg", "I'm interested in ESG and sustainable funds.")]
CONCERNS = [("inflation", "I'm worried about inflation eating my savings."),
            ("job_security", "I'm anxious about job security, there were layoffs at work."),
            ("market_drop", "I'm nervous about a market crash this year.")]
EVENTS = [("new_child", "We had a baby in the spring, life is different now."),
          ("inheritance", "I inherited some money from my aunt last month."),
          ("new_job", "I got a new job with a better salary.")]
HOLDINGS = [("AAPL", "Apple"), ("MSFT", "Microsoft"), ("IBM", "IBM"), ("GOOG", "Google")]


@dataclass
class Corpus:
    sessions: list[dict] = field(default_factory=list)
    questions: list[dict] = field(default_factory=list)


def generate(seed: int = 7, clients: int = 20, sessions_per_client: int = 12, turns_per_session: int = 30) -> Corpus:
    rng = random.Random(seed)
    corpus = Corpus()
    for c in range(clients):
        name = f"{FIRST[c % len(FIRST)]} {LAST[(c * 7) % len(LAST)]}"
        client_id = f"c{c:05d}"
        _client(rng, corpus, client_id, name, sessions_per_client, turns_per_session)
    return corpus


def _client(rng: random.Random, corpus: Corpus, client_id: str, name: str, n_sessions: int, n_turns: int) -> None:
    first = name.split()[0]
    start = datetime(2022, 1, 10, 10, tzinfo=timezone.utc) + timedelta(days=rng.randint(0, 60))
    dates = [start + timedelta(days=90 * i + rng.randint(0, 20)) for i in range(n_sessions)]
    turns: list[list[tuple[str, str]]] = []
    for _ in range(n_sessions):
        turns.append([(("Alex Morgan" if t % 2 == 0 else name), rng.choice(FILLER).format(name=first))
                      for t in range(n_turns)])
    plants: dict[str, list[tuple[int, int, str]]] = {}

    def plant(kind: str, session: int, text: str) -> tuple[int, int]:
        slot = rng.randrange(1, n_turns, 2)  # client turns are odd positions
        while turns[session][slot][1] in {p[2] for ps in plants.values() for p in ps}:
            slot = rng.randrange(1, n_turns, 2)
        turns[session][slot] = (name, text)
        plants.setdefault(kind, []).append((session, slot, text))
        return session, slot

    early, late = range(0, n_sessions // 2), range(n_sessions // 2, n_sessions)
    risk_old, risk_new = rng.sample(list(RISK_PHRASES), 2)
    plant("risk_old", rng.choice(early), rng.choice(RISK_PHRASES[risk_old]))
    plant("risk_new", rng.choice(late), rng.choice(RISK_PHRASES[risk_new]))
    year_old = rng.randint(2034, 2040)
    year_new = year_old - rng.randint(1, 3)
    plant("retire_old", rng.choice(early), rng.choice(RETIRE_PHRASES).format(year=year_old))
    plant("retire_new", rng.choice(late), rng.choice(RETIRE_PHRASES).format(year=year_new))
    house_old, house_new = rng.choice([60_000, 80_000, 100_000]), rng.choice([120_000, 150_000])
    house_year = rng.randint(2025, 2028)
    plant("house_old", rng.choice(early), rng.choice(HOUSE_PHRASES).format(amount=house_old, year=house_year))
    plant("house_new", rng.choice(late), rng.choice(HOUSE_PHRASES).format(amount=house_new, year=house_year + 1))
    exclusion = rng.choice(EXCLUSIONS)
    plant("exclusion", rng.randrange(n_sessions), exclusion[1])
    preference = rng.choice(PREFERENCES)
    plant("preference", rng.randrange(n_sessions), preference[1])
    concern = rng.choice(CONCERNS)
    plant("concern", rng.randrange(n_sessions), concern[1])
    event = rng.choice(EVENTS)
    plant("event", rng.randrange(n_sessions), event[1])
    symbol, company = rng.choice(HOLDINGS)
    price = round(rng.uniform(50, 400), 2)
    plant("holding", rng.randrange(n_sessions), f"I bought {company} at ${price} and I'm holding it for now.")

    for s in range(n_sessions):
        session_id = f"{client_id}-s{s:03d}"
        corpus.sessions.append({
            "client_id": client_id, "session_id": session_id, "channel": "meeting",
            "started_at": dates[s].isoformat().replace("+00:00", "Z"),
            "participants": {"Alex Morgan": "advisor", name: "client"},
            "turns": [{"turn_id": f"{session_id}-t{t:03d}", "speaker": who, "text": text}
                      for t, (who, text) in enumerate(turns[s])],
        })

    def tid(kind: str, index: int = 0) -> str:
        session, slot, _ = plants[kind][index]
        return f"{client_id}-s{session:03d}-t{slot:03d}"

    def ask(kind: str, query: str, evidence_kind: str, answer: str) -> None:
        corpus.questions.append({"qid": f"{client_id}-{len([q for q in corpus.questions if q['client_id'] == client_id])}",
                                 "client_id": client_id, "query": query, "evidence": [tid(evidence_kind)],
                                 "kind": kind, "answer": answer})

    ask("updated-fact", f"How much risk is {first} willing to take these days?", "risk_new", risk_new)
    ask("updated-fact", "What year does the client currently plan to retire?", "retire_new", str(year_new))
    ask("updated-fact", "What is the latest budget for the home deposit?", "house_new", f"{house_new:,}")
    ask("history", "Which retirement year did the client mention originally, before changing plans?", "retire_old",
        str(year_old))
    ask("single-fact", "Are there any sectors the client refuses to invest in?", "exclusion", exclusion[0])
    ask("single-fact", "What kind of investments does the client favour?", "preference", preference[0])
    ask("single-fact", "What is worrying the client?", "concern", concern[0])
    ask("single-fact", "Has anything changed in the client's family or finances recently?", "event", event[0])
    ask("security-price", f"At what price did the client buy {company}?", "holding", str(price))
    session, _, _ = plants["house_new"][0]
    ask("temporal", f"What did we discuss about the house in {dates[session]:%B %Y}?", "house_new", f"{house_new:,}")


def write(corpus: Corpus, directory: Path) -> None:
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
