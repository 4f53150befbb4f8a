"""Build the evaluation files from the hand-written sources in ./source.

Source format (one directive per line, blank lines and '//' comments ignored):

  CLIENT <client_id> | <client name> | <advisor name> [| <second client name>]
  SESSION <session_id> | <channel> | <started_at ISO Z>
  A: text                 advisor turn        (A #label: text  gives the turn a label)
  C: text                 client turn
  P: text                 second client (partner) turn
  Q <category> | <query> | <session_id>#<label> [<session_id>#<label> ...]
  X <qid> <session_id>@<turn_id> ...   extra gold turns for an already numbered query

Scenario sources additionally use, before their sessions:

  SCENARIO <id> | <client_id> | <client name> | <advisor name> [| <second client name>]
  DESC text
  ASOF ISO            (optional evaluation date; stored as "as_of")
  HOLD SYM qty, SYM qty
  QUOTE SYM price, SYM price
  VIEW SYM | stance | target | published_at | rationale
  QUESTION text       ("-" for an advisor's meeting brief -> null)
  EXPECT kind about; kind about
  FORBID kind about; kind about

Run:  python tests/bench/eval/build.py   (writes the three data files next to this script)
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _session_builder(sid, channel, started, people):
    return {"session_id": sid, "channel": channel, "started_at": started,
            "participants": {name: role for name, role in people}, "turns": [], "_labels": {}}


def parse(path):
    clients, scenarios, queries, extra = [], [], [], []
    cur = None          # current client / scenario dict
    sess = None
    names = {}
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("//"):
            continue
        try:
            if line.startswith("CLIENT ") or line.startswith("SCENARIO "):
                head, rest = line.split(" ", 1)
                parts = [p.strip() for p in rest.split("|")]
                if head == "CLIENT":
                    cid, cname, adv = parts[:3]
                    cur = {"client_id": cid, "name": cname, "sessions": [], "kind": "client"}
                    clients.append(cur)
                else:
                    scid, cid, cname, adv = parts[:4]
                    parts = parts[1:]
                    cur = {"id": scid, "client_id": cid, "name": cname, "sessions": [], "kind": "scenario",
                           "holdings": [], "quotes": {}, "viewpoints": [], "expected": [], "forbidden": [],
                           "question": None, "description": ""}
                    scenarios.append(cur)
                partner = parts[3] if len(parts) > 3 else None
                names = {"A": adv, "C": cname, "P": partner}
                sess = None
            elif line.startswith("SESSION "):
                sid, channel, started = [p.strip() for p in line[8:].split("|")]
                people = [(names["A"], "advisor"), (names["C"], "client")]
                sess = _session_builder(sid, channel, started, people)
                cur["sessions"].append(sess)
            elif line[:2] in ("A:", "C:", "P:") or (line[0] in "ACP" and line[1:3] == " #"):
                code = line[0]
                label = None
                if line[1:3] == " #":
                    label, text = line[3:].split(":", 1)
                    label = label.strip()
                else:
                    text = line[2:]
                speaker = names[code]
                if speaker is None:
                    raise ValueError("no partner declared")
                sess["participants"].setdefault(speaker, "advisor" if code == "A" else "client")
                tid = f"t{len(sess['turns']) + 1}"
                sess["turns"].append({"turn_id": tid, "speaker": speaker, "text": text.strip()})
                if label:
                    if label in sess["_labels"]:
                        raise ValueError(f"duplicate label {label}")
                    sess["_labels"][label] = tid
            elif line.startswith("X "):
                qid, *refs = line[2:].split()
                extra.append((qid, refs))
            elif line.startswith("Q "):
                cat, query, ev = [p.strip() for p in line[2:].split("|")]
                queries.append({"client": cur, "category": cat, "query": query, "ev": ev.split(), "line": lineno})
            elif line.startswith("DESC "):
                cur["description"] = line[5:].strip()
            elif line.startswith("ASOF "):
                cur["as_of"] = line[5:].strip()
            elif line.startswith("HOLD "):
                for item in line[5:].split(","):
                    sym, qty = item.split()
                    cur["holdings"].append({"symbol": sym, "quantity": float(qty) if "." in qty else int(qty)})
            elif line.startswith("QUOTE "):
                for item in line[6:].split(","):
                    sym, px = item.split()
                    cur["quotes"][sym] = float(px)
            elif line.startswith("VIEW "):
                sym, stance, target, pub, why = [p.strip() for p in line[5:].split("|")]
                cur["viewpoints"].append({"symbol": sym, "stance": stance, "target_price": float(target),
                                          "published_at": pub, "rationale": why})
            elif line.startswith("QUESTION "):
                q = line[9:].strip()
                cur["question"] = None if q == "-" else q
            elif line.split()[0] in ("EXPECT", "FORBID"):
                key = "expected" if line.startswith("EXPECT") else "forbidden"
                for item in line[6:].split(";"):
                    if item.strip():
                        kind, about = item.strip().split(" ", 1)
                        cur[key].append({"kind": kind, "about": about.strip()})
            else:
                raise ValueError("unrecognised line")
        except Exception as exc:  # pragma: no cover - authoring aid
            sys.exit(f"{path.name}:{lineno}: {exc}: {raw}")
    return clients, scenarios, queries, extra


def add_extra(resolved, extra, clients):
    by_qid = {q["qid"]: q for q in resolved}
    sessions = {(c["client_id"], s["session_id"]): s for c in clients for s in c["sessions"]}
    for qid, refs in extra:
        q = by_qid[qid]
        for ref in refs:
            sid, tid = ref.split("@")
            if not any(t["turn_id"] == tid for t in sessions[(q["client_id"], sid)]["turns"]):
                sys.exit(f"extra evidence {qid} {ref} does not exist")
            item = {"session_id": sid, "turn_id": tid}
            if item in q["evidence"]:
                sys.exit(f"extra evidence {qid} {ref} already listed")
            q["evidence"].append(item)
        q["evidence"].sort(key=lambda e: (e["session_id"], int(e["turn_id"][1:])))


def resolve(queries):
    out = []
    counters = {}
    for q in queries:
        client = q["client"]
        by_id = {s["session_id"]: s for s in client["sessions"]}
        ev = []
        for ref in q["ev"]:
            sid, label = ref.split("#")
            sess = by_id[sid]
            tid = sess["_labels"].get(label)
            if tid is None:
                sys.exit(f"line {q['line']}: unknown evidence {ref}")
            ev.append({"session_id": sid, "turn_id": tid})
        n = counters.get(client["client_id"], 0) + 1
        counters[client["client_id"]] = n
        out.append({"qid": f"{client['client_id']}-q{n:02d}", "client_id": client["client_id"],
                    "query": q["query"], "category": q["category"], "evidence": ev})
    return out


def session_json(client_id, s):
    return {"client_id": client_id, "session_id": s["session_id"], "channel": s["channel"],
            "started_at": s["started_at"], "participants": s["participants"], "turns": s["turns"]}


def main():
    clients, scenarios, queries, extra = [], [], [], []
    for path in sorted((HERE / "source").glob("*.txt")):
        c, s, q, x = parse(path)
        clients += c
        scenarios += s
        queries += q
        extra += x
    with open(HERE / "advisor_conversations.jsonl", "w") as fh:
        for c in clients:
            for s in sorted(c["sessions"], key=lambda s: s["started_at"]):
                fh.write(json.dumps(session_json(c["client_id"], s), ensure_ascii=False) + "\n")
    resolved = resolve(queries)
    add_extra(resolved, extra, clients)
    with open(HERE / "advisor_queries.jsonl", "w") as fh:
        for q in resolved:
            fh.write(json.dumps(q, ensure_ascii=False) + "\n")
    out = []
    for sc in scenarios:
        item = {"id": sc["id"], "description": sc["description"],
                "client": {"client_id": sc["client_id"], "name": sc["name"]},
                "sessions": [session_json(sc["client_id"], s) for s in sc["sessions"]],
                "holdings": sc["holdings"], "quotes": sc["quotes"], "viewpoints": sc["viewpoints"],
                "question": sc["question"], "expected": sc["expected"], "forbidden": sc["forbidden"]}
        if "as_of" in sc:
            item["as_of"] = sc["as_of"]
        out.append(item)
    (HERE / "twin_scenarios.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(clients)} clients, {sum(len(c['sessions']) for c in clients)} sessions, "
          f"{len(queries)} queries, {len(out)} scenarios")


if __name__ == "__main__":
    main()
