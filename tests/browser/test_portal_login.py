"""A person logs in through a real browser (Playwright driving Debian's chromium)."""
from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.utils import timezone

from advisor.management.commands.seed_demo import demo_sessions
from advisor.services.quotes import refresh_client_quotes
from memory.graph import driver as graph_driver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def latest_price(symbol: str) -> float:
    return graph_driver.read(lambda tx: tx.run(
        "MATCH (s:Security {symbol: $s}) RETURN s.last_price AS p", s=symbol).single()["p"])


@pytest.fixture
def demo_data(clean_graph):
    """Seeded before the browser starts: Playwright's sync API runs an event loop in this thread."""
    call_command("seed_demo")
    refresh_client_quotes()  # the replayed market, as beat does at start


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
        yield context.new_page()
        browser.close()


def test_demo_advisor_logs_in_and_reaches_the_portal_home(demo_data, live_server, browser_page, _test_output_dir):
    from advisor.management.commands.seed_demo import DEMO_PASSWORD

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


def test_advisor_sees_what_the_twin_remembers_about_a_client(demo_data, live_server, browser_page, _test_output_dir):
    from advisor.management.commands.seed_demo import DEMO_PASSWORD

    page = browser_page
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "advisor")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.click("text=Ann Carter")
    page.wait_for_selector("h1:has-text('Ann Carter')")

    knows = page.inner_text("section.card >> nth=0")
    assert "conservative" in knows and "2033" in knows
    assert "moderate" not in knows  # superseded in September, kept only as history
    first_review = next(s for s in demo_sessions(timezone.localdate()) if s[1] == "ann-review-1")
    said = re.search(r"Apple at \$(\d+\.\d\d)", " ".join(text for _, text in first_review[3])).group(1)
    now = latest_price("AAPL")
    drift = 100 * (now - float(said)) / float(said)
    body = page.inner_text("body")
    assert f"{said} when discussed on {first_review[2]:%-d %B %Y}, now {now:.2f} ({drift:+.1f}%) [replayed prices]" in body
    page.screenshot(path=str(_test_output_dir / "client-detail.png"), full_page=True)

    page.click("a:has-text('chart')")
    page.wait_for_selector(".js-plotly-plot .scatterlayer")
    assert page.locator(".legendtext", has_text="discussed with client").count() == 1  # a marker on the line, same era
    page.screenshot(path=str(_test_output_dir / "price-chart.png"), full_page=True)
