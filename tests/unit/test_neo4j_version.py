"""Which vector path a server gets follows from its version string (CALL dbms.components())."""
from __future__ import annotations

import pytest

from memory.graph.schema import FILTERED_VECTOR_SEARCH_SINCE, SchemaMismatch, parse_version


@pytest.mark.parametrize("version, parsed, filters_in_index", [
    ("2026.08.1", (2026, 8), True),
    ("2026.01.0", (2026, 1), True),
    ("2025.10.1", (2025, 10), False),
    ("5.26.30", (5, 26), False),
    ("5-aura", (5, 0), False),
])
def test_the_version_string_decides_whether_the_vector_index_filters_by_scope(version, parsed, filters_in_index):
    assert parse_version(version) == parsed
    assert (parse_version(version) >= FILTERED_VECTOR_SEARCH_SINCE) is filters_in_index


def test_an_unreadable_version_is_reported_with_the_text_the_server_gave():
    with pytest.raises(SchemaMismatch, match="Cannot read the Neo4j version from 'dev'"):
        parse_version("dev")
