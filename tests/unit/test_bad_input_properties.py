"""Property tests: whatever arrives in an import file, typed notes or a turn, nothing crashes.

The import reports each bad line as "line N: what is wrong" and keeps every good one; the notes
parser either builds a session that passes validation or refuses with SessionRejected; the rule
extractor returns an Extraction for any text. Hypothesis runs with the fixed-seed profile of
tests/conftest.py, so a failure reproduces on every run.
"""
from __future__ import annotations

import itertools
import json
import re
from datetime import datetime, timezone
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from advisor.models import Client, ConversationSession, ConversationTurn, Firm, User
from advisor.services.sessions import SessionRejected, draft_from_notes, validate_draft
from memory.extraction import get_extractor
from memory.extraction.types import Extraction, SessionInput, TurnInput
from advisor.services.importer import ImportLineError, draft_from_payload, import_sessions

UTC = timezone.utc
# Text a browser or a file can carry: any character but lone surrogates, which no UTF-8 input decodes to.
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
# The import's examples share one database transaction (the `db` fixture is per test, not per example);
# each example imports into a firm of its own.
SHARED_DB = [HealthCheck.function_scoped_fixture]

_firms = itertools.count()


# --- the import format -------------------------------------------------------------------------------

def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6)
identifiers = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}\Z") | TEXT
# Date-times as people write them, well-formed or not: real ones, impossible days, offsets past 24 h.
date_times = (
    st.datetimes(timezones=st.just(UTC)).map(_iso)
    | st.datetimes().map(datetime.isoformat)
    | st.from_regex(r"\A\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}(:?\d{2})?)?\Z")
    | TEXT
)
turns = st.fixed_dictionaries(
    {"turn_id": identifiers | json_values, "speaker": TEXT | json_values, "text": TEXT | json_values},
    optional={"at": date_times | json_values},
) | json_values
payloads = st.fixed_dictionaries(
    {},
    optional={
        "client_id": identifiers | json_values,
        "session_id": identifiers | json_values,
        "started_at": date_times | json_values,
        "turns": st.lists(turns, max_size=4) | json_values,
        "participants": st.dictionaries(TEXT, st.sampled_from(["client", "advisor", "Client"]) | json_values,
                                        max_size=3) | json_values,
        "channel": st.sampled_from(["meeting", "call", "chat", "email"]) | json_values,
    },
)
lines = payloads.map(json.dumps) | TEXT.filter(lambda text: "\n" not in text) | json_values.map(json.dumps)


def good_line(session_id: str) -> str:
    return json.dumps({"client_id": "c1", "session_id": session_id, "started_at": "2024-03-01T10:00:00Z",
                       "participants": {"Ann": "client"}, "turns": [{"turn_id": "t1", "speaker": "Ann", "text": "Hello."}]})


@pytest.mark.django_db
@settings(max_examples=60, suppress_health_check=SHARED_DB)
@given(st.lists(lines, min_size=1, max_size=5))
@example([good_line("s1"), good_line("s1").replace("2024-03-01T10:00:00Z", "2024-02-30T10:00:00Z"),
          good_line("s3").replace("Hello.", "\\udc00")])
def test_every_import_line_is_either_kept_or_reported_by_its_number(batch):
    firm = Firm.objects.create(slug=f"prop-{next(_firms)}", name="Prop")
    numbered = [line for line in batch if line.strip()]

    report = import_sessions(batch, firm.slug, drain=False)

    assert report.sessions + report.unchanged + len(report.errors) == len(numbered)
    for error in report.errors:
        assert re.match(r"^line \d+: \S", error), error
    assert ConversationSession.objects.filter(client__firm=firm).count() == report.sessions
    assert_every_value_fits_its_column(firm)


def assert_every_value_fits_its_column(firm: Firm) -> None:
    """PostgreSQL refuses an over-long value (a crash mid-import); SQLite, which the tests use, keeps it."""
    for model, rows in ((Client, Client.objects.filter(firm=firm)),
                        (ConversationTurn, ConversationTurn.objects.filter(session__client__firm=firm))):
        for field in model._meta.get_fields():
            if getattr(field, "max_length", None) and not field.is_relation:
                for value in rows.values_list(field.name, flat=True):
                    assert len(value) <= field.max_length, (model.__name__, field.name, value)


# Payloads with every required key (the line parser refuses the others before drafting).
complete_payloads = st.fixed_dictionaries(
    {"client_id": identifiers, "session_id": identifiers, "started_at": date_times | json_values,
     "turns": st.lists(turns, max_size=4) | json_values},
    optional={"participants": st.dictionaries(TEXT, TEXT | json_values, max_size=3) | json_values,
              "channel": st.sampled_from(["meeting", "call"]) | json_values},
)


@settings(max_examples=60)
@given(complete_payloads)
def test_a_drafted_payload_is_valid_or_refused_with_a_reason(payload):
    try:
        validate_draft(draft_from_payload(payload))
    except (ImportLineError, SessionRejected) as refused:
        assert str(refused)


