"""Which vector path a server gets follows from its version string (CALL dbms.components())."""
from __future__ import annotations

import pytest

from memory.graph.schema import (
    FILTERED_VECTOR_SEARCH_SINCE,
    SchemaMismatch,
    parse_version,
    vector_index_built_as_wanted,
)


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


BUILT = {"vector.dimensions": 256, "vector.hnsw.m": 16, "vector.hnsw.ef_construction": 40}


@pytest.mark.parametrize("reported, wanted", [
    ({**BUILT, "vector.quantization.type": "NONE"}, True),  # 2026.06 and later
    ({**BUILT, "vector.quantization.type": "BINARY"}, False),  # their default
    ({**BUILT, "vector.quantization.type": "SCALAR"}, False),
    ({**BUILT, "vector.quantization.enabled": False}, True),  # before 2026.06: the flag itself
    ({**BUILT, "vector.quantization.enabled": True}, False),
    ({**BUILT, "vector.quantization.type": "NONE", "vector.hnsw.ef_construction": 100}, False),
])
def test_what_the_server_reports_of_the_vector_index_decides_whether_migrate_rebuilds_it(reported, wanted):
    assert vector_index_built_as_wanted(reported) is wanted
