"""Finding people in turns and scoring 'same person' pairs (pure rules, no graph)."""
from __future__ import annotations

from datetime import datetime, timezone

from memory.graph.lifecycle import PersonRow
from memory.graph.summaries import TurnRow
from memory.services.entities import find_people, score_pairs

AT = datetime(2024, 3, 3, tzinfo=timezone.utc)


def turns(*texts: str) -> list[TurnRow]:
    return [TurnRow(f"turn:{i}", f"t{i}", "session:1", "Ann Carter", "client", f"Ann Carter: {text}", i, AT)
            for i, text in enumerate(texts)]


def test_a_relation_with_a_name_and_the_bare_name_later_are_one_key():
    found = find_people(turns("My daughter Emma starts college next year.", "Emma wants to study law."),
                        {"Ann Carter", "Alex Morgan"})

    assert [(m.turn, m.key, m.relation) for m in found] == [("turn:0", "emma", "daughter"), ("turn:1", "emma", None)]


def test_a_relation_alone_is_its_own_mention_and_speakers_are_not_people_in_her_life():
    found = find_people(turns("my husband is worried about the market.", "Alex said my son Jack is fine."),
                        {"Ann Carter", "Alex Morgan"})

    assert [(m.key, m.relation) for m in found] == [("relation:husband", "husband"), ("jack", "son")]


def test_a_name_never_introduced_is_not_taken_for_a_person():
    assert find_people(turns("Apple looked strong in March."), {"Ann Carter"}) == []


def person(key: str, relations: list[str] | None = None) -> PersonRow:
    return PersonRow(f"person:{key}", key, key.title(), relations or [], "active", 1)


def test_a_full_name_extending_a_first_name_is_a_confident_pair():
    [(keep, absorb, confidence, _)] = score_pairs([person("emma"), person("emma carter")])

    assert (keep.key, absorb.key, confidence) == ("emma carter", "emma", 0.9)


def test_a_bare_relation_and_the_one_person_with_it_are_an_unsure_pair():
    pairs = score_pairs([person("emma", ["daughter"]), person("relation:daughter"), person("jack", ["son"])])

    assert [(k.key, a.key, c) for k, a, c, _ in pairs] == [("emma", "relation:daughter", 0.7)]


def test_a_prefix_name_is_an_unsure_pair():
    assert [(k.key, a.key, c) for k, a, c, _ in score_pairs([person("em"), person("emma")])] == [("emma", "em", 0.6)]
