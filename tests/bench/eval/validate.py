"""Check the hand-written evaluation sets in this directory.

python tests/bench/eval/validate.py   -> prints counts, exits 1 on the first list of problems.
Checks: JSON parses, ids unique, shapes follow the import contract, evidence turns exist,
every advice kind is covered >= 3 times as expected and as forbidden, and the scenario numbers
(weights, price moves, viewpoint flips) really say what expected/forbidden claim.
"""
import json
import re
import sys
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = ["decline", "exclusion_breach", "concentration", "risk_mismatch", "goal_due",
         "life_event_review", "price_move", "analyst_view", "viewpoint_reversal", "memory"]
CATEGORIES = ["paraphrase", "original_value", "current_value", "date", "price", "multi_session", "detail"]
CHANNELS = {"meeting", "call", "chat", "email"}
SYMBOLS = {"AAPL", "IBM", "MSFT", "GOOG", "FB", "JNJ", "KO", "XOM", "PFE", "PG", "WMT", "JPM", "CVX",
           "PM", "MO", "LMT", "GD", "BA", "T", "INTC"}
# two plausible sector groupings; "no concentration" must hold under both
SECTOR_A = {"AAPL": "tech", "MSFT": "tech", "IBM": "tech", "INTC": "tech", "GOOG": "comm", "FB": "comm",
            "T": "comm", "JNJ": "health", "PFE": "health", "KO": "staples", "PG": "staples", "WMT": "staples",
            "PM": "staples", "MO": "staples", "XOM": "energy", "CVX": "energy", "JPM": "fin", "LMT": "ind",
            "GD": "ind", "BA": "ind"}
SECTOR_B = dict(SECTOR_A, GOOG="tech", FB="tech")
ALIASES = {"AAPL": ["apple"], "MSFT": ["microsoft"], "GOOG": ["google", "alphabet"], "FB": ["facebook", "meta"],
           "IBM": ["ibm"], "KO": ["coca-cola", "coke"], "JNJ": ["johnson"], "PG": ["procter", "p&g"],
           "BA": ["boeing"], "XOM": ["exxon"], "INTC": ["intel"], "JPM": ["jpmorgan"]}
THRESHOLD = 0.25

problems = []


def bad(msg):
    problems.append(msg)


def parse_ts(value, where):
    if not isinstance(value, str) or not value.endswith("Z"):
        bad(f"{where}: started_at must be ISO 8601 with Z: {value!r}")
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        bad(f"{where}: bad timestamp {value!r}")
        return None


def check_session(s, where, years=None):
    for key in ("client_id", "session_id", "channel", "started_at", "participants", "turns"):
        if key not in s:
            bad(f"{where}: missing {key}")
            return None
    if s["channel"] not in CHANNELS:
        bad(f"{where}: channel {s['channel']}")
    ts = parse_ts(s["started_at"], where)
    if ts and years and not (years[0] <= ts.year <= years[1]):
        bad(f"{where}: year {ts.year} outside {years}")
    roles = s["participants"]
    if set(roles.values()) - {"advisor", "client"} or "advisor" not in roles.values() or "client" not in roles.values():
        bad(f"{where}: participants roles {roles}")
    ids = [t["turn_id"] for t in s["turns"]]
    if len(ids) != len(set(ids)):
        bad(f"{where}: duplicate turn ids")
    for t in s["turns"]:
        if t["speaker"] not in roles:
            bad(f"{where}/{t['turn_id']}: speaker {t['speaker']} not a participant")
        if not t["text"].strip():
            bad(f"{where}/{t['turn_id']}: empty text")
    return ts