@pytest.mark.django_db
@pytest.mark.parametrize("started_at, why", [
    ("2024-02-30T10:00:00Z", "2024-02-30T10:00:00Z"),
    ("2024-01-01T10:00:00+25:00", "2024-01-01T10:00:00+25:00"),
    ("0000-01-01T00:00Z", "0000-01-01T00:00Z"),
], ids=["no-such-day", "offset-past-24h", "year-zero"])
def test_a_well_formed_but_impossible_date_time_is_reported_on_its_line(started_at, why):
    firm = Firm.objects.create(slug="dates", name="Dates")
    line = json.loads(good_line("s2"))
    line["started_at"] = started_at

    report = import_sessions([good_line("s1"), json.dumps(line)], firm.slug, drain=False)

    assert report.sessions == 1
    assert report.errors == [f"line 2: started_at must be an ISO 8601 date-time, got {why!r}"]


@pytest.mark.django_db
def test_an_impossible_turn_time_is_reported_on_its_line():
    firm = Firm.objects.create(slug="turn-dates", name="Turn dates")
    line = json.loads(good_line("s1"))
    line["turns"][0]["at"] = "2024-13-01T10:00:00Z"

    report = import_sessions([json.dumps(line)], firm.slug, drain=False)

    assert report.errors == ["line 1: turn t1 'at' must be an ISO 8601 date-time, got '2024-13-01T10:00:00Z'"]


@pytest.mark.django_db
@pytest.mark.parametrize("change, error", [
    (lambda line: line["turns"][0].update(turn_id="t" * 121),
     "line 1: session 's1': turn 'tttttttttttttttttttttttttttttttttttttttt' needs a turn_id of at most 120 and a "
     "speaker of at most 200 characters"),
    (lambda line: line.update(participants={"A" * 201: "client"}),
     "line 1: session 's1': participant 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' needs a name of at most 200 and a "
     "role of at most 40 characters"),
], ids=["long-turn-id", "long-client-name"])
def test_a_value_too_long_for_its_column_is_reported_on_its_line_and_creates_no_client(change, error):
    firm = Firm.objects.create(slug="long", name="Long")
    line = json.loads(good_line("s1"))
    change(line)

    report = import_sessions([json.dumps(line)], firm.slug, drain=False)

    assert report.errors == [error]
    assert Client.objects.filter(firm=firm).count() == 0


@pytest.mark.django_db
def test_a_lone_surrogate_escape_is_reported_on_its_line_and_the_rest_is_kept():
    firm = Firm.objects.create(slug="surrogates", name="Surrogates")
    broken = good_line("s2").replace("Hello.", "Hello \\ud800.")

    report = import_sessions([good_line("s1"), broken], firm.slug, drain=False)

    assert report.sessions == 1
    assert report.errors == ["line 2: contains an invalid Unicode escape (a lone surrogate such as \\ud800)"]


@pytest.mark.django_db
def test_the_import_command_reports_a_line_that_is_not_utf_8_and_imports_the_rest(tmp_path):
    source = tmp_path / "sessions.jsonl"
    source.write_bytes(good_line("s1").encode() + b"\n" + good_line("s2").replace("Hello.", "Caf\u00e9.").encode("latin-1"))
    errors = StringIO()

    with pytest.raises(CommandError, match="^1 lines could not be imported"):
        call_command("memory_import", str(source), "--firm", "latin", "--defer", stdout=StringIO(), stderr=errors)

    column = good_line("s2").index("Hello.") + 4  # the é of "Café."
    assert errors.getvalue() == f"line 2: is not UTF-8 text (byte 0xE9 at column {column}); save the file as UTF-8\n"
    assert list(ConversationSession.objects.filter(client__firm__slug="latin").values_list("external_id", flat=True)) == ["s1"]


# --- typed notes and transcripts -----------------------------------------------------------------------

client_names = st.sampled_from(["Ann Carter", "Ann", "", " ", "Zoë d'Arc-Smith", "李 小龙"]) | TEXT
note_lines = st.lists(
    st.one_of(TEXT.filter(lambda t: "\n" not in t and "\r" not in t),
              st.builds(lambda who, said: f"{who}: {said}", st.sampled_from(["Ann", "Alex", "Client", "ann carter"]),
                        TEXT.filter(lambda t: "\n" not in t)),
              st.sampled_from(["", "   ", "Ann:", "Ann:  ", "Alex: \t", "\r", "Ann: \u2028"])),
    max_size=8,
)


