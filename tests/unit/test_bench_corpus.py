"""The benchmark corpus: deterministic, importable, and its gold answers are right."""
from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime

import pytest

from tests.bench.corpus import KINDS, generate, load, value_of, write

CHANNELS = {"meeting", "call", "chat", "email", "other"}
NUMERIC_SLOTS = {"house", "college", "inheritance", "horizon"}
VERBATIM_SLOTS = {"retirement", "buy", "sell", "employer"}  # the answer itself is written in the turn


@pytest.fixture(scope="module")
def corpus():
    return generate(seed=7, clients=12, sessions_per_client=10, turns_per_session=24)


@pytest.fixture(scope="module")
def turns(corpus):
    return corpus.turns_by_id()


def when(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, value
    return parsed


def test_the_same_seed_gives_the_same_corpus_and_another_seed_a_different_one():
    first, again, other = generate(3, 4, 6, 16), generate(3, 4, 6, 16), generate(4, 4, 6, 16)

    assert first.sessions == again.sessions and first.questions == again.questions
    assert first.sessions != other.sessions


def test_a_client_is_the_same_whatever_the_number_of_clients_generated():
    small, large = generate(5, 2, 6, 16), generate(5, 5, 6, 16)

    assert large.sessions[: len(small.sessions)] == small.sessions
    assert large.questions[: len(small.questions)] == small.questions


def test_every_question_kind_is_asked(corpus):
    assert set(Counter(q["kind"] for q in corpus.questions)) == set(KINDS)


def test_evidence_turns_exist_are_said_by_the_client_and_contain_the_answer(corpus, turns):
    for q in corpus.questions:
        assert q["evidence"] and len(q["evidence"]) == len(q["answer_spans"]), q["qid"]
        for turn_id, span in zip(q["evidence"], q["answer_spans"], strict=True):
            session, turn = turns[turn_id]
            assert session["client_id"] == q["client_id"], q["qid"]
            assert session["participants"][turn["speaker"]] == "client", q["qid"]
            assert span in turn["text"], (q["qid"], span, turn["text"])
        if len(q["evidence"]) == 1 and q["slot"] in NUMERIC_SLOTS:
            assert value_of(q["slot"], q["answer_spans"][0]) == q["answer"], q
        if len(q["evidence"]) == 1 and q["slot"] in VERBATIM_SLOTS:
            assert q["answer"] in turns[q["evidence"][0]][1]["text"], q


def test_questions_paraphrase_rather_than_copy_the_planted_words(corpus):
    for q in corpus.questions:
        for span in q["answer_spans"]:
            assert span.lower() not in q["query"].lower(), (q["query"], span)


def test_an_updated_fact_points_at_the_latest_statement_in_a_later_session(corpus, turns):
    updated = [q for q in corpus.questions if q["kind"] == "updated-fact"]
    assert len(updated) >= len({q["client_id"] for q in corpus.questions})  # about one per client or more
    for q in updated:
        assert q["superseded"], q["qid"]
        latest = when(turns[q["evidence"][0]][0]["started_at"])
        older = [when(turns[t][0]["started_at"]) for t in q["superseded"]]
        assert all(at < latest for at in older), q["qid"]
        # the statement it replaces says something else
        assert q["answer_spans"][0] not in turns[q["superseded"][-1]][1]["text"], q["qid"]


def test_a_history_question_points_at_the_first_statement(corpus, turns):
    history = [q for q in corpus.questions if q["kind"] == "history"]
    assert history
    for q in history:
        current = next(u for u in corpus.questions if u["kind"] == "updated-fact" and u["client_id"] == q["client_id"]
                       and u["slot"] == q["slot"])
        assert current["superseded"][0] == q["evidence"][0]
        assert when(turns[q["evidence"][0]][0]["started_at"]) < when(turns[current["evidence"][0]][0]["started_at"])


def test_a_temporal_question_names_the_month_of_its_evidence_session(corpus, turns):
    for q in (q for q in corpus.questions if q["kind"] == "temporal"):
        started = when(turns[q["evidence"][0]][0]["started_at"])
        assert f"{started:%B %Y}" in q["query"], q["query"]


def test_multi_session_questions_draw_on_several_sessions(corpus, turns):
    multi = [q for q in corpus.questions if q["kind"] == "multi-session"]
    assert multi
    for q in multi:
        assert len({turns[t][0]["session_id"] for t in q["evidence"]}) >= 2, q["qid"]


def test_sessions_are_spread_over_about_three_years_in_distinct_months_per_client(corpus):
    by_client: dict[str, list[datetime]] = {}
    for session in corpus.sessions:
        by_client.setdefault(session["client_id"], []).append(when(session["started_at"]))
    for dates in by_client.values():
        assert dates == sorted(dates)
        assert len({(d.year, d.month) for d in dates}) == len(dates)
    everything = [d for dates in by_client.values() for d in dates]
    assert (max(everything) - min(everything)).days > 2.5 * 365


def test_most_turns_are_filler_sharing_the_vocabulary_of_the_facts(corpus):
    texts = [t["text"].lower() for s in corpus.sessions for t in s["turns"]]
    evidence = {t for q in corpus.questions for t in q["evidence"]}
    assert len(evidence) < 0.15 * len(texts)
    for word in ("retire", "risk", "portfolio", "house"):
        assert sum(word in text for text in texts) > 40, word
    assert any(re.search(r"\b(?:Apple|AAPL|Microsoft|MSFT|IBM|GOOG|Google|FB|Facebook)\b", t["text"])
               for s in corpus.sessions for t in s["turns"])


def test_written_lines_follow_the_import_and_query_contracts(corpus, tmp_path):
    write(corpus, tmp_path)
    seen_turns: set[str] = set()
    sessions = [json.loads(line) for line in (tmp_path / "sessions.jsonl").read_text().splitlines()]
    assert len(sessions) == len(corpus.sessions)
    for session in sessions:
        assert {"client_id", "session_id", "channel", "started_at", "participants", "turns"} <= set(session)
        assert all(isinstance(session[k], str) for k in ("client_id", "session_id", "channel", "started_at"))
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,119}", session["client_id"])
        assert session["channel"] in CHANNELS
        started = when(session["started_at"])
        assert sorted(session["participants"].values()) == ["advisor", "client"]
        assert session["turns"]
        for turn in session["turns"]:
            assert {"turn_id", "speaker", "text"} <= set(turn) <= {"turn_id", "speaker", "text", "at"}
            assert all(isinstance(turn[k], str) and turn[k] for k in ("turn_id", "speaker", "text"))
            assert turn["speaker"] in session["participants"]
            assert turn["turn_id"] not in seen_turns
            seen_turns.add(turn["turn_id"])
            if "at" in turn:
                assert when(turn["at"]) >= started
    queries = [json.loads(line) for line in (tmp_path / "questions.jsonl").read_text().splitlines()]
    assert all(set(q) == {"qid", "client_id", "query"} for q in queries)
    assert len({q["qid"] for q in queries}) == len(queries) == len(corpus.questions)
    assert load(tmp_path).questions == corpus.questions
