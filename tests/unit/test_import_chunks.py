"""How an import cuts its lines into commits (advisor.services.importer._chunks): a small first chunk, so
that memory's first graph write starts early, then chunks of one graph write each; a session is never
split, and a bad line takes a place among the lines but no turns. The numbers are those of COMMIT_EVERY
(200 lines), FIRST_COMMIT_TURNS (500) and COMMIT_TURNS (2,000)."""
from __future__ import annotations

import json

from advisor.services.importer import _chunks


def line(session_id: str, turns: int) -> str:
    return json.dumps({"client_id": "ola", "session_id": session_id, "started_at": "2024-05-01T10:00:00Z",
                       "turns": [{"turn_id": f"t{n}", "speaker": "Ola", "text": "Hello."} for n in range(turns)]})


def shape(lines: list[str]) -> list[tuple[int, int]]:
    """(lines, turns) of each chunk."""
    return [(len(chunk), sum(len(parsed.draft.turns) for parsed in chunk if parsed.draft)) for chunk in _chunks(lines)]


def test_the_first_chunk_is_small_and_the_next_ones_fill_one_graph_write_without_splitting_a_session():
    # 100 sessions of 30 turns: 16 fit in 500 turns (480), 66 in 2,000 (1,980), 18 are left (540).
    assert shape([line(f"s{n}", 30) for n in range(100)]) == [(16, 480), (66, 1980), (18, 540)]


def test_a_session_longer_than_a_chunk_is_a_chunk_of_its_own():
    assert shape([line("a", 10), line("big", 2500), line("b", 10)]) == [(1, 10), (1, 2500), (1, 10)]


def test_bad_lines_count_towards_the_line_limit_and_blank_lines_do_not():
    lines = ["", *["{not json"] * 150, *[line(f"s{n}", 1) for n in range(100)], "   "]
    # 200 lines per commit at most: 150 bad + 50 one-turn sessions, then the other 50 sessions.
    assert shape(lines) == [(200, 50), (50, 50)]
