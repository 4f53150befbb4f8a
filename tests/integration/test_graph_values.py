"""DateTimes read as epoch microseconds (memory/graph/values.py) are the instants Neo4j stored, unchanged."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from memory.graph import driver
from memory.graph.values import epoch_micros, from_epoch_micros


def stored_and_read(value: datetime | None) -> datetime | None:
    """Store `value` on a node, read it back through epoch_micros, as the page reads do."""

    def _write(tx) -> None:
        tx.run("CREATE (:ValueProbe {at: $at})", at=value).consume()

    def _read(tx) -> int | None:
        return tx.run(f"MATCH (p:ValueProbe) RETURN {epoch_micros('p.at')} AS at").single()["at"]

    driver.write(_write)
    return from_epoch_micros(driver.read(_read))


@pytest.mark.parametrize("value", [
    datetime(2026, 11, 26, 5, 13, 55, 240639, tzinfo=timezone.utc),
    datetime(1969, 7, 20, 20, 17, 40, 999999, tzinfo=timezone.utc),  # before the epoch: negative microseconds
])
def test_a_utc_datetime_comes_back_equal_to_the_microsecond_and_in_utc(clean_graph, value):
    read = stored_and_read(value)

    assert read == value and read.microsecond == value.microsecond
    assert read.utcoffset() == timedelta(0)


def test_a_datetime_stored_with_another_offset_comes_back_as_the_same_instant_in_utc(clean_graph):
    in_mumbai = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))

    read = stored_and_read(in_mumbai)

    assert read == datetime(2026, 3, 1, 4, 0, 0, 123456, tzinfo=timezone.utc)


def test_a_missing_datetime_stays_missing(clean_graph):
    assert stored_and_read(None) is None
