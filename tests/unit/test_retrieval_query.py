"""How a question is read before any index is asked: whose names and which month to set aside."""
from __future__ import annotations

from datetime import datetime, timezone

from memory.services.retrieval import named_period, topic_of


def test_a_named_month_becomes_a_utc_range_ending_at_the_next_month():
    assert named_period("What did we discuss about risk in March 2023?") == (
        datetime(2023, 3, 1, tzinfo=timezone.utc), datetime(2023, 4, 1, tzinfo=timezone.utc))
    assert named_period("when we spoke in december 2022") == (
        datetime(2022, 12, 1, tzinfo=timezone.utc), datetime(2023, 1, 1, tzinfo=timezone.utc))


def test_a_year_alone_or_a_month_alone_is_not_a_period():
    assert named_period("Does she still want to retire in 2035?") is None
    assert named_period("The dividend comes in May") is None


def test_the_topic_drops_people_in_scope_their_possessives_and_the_month():
    topic = topic_of("What did Ann Carter's advisor Alex say about retirement in May 2023?",
                     {"Ann Carter", "Alex Morgan"})

    assert topic == "What did advisor say about retirement in ?"


def test_names_are_dropped_as_whole_words_only_and_a_query_of_names_alone_is_kept():
    assert topic_of("Annual fees for Ann", {"Ann Carter"}) == "Annual fees for"
    assert topic_of("Ann Carter", {"Ann Carter"}) == "Ann Carter"