@settings(max_examples=80)
@given(note_lines, client_names, st.sampled_from(["\n", "\r\n"]))
@example(["Ann:  ", "Alex: We talked about retirement."], "Ann Carter", "\n")
@example(["Ann: I want to retire in 2034."], "", "\n")
def test_notes_become_a_valid_session_or_are_refused_with_a_reason(lines, client_name, newline):
    client = Client(external_id="c1", name=client_name)
    author = User(username="alex", first_name="Alex")
    notes = newline.join(lines)

    try:
        draft = draft_from_notes(notes=notes, client=client, author=author, channel="meeting",
                                 started_at=datetime(2024, 3, 1, 10, tzinfo=UTC))
    except SessionRejected as refused:
        expected = "the notes are empty" if not notes.strip() else "the notes name who spoke but not what they said"
        assert str(refused) == expected
        return
    assert notes.strip()
    try:
        validate_draft(draft)
    except SessionRejected as refused:
        # Only a turn over the length limit may still be refused, and it says so.
        assert "longer than" in str(refused), str(refused)


def test_a_speaker_line_with_nothing_said_does_not_reject_the_whole_session():
    draft = draft_from_notes(notes="Ann:   \nAlex: We talked about retirement.", client=Client(name="Ann Carter"),
                             author=User(username="alex", first_name="Alex"), channel="meeting",
                             started_at=datetime(2024, 3, 1, 10, tzinfo=UTC))

    validate_draft(draft)
    assert [(t.speaker, t.text) for t in draft.turns] == [("Alex", "We talked about retirement.")]


def test_notes_for_a_client_with_a_blank_name_are_recorded():
    draft = draft_from_notes(notes="Client: I want to retire in 2034.", client=Client(name=""),
                             author=User(username="alex"), channel="meeting",
                             started_at=datetime(2024, 3, 1, 10, tzinfo=UTC))

    assert [(t.speaker, t.text) for t in draft.turns] == [("", "I want to retire in 2034.")]
    assert draft.participants[""] == "client"


# --- the rule extractor ------------------------------------------------------------------------------

spoken_at = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC))
# Words the rules look for, so that examples reach the rules instead of stopping at "no match".
RULE_WORDS = ["retire", "in", "years", "months", "by", "$", "k", "million", "AAPL", "Apple", "I own", "I sold",
              "worried", "inflation", "last month", "next year", "next spring", "horizon", "need", "cash", "at",
              "I'm", "when I turn", "had a baby", "in March", "June 2030", "conservative", "no tobacco", "prefer ETFs",
              "99999999999999999999", "1,000,000,000,000", "0", "2025", "18", "99", ".", "!", " "]
rule_text = st.lists(st.sampled_from(RULE_WORDS) | st.from_regex(r"\A\d{1,25}\Z") | TEXT, max_size=25).map(" ".join)
turn_inputs = st.builds(TurnInput, turn_id=st.from_regex(r"\At\d{1,3}\Z"), speaker=st.sampled_from(["Ann", "Alex"]),
                        role=st.sampled_from(["client", "advisor", "analyst", "twin", ""]), text=rule_text, at=spoken_at)


@settings(max_examples=120)
@given(st.lists(turn_inputs, min_size=1, max_size=4), spoken_at)
@example([TurnInput("t1", "Ann", "client", "I want to retire in 99999999 years.", datetime(2024, 3, 1, tzinfo=UTC))],
         datetime(2024, 3, 1, tzinfo=UTC))
@example([TurnInput("t1", "Ann", "client", "We had a baby last month.", datetime(1, 1, 1, tzinfo=UTC))],
         datetime(1, 1, 1, tzinfo=UTC))
def test_the_rule_extractor_returns_an_extraction_for_any_text(turns_in, started_at):
    session = SessionInput(session_id="s1", client_id="c1", started_at=started_at, channel="meeting",
                           turns=tuple(turns_in))

    extraction = get_extractor().extract(session)

    assert isinstance(extraction, Extraction)
    turn_ids = {t.turn_id for t in turns_in}
    for item in (*extraction.facts, *extraction.observations):
        assert set(item.turn_ids) <= turn_ids  # provenance names only turns of this session
    assert {m.turn_id for m in extraction.price_mentions} <= turn_ids


def test_a_goal_too_far_away_for_the_calendar_has_no_target_date():
    turn = TurnInput("t1", "Ann", "client", "I want to retire in 99999999 years.", datetime(2024, 3, 1, tzinfo=UTC))

    extraction = get_extractor().extract(SessionInput("s1", "c1", turn.at, "meeting", (turn,)))

    assert [f.target_date for f in extraction.facts if f.attribute == "goal"] == []


def test_an_event_last_month_said_in_the_first_month_of_the_calendar_is_dated_that_month():
    at = datetime(1, 1, 15, tzinfo=UTC)
    turn = TurnInput("t1", "Ann", "client", "We had a baby last month.", at)

    extraction = get_extractor().extract(SessionInput("s1", "c1", at, "meeting", (turn,)))

    assert [f.valid_from for f in extraction.facts if f.attribute == "life_event"] == [at]
    assert [f.value for f in extraction.facts if f.attribute == "life_event"] == ["new child"]
