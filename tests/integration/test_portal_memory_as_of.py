"""The client page's memory as of a date, on both clocks, and its profile versions."""
from __future__ import annotations

import re

import pytest

from advisor.services.importer import import_sessions
from memory.services.consolidation import consolidate
from tests.integration.test_memory_graph import ANN_MARCH, ANN_SEPTEMBER
from tests.integration.test_portal import firm_people  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def section(page: str, element_id: str) -> str:
    match = re.search(rf'<section class="card" id="{element_id}">(.*?)</section>', page, re.S)
    assert match, f"no section {element_id}"
    return match.group(1)


@pytest.fixture
def ann_consolidated(clean_graph, firm_people):  # noqa: F811
    import_sessions([ANN_MARCH, ANN_SEPTEMBER], "p-firm")
    consolidate(firm_id="p-firm")
    return firm_people


def test_the_profile_as_of_a_date_before_the_change_is_the_old_one(client, ann_consolidated):
    client.force_login(ann_consolidated["advisor"])

    then = section(client.get("/clients/ann/", {"as_of": "2024-06-01", "clock": "said"}).content.decode(), "profile")
    now = section(client.get("/clients/ann/").content.decode(), "profile")

    assert "version 1" in then and "moderate" in then and "conservative" not in then
    assert "version 2" in now and "conservative" in now


def test_profile_versions_list_what_changed_and_from_which_turns(client, ann_consolidated):
    client.force_login(ann_consolidated["advisor"])

    versions = section(client.get("/clients/ann/").content.decode(), "profile-versions")

    assert "moderate" in versions and "→" in versions and "from s2/s2-0" in versions


def test_before_the_twin_knew_anything_the_known_clock_shows_no_profile(client, ann_consolidated):
    client.force_login(ann_consolidated["advisor"])

    page = client.get("/clients/ann/", {"as_of": "2024-06-01", "clock": "known"}).content.decode()

    assert "No profile at that date" in section(page, "profile")


def test_a_malformed_date_is_answered_with_a_clear_message_and_the_current_memory(client, ann_consolidated):
    client.force_login(ann_consolidated["advisor"])

    response = client.get("/clients/ann/", {"as_of": "June 2024"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "Give the date as YYYY-MM-DD." in page and "version 2" in section(page, "profile")
