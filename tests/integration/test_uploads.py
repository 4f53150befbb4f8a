"""Session notes uploaded too big or in the wrong encoding get a clear form error and save nothing;
text a common editor saves (a UTF-8 byte order mark, Notepad's UTF-16) is read as the words it holds."""
from __future__ import annotations

import codecs

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from advisor.forms import MAX_NOTES_CHARS, MAX_UPLOAD_BYTES
from advisor.models import Client, ConversationSession, Firm, User
from memory.models import OutboxEntry

pytestmark = pytest.mark.django_db

TRANSCRIPT = "Ann Carter: I want to retire in 2034.\nAlex: Noted, we will plan for it.\n"


@pytest.fixture
def advisor_client(client):
    firm = Firm.objects.create(slug="u-firm", name="U Firm")
    advisor = User.objects.create_user("u-adv", password="pw-123456789", role="advisor", firm=firm, first_name="Alex")
    Client.objects.create(firm=firm, external_id="ann", name="Ann Carter", advisor=advisor)
    client.force_login(advisor)
    return client


def upload(client, content: bytes, name: str = "t.txt", **fields):
    return client.post("/clients/ann/sessions/new", {
        "channel": "meeting", "started_at": "2024-05-01 10:00", "transcript": SimpleUploadedFile(name, content), **fields})


def assert_nothing_saved() -> None:
    assert ConversationSession.objects.count() == 0
    assert OutboxEntry.objects.count() == 0


def test_a_transcript_over_2_mb_is_refused_with_its_size_and_nothing_saved(advisor_client):
    response = upload(advisor_client, b"Ann Carter: hello.\n" * (MAX_UPLOAD_BYTES // 19 + 1))

    assert response.status_code == 400
    assert "The transcript is 2.0 MB, more than 2 MB; split it into sessions." in response.content.decode()
    assert_nothing_saved()


def test_latin_1_text_is_refused_naming_the_byte_and_its_line_and_nothing_saved(advisor_client):
    response = upload(advisor_client, "Ann Carter: hello.\nAnn Carter: caf\u00e9 plans.\n".encode("latin-1"))

    assert response.status_code == 400
    assert "The transcript is not UTF-8 text (byte 0xE9 on line 2); save it as UTF-8 and upload it again." \
        in response.content.decode()
    assert_nothing_saved()


def test_a_file_claiming_utf_16_that_is_not_is_refused_and_nothing_saved(advisor_client):
    response = upload(advisor_client, codecs.BOM_UTF16_LE + b"A\x00n\x00n")  # odd length: half a character

    assert response.status_code == 400
    assert "The transcript starts like UTF-16 text but is not; save it as UTF-8 text." in response.content.decode()
    assert_nothing_saved()


@pytest.mark.parametrize("encoded", [codecs.BOM_UTF8 + TRANSCRIPT.encode("utf-8"), TRANSCRIPT.encode("utf-16")],
                         ids=["utf-8-with-bom", "utf-16-notepad"])
def test_text_saved_with_a_byte_order_mark_keeps_who_said_what(advisor_client, encoded):
    response = upload(advisor_client, encoded)

    assert response.status_code == 302
    turns = list(ConversationSession.objects.get().turns.order_by("position").values_list("speaker", "role", "text"))
    assert turns == [("Ann Carter", "client", "I want to retire in 2034."),
                     ("Alex", "advisor", "Noted, we will plan for it.")]


def test_an_empty_file_and_no_notes_ask_for_some_notes_and_nothing_saved(advisor_client):
    response = upload(advisor_client, b"")

    assert response.status_code == 400
    page = response.content.decode()
    assert "The submitted file is empty." in page and "Type some notes or upload a transcript." in page
    assert_nothing_saved()


def test_typed_notes_over_the_limit_are_refused_with_a_field_error_and_nothing_saved(advisor_client):
    response = advisor_client.post("/clients/ann/sessions/new", {
        "channel": "meeting", "started_at": "2024-05-01 10:00", "notes": "Ann Carter: retire. " * (MAX_NOTES_CHARS // 20 + 1)})

    assert response.status_code == 400
    assert f"The notes are longer than {MAX_NOTES_CHARS:,} characters; upload them as a transcript file instead." \
        in response.content.decode()
    assert_nothing_saved()


def test_an_unreadable_date_is_shown_next_to_its_field_and_nothing_saved(advisor_client):
    response = advisor_client.post("/clients/ann/sessions/new", {
        "channel": "meeting", "started_at": "next tuesday-ish", "notes": "Ann Carter: I want to retire in 2034."})

    assert response.status_code == 400
    assert "Enter a valid date/time." in response.content.decode()
    assert_nothing_saved()