def check_retrieval():
    sessions = {}
    per_client = defaultdict(list)
    with open(HERE / "advisor_conversations.jsonl") as fh:
        for n, line in enumerate(fh, 1):
            s = json.loads(line)
            where = f"conversations:{n}"
            ts = check_session(s, where, years=(2021, 2025))
            key = (s["client_id"], s["session_id"])
            if key in sessions:
                bad(f"{where}: duplicate session {key}")
            sessions[key] = s
            per_client[s["client_id"]].append(ts)
            if not 8 <= len(s["turns"]) <= 30:
                bad(f"{where}: {len(s['turns'])} turns")
    if len(per_client) < 30:
        bad(f"only {len(per_client)} clients")
    for cid, stamps in per_client.items():
        if not 3 <= len(stamps) <= 6:
            bad(f"{cid}: {len(stamps)} sessions")
        stamps = [t for t in stamps if t]
        span = (max(stamps) - min(stamps)).days
        if not 365 <= span <= 3 * 366:
            bad(f"{cid}: sessions span {span} days")
    queries = [json.loads(line) for line in open(HERE / "advisor_queries.jsonl")]
    qids = Counter(q["qid"] for q in queries)
    for qid, n in qids.items():
        if n > 1:
            bad(f"duplicate qid {qid}")
    cats = Counter()
    for q in queries:
        cats[q["category"]] += 1
        if q["category"] not in CATEGORIES:
            bad(f"{q['qid']}: category {q['category']}")
        if q["client_id"] not in per_client:
            bad(f"{q['qid']}: unknown client")
        if not q["query"].strip() or not q["evidence"]:
            bad(f"{q['qid']}: empty query or evidence")
        for ev in q["evidence"]:
            s = sessions.get((q["client_id"], ev["session_id"]))
            if not s or ev["turn_id"] not in {t["turn_id"] for t in s["turns"]}:
                bad(f"{q['qid']}: evidence {ev} does not exist")
        if len(q["evidence"]) != len({(e["session_id"], e["turn_id"]) for e in q["evidence"]}):
            bad(f"{q['qid']}: duplicate evidence")
        if q["category"] == "multi_session" and len({e["session_id"] for e in q["evidence"]}) < 2:
            bad(f"{q['qid']}: multi_session evidence within one session")
    if len(queries) < 250:
        bad(f"only {len(queries)} queries")
    for c in CATEGORIES:
        if cats[c] < 25:
            bad(f"category {c}: only {cats[c]}")
    return len(per_client), len(sessions), sum(len(s["turns"]) for s in sessions.values()), len(queries), cats


def weights(sc):
    values = {h["symbol"]: h["quantity"] * sc["quotes"][h["symbol"]] for h in sc["holdings"]}
    total = sum(values.values())
    return {k: v / total for k, v in values.items()}


def remembered_prices(sc, symbol):
    found = []
    for s in sc["sessions"]:
        for t in s["turns"]:
            text = t["text"].lower()
            for alias in ALIASES.get(symbol, [symbol.lower()]):
                pos = text.find(alias)
                if pos >= 0:  # the first "at N" after the name is the price said for it
                    m = re.search(r"\bat (\d+(?:\.\d+)?)\b", text[pos:])
                    if m:
                        found.append(float(m.group(1)))
    return found


