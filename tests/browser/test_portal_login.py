"""A person logs in through a real browser (Playwright driving Debian's chromium)."""
from __future__ import annotations

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
        yield context.new_page()
        browser.close()


def test_demo_advisor_logs_in_and_reaches_the_portal_home(live_server, browser_page, clean_graph, _test_output_dir):
    from advisor.management.commands.seed_demo import DEMO_PASSWORD

    call_command("seed_demo")
    page = browser_page
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url

    page.fill("#id_username", "advisor")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1")

    assert page.inner_text("h1") == "Welcome, Alex"
    assert page.locator("table >> text=Ann Carter").count() == 1
    page.screenshot(path=str(_test_output_dir / "portal-home.png"), full_page=True)
    assert (_test_output_dir / "portal-home.png").stat().st_size > 5000
