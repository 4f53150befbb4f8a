"""Every graph function that writes either marks the clients it changes for consolidation or says why not.

Incremental consolidation skips a client whose `memory_version` did not move (memory/graph/changes.py): a
new write into a client's memory that forgets to raise it would leave that client's summaries stale with
nothing failing. So each function of memory/graph whose Cypher writes (SET, MERGE, CREATE, DELETE, REMOVE)
is listed here when it does not mark, with the reason; any other writer must mark.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

GRAPH = Path(__file__).resolve().parents[2] / "memory" / "graph"
WRITES = re.compile(r"\b(SET|MERGE|CREATE|DELETE|REMOVE)\b")
SCHEMA = re.compile(r"\b(CREATE|DROP)\s+(\w+\s+)?(INDEX|CONSTRAINT)\b")  # not a data write (USING INDEX is a hint)
MARKERS = {"mark_clients", "mark_client_of", "RAISE_CLIENT_VERSION"}

NOT_MARKING = {
    "episodes._write_turns": "runs only inside write_batch, which marks the batch's clients",
    "episodes.fill_client_people": "the client's `people` list: consolidation does not read it",
    "lifecycle.record_access": "access counts: consolidation does not read them",
    "lifecycle.write_people": "consolidation's own write (people resolution)",
    "lifecycle.propose_merges": "consolidation's own write (people resolution)",
    "lifecycle._merge": "inside decide_merge, which marks, or consolidation's own automatic merges",
    "move_migration.migrate_moves": "records that the migration completed",
    "move_migration._scope_links": "SAW_MOVE links: market moves do not feed consolidation",
    "rollback.reopen_facts": "runs inside a rollback, whose withdraw_sessions marks the client",
    "rollback.close_facts": "runs inside a rollback, whose withdraw_sessions marks the client",
    "rollback.retrack_prices": "tracked prices: consolidation does not read them",
    "securities.ensure_securities": "securities are shared, not a client's memory",
    "securities.apply_quotes": "quotes: consolidation does not read them",
    "securities.mark_quotes": "quotes: consolidation does not read them",
    "securities._write_move_links": "market moves: shared events and SAW_MOVE links, not read by consolidation",
    "securities.forget_moves": "a client's SAW_MOVE link: not read by consolidation",
    "summaries.write_levels": "consolidation's own write, which records the version it consolidated",
}


def graph_writers() -> dict[str, bool]:
    """module.function -> whether it marks, for every top-level function of memory/graph whose Cypher writes."""
    found = {}
    for path in sorted(GRAPH.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            docstrings = {id(f.body[0].value) for f in ast.walk(node) if isinstance(f, ast.FunctionDef)
                          and ast.get_docstring(f) is not None}
            text = "\n".join(n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                             and id(n) not in docstrings)
            if not WRITES.search(text) or SCHEMA.search(text):
                continue
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            found[f"{path.stem}.{node.name}"] = bool(MARKERS & names) or "memory_version" in text
    return found


def test_every_graph_write_marks_its_clients_or_is_listed_with_the_reason_it_need_not():
    writers = graph_writers()
    unmarked = {name for name, marks in writers.items() if not marks}

    assert unmarked == set(NOT_MARKING), (
        "A graph write that changes what consolidation reads of a client (memory/graph/summaries.py "
        "client_material) must raise the client's memory version in its transaction (memory/graph/changes.py "
        f"mark_clients / mark_client_of); one that need not goes in NOT_MARKING with why. Unmarked: "
        f"{sorted(unmarked - set(NOT_MARKING))}; listed but marking or gone: {sorted(set(NOT_MARKING) - unmarked)}")


def test_the_write_paths_that_feed_consolidation_all_mark():
    writers = graph_writers()

    assert {name for name, marks in writers.items() if marks} == {
        "corrections.supersede_fact", "episodes.write_batch", "erasure.erase_scope", "facts.apply_supersessions",
        "lifecycle.mark_forgotten", "lifecycle.decide_merge", "move_migration._write_shared", "notes.write_notes",
        "notes.supersede_memory", "notes.forget", "rollback.withdraw_sessions",
        "session_versions.retire_session_version"}