def check_scenarios():
    data = json.loads((HERE / "twin_scenarios.json").read_text())
    if len(data) < 30:
        bad(f"only {len(data)} scenarios")
    ids = Counter(sc["id"] for sc in data)
    for i, n in ids.items():
        if n > 1:
            bad(f"duplicate scenario id {i}")
    exp, forb = Counter(), Counter()
    for sc in data:
        w = f"scenario {sc['id']}"
        for key in ("id", "description", "client", "sessions", "holdings", "quotes", "viewpoints",
                    "question", "expected", "forbidden"):
            if key not in sc:
                bad(f"{w}: missing {key}")
        sids = Counter(s["session_id"] for s in sc["sessions"])
        if any(n > 1 for n in sids.values()):
            bad(f"{w}: duplicate session ids")
        for s in sc["sessions"]:
            check_session(s, f"{w}/{s.get('session_id')}")
            if s["client_id"] != sc["client"]["client_id"]:
                bad(f"{w}: session client_id mismatch")
        held = {h["symbol"] for h in sc["holdings"]}
        for sym in held:
            if sym not in SYMBOLS:
                bad(f"{w}: holding {sym} not allowed")
            if sym not in sc["quotes"]:
                bad(f"{w}: no quote for {sym}")
        views = defaultdict(list)
        for v in sc["viewpoints"]:
            if v["stance"] not in ("buy", "hold", "sell"):
                bad(f"{w}: stance {v['stance']}")
            if v["symbol"] not in sc["quotes"]:
                bad(f"{w}: no quote for viewpoint {v['symbol']}")
            parse_ts(v["published_at"], w)
            views[v["symbol"]].append(v)
        pairs_e = {(e["kind"], e["about"]) for e in sc["expected"]}
        pairs_f = {(e["kind"], e["about"]) for e in sc["forbidden"]}
        if pairs_e & pairs_f:
            bad(f"{w}: both expected and forbidden: {pairs_e & pairs_f}")
        wt = weights(sc) if sc["holdings"] else {}
        for label, items in (("expected", sc["expected"]), ("forbidden", sc["forbidden"])):
            for e in items:
                kind, about = e["kind"], e["about"]
                if kind not in KINDS:
                    bad(f"{w}: unknown kind {kind}")
                    continue
                (exp if label == "expected" else forb)[kind] += 1
                if kind == "concentration":
                    if label == "expected" and wt.get(about, 0) < THRESHOLD + 0.10:
                        bad(f"{w}: concentration {about} only {wt.get(about, 0):.0%}")
                    if label == "forbidden":
                        for mapping in (SECTOR_A, SECTOR_B):
                            sectors = Counter()
                            for sym, x in wt.items():
                                sectors[mapping[sym]] += x
                            if max(wt.values()) > 0.22 or max(sectors.values()) > 0.22:
                                bad(f"{w}: forbidden concentration but max {max(wt.values()):.0%}"
                                    f" / sector {max(sectors.values()):.0%}")
                if kind == "price_move":
                    seen = remembered_prices(sc, about)
                    if not seen:
                        bad(f"{w}: price_move {about}: no remembered price found")
                    for p in seen:
                        move = sc["quotes"][about] / p - 1
                        if label == "expected" and abs(move) < 0.10:
                            bad(f"{w}: expected move on {about} only {move:+.1%}")
                        if label == "forbidden" and abs(move) > 0.03:
                            bad(f"{w}: forbidden move on {about} is {move:+.1%}")
                if kind == "exclusion_breach" and label == "expected" and about not in held:
                    bad(f"{w}: breach on {about} not held")
                if kind == "analyst_view":
                    if label == "expected" and (about not in held or not views.get(about)):
                        bad(f"{w}: analyst_view {about} needs a held name with a viewpoint")
                    if label == "forbidden" and about in held:
                        bad(f"{w}: analyst_view forbidden on held {about}")
                if kind == "viewpoint_reversal":
                    vs = sorted(views.get(about, []), key=lambda v: v["published_at"])
                    flips = any({a["stance"], b["stance"]} == {"buy", "sell"} for a, b in zip(vs, vs[1:], strict=False))
                    if label == "expected" and not flips:
                        bad(f"{w}: no buy/sell flip on {about}")
                    if label == "forbidden" and flips and about in held:
                        bad(f"{w}: forbidden reversal on held {about} flips")
    for k in KINDS:
        if exp[k] < 3 or forb[k] < 3:
            bad(f"kind {k}: expected {exp[k]}, forbidden {forb[k]}")
    return len(data), exp, forb


def main():
    clients, sessions, turns, nq, cats = check_retrieval()
    nsc, exp, forb = check_scenarios()
    print(f"retrieval: {clients} clients, {sessions} sessions, {turns} turns, {nq} queries")
    for c in CATEGORIES:
        print(f"  {c:15s} {cats[c]}")
    print(f"scenarios: {nsc}")
    print(f"  {'kind':20s} expected forbidden")
    for k in KINDS:
        print(f"  {k:20s} {exp[k]:8d} {forb[k]:9d}")
    if problems:
        print(f"\n{len(problems)} problem(s):")
        for p in problems:
            print("  " + p)
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
