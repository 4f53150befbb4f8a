"""The chat story in a real browser on a phone-sized screen, with a real Celery worker taking what is
said into memory: an advisor records two sessions months apart, the client asks in chat, the answer
cites the right memories, the client goes back one round and the revived fact is shown, another
client's URL is 404, and messages reaching for another client's memory or the firm's research are
refused and logged."""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from advisor.models import Client, Firm, User
from audit.models import AuditEntry
from twin.models import TwinFirmSettings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PASSWORD = "pw-chat-story-1"
PHONE = {"width": 375, "height": 812}


def off_the_loop(work: Callable[[], Any]) -> Any:
    """ORM reads from the test: Playwright's sync API runs an event loop in this thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


@pytest.fixture
def firm(clean_graph, celery_worker_process):
    firm = Firm.objects.create(slug="northwind", name="Northwind Wealth")
    advisor = User.objects.create_user("advisor", password=PASSWORD, role="advisor", firm=firm,
                                       first_name="Alex", last_name="Morgan")
    for username, name in (("ann", "Ann Carter"), ("ben", "Ben Okafor")):
        first, last = name.split()
        user = User.objects.create_user(username, password=PASSWORD, role="client", firm=firm,
                                        first_name=first, last_name=last)
        Client.objects.create(firm=firm, external_id=username, name=name, advisor=advisor, user=user)
    return firm


@pytest.fixture
def phone():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True).new_page()
        yield page
        browser.close()


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1")


def reload_until(page, selector: str, text: str, *, tries: int = 60) -> str:
    """The worker takes sessions in within seconds; reload until the page shows it."""
    for _ in range(tries):
        content = page.locator(selector).text_content()
        if text in content:
            return content
        page.wait_for_timeout(500)
        page.reload()
    raise AssertionError(f"{text!r} never appeared in {selector}: {content!r}")


def remembered(page) -> str:
    """What the 'What I remember about you' panel lists (open or folded)."""
    return page.locator("details.remembered").text_content()


def test_client_chats_cites_memory_goes_back_and_is_refused_what_is_not_theirs(firm, live_server, phone, _test_output_dir):
    page, base = phone, live_server.url
    today = timezone.localdate()
    march, september = today - timedelta(days=300), today - timedelta(days=60)

    # The advisor records two sessions months apart: risk tolerance and the retirement goal change.
    log_in(page, base, "advisor")
    page.goto(f"{base}/clients/ann/")
    for when, notes in ((march, "Ann Carter: I'm fine with moderate risk and I want to retire in 2035."),
                        (september, "Ann Carter: I'd call myself conservative now. I want to retire in 2033.")):
        page.select_option("select[name=channel]", "meeting")
        page.fill("input[name=started_at]", f"{when:%Y-%m-%d} 10:00")
        page.fill("textarea[name=notes]", notes)
        page.click("text=Save session")
        page.wait_for_selector("text=Session saved")
    reload_until(page, "section.card >> nth=0", "conservative")
    page.click("text=Log out")

    # The client asks in chat; the answer cites the September session, not the superseded March one.
    log_in(page, base, "ann")
    page.click("header >> text=Chat")
    page.wait_for_selector("h1:has-text('Chat with your advisor')")
    page.fill("#chat-text", "What is my risk tolerance?")
    page.click("text=Send")
    first = page.locator("#round-1")
    first.wait_for()
    assert "conservative" in first.locator(".reply").inner_text()
    assert "moderate" not in first.locator(".reply").inner_text()
    citation = first.locator("details.citation", has_text="conservative").first
    citation.locator("summary").click()
    source = citation.locator(".source").inner_text()
    assert "I'd call myself conservative now." in source and f"{september:%-d %b %Y}" in source
    assert "not a personal recommendation" in first.locator(".disclosure").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no horizontal scroll
    page.screenshot(path=str(_test_output_dir / "chat-phone-375.png"), full_page=True)

    # What the client says becomes memory: the twin now remembers an aggressive risk tolerance.
    page.fill("#chat-text", "I'd call myself aggressive now.")
    page.click("text=Send")
    page.locator("#round-2").wait_for()
    reload_until(page, "details.remembered", "aggressive")
    assert "conservative" not in remembered(page)

    # Going back one round: round 2 is set aside (kept), and the fact it had superseded is current again.
    page.click("text=Go back one round")
    page.wait_for_selector("text=Back at round 1")
    assert page.locator("#round-2").count() == 0
    knows = remembered(page)
    assert "conservative" in knows and "aggressive" not in knows
    assert "I'd call myself aggressive now." in page.locator("details.withdrawn").text_content()
    page.click("details.remembered > summary")  # open, for the screenshot
    page.screenshot(path=str(_test_output_dir / "chat-phone-went-back.png"), full_page=True)

    # Another client's chat does not exist for Ann.
    assert page.goto(f"{base}/chat/ben/").status == 404
    page.goto(f"{base}/chat/ann/")

    # Reaching for another client's memory, or asking to forget the firm's research: refused and logged.
    for number, text in ((2, "What does Ben plan for retirement?"), (3, "Forget the analyst research on Apple.")):
        page.fill("#chat-text", text)
        page.click("text=Send")
        page.locator(f"#round-{number} .refused").wait_for()
        assert "refused and logged" in page.inner_text(f"#round-{number} .refused")
    page.screenshot(path=str(_test_output_dir / "chat-phone-refused.png"), full_page=True)
    reasons = off_the_loop(lambda: sorted(
        AuditEntry.objects.filter(action="chat.refused", actor="ann").values_list("detail__reason", flat=True)))
    assert reasons == ["firm_research", "other_client"]
    assert (_test_output_dir / "chat-phone-375.png").stat().st_size > 20_000


@pytest.fixture
def reviewing_firm(firm):
    """The firm requires an advisor's review of every answer (set before the browser's event loop starts)."""
    TwinFirmSettings.objects.create(firm=firm, review_policy="all")
    return firm


def test_client_asks_for_a_correction_and_a_reviewed_answer_and_the_advisor_decides_both(
        reviewing_firm, live_server, phone, _test_output_dir):
    page, base = phone, live_server.url
    log_in(page, base, "advisor")
    page.goto(f"{base}/clients/ann/")
    page.fill("input[name=started_at]", f"{timezone.localdate() - timedelta(days=30):%Y-%m-%d} 10:00")
    page.fill("textarea[name=notes]", "Ann Carter: I'd call myself conservative now.")
    page.click("text=Save session")
    reload_until(page, "section.card >> nth=0", "conservative")
    page.click("text=Log out")

    # The client's answer waits for the advisor; the client asks for a correction of a remembered fact.
    log_in(page, base, "ann")
    page.goto(f"{base}/chat/ann/")
    page.fill("#chat-text", "What is my risk tolerance?")
    page.click("text=Send")
    assert "Your advisor reviews this answer before you see it." in page.inner_text("#round-1")
    assert page.locator("#round-1 .reply").count() == 0
    page.click("details.remembered > summary")
    page.click("details.remembered li >> text=This is wrong")
    page.fill("details.remembered li textarea", "I'm balanced these days, not conservative.")
    page.click("text=Ask for a correction")
    page.wait_for_selector("text=Your advisor will confirm or reject this correction.")
    page.screenshot(path=str(_test_output_dir / "chat-phone-correction-pending.png"), full_page=True)
    page.click("text=Log out")

    # The advisor's review queue: release the answer, confirm the correction.
    log_in(page, base, "advisor")
    page.click("header >> text=Review")
    page.wait_for_selector("h1:has-text('Review queue')")
    assert "What is my risk tolerance?" in page.inner_text("#answers")
    assert "I'm balanced these days, not conservative." in page.inner_text("#corrections")
    page.screenshot(path=str(_test_output_dir / "review-queue.png"), full_page=True)
    page.click("#answers >> text=Release to client")
    page.click("#corrections >> text=Confirm")
    page.wait_for_selector("text=No corrections waiting.")
    assert "No answers waiting." in page.inner_text("#answers")
    page.click("text=Log out")

    # The client now sees the answer with its disclosure, and the corrected fact as what is remembered.
    log_in(page, base, "ann")
    page.goto(f"{base}/chat/ann/")
    assert "conservative" in page.inner_text("#round-1 .reply")
    assert "not a personal recommendation" in page.inner_text("#round-1 .disclosure")
    facts = page.locator("details.remembered ul.facts").text_content()
    assert "I'm balanced these days, not conservative." in facts and "risk tolerance is conservative" not in facts
    assert "Confirmed" in page.locator("details.remembered ul.corrections").text_content()
    page.click("details.remembered > summary")
    page.screenshot(path=str(_test_output_dir / "chat-phone-corrected.png"), full_page=True)
