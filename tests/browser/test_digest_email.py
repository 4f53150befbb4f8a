"""A client digest e-mail rendered by a real browser (Playwright driving Debian's chromium), as sent and in the portal."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

from advisor.models import Client, Firm, User
from advisor.services.quotes import refresh_client_quotes
from twin.digests import services
from twin.digests.models import Digest, SentDigest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def sent_digest(clean_graph) -> SentDigest:
    """Ann's weekly digest on the replayed market, built and sent before the browser starts."""
    call_command("seed_demo")
    refresh_client_quotes()
    Firm.objects.filter(slug="northwind").update(digest_hour=0, client_digest_weekday=timezone.localtime().weekday())
    User.objects.filter(username="ann").update(email="ann@example.com")
    Client.objects.filter(external_id="ann").update(digest_opt_in=True)
    run = services.schedule_firm(firm=Firm.objects.get(slug="northwind"))
    for digest in run.digests.all():
        services.build_digest(digest_id=digest.pk)
    services.release_run(run=run)
    return SentDigest.objects.get(client_id="ann")


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_the_sent_email_renders_with_its_chart_moves_and_disclosure(sent_digest, browser, _test_output_dir):
    page = browser.new_context(viewport={"width": 600, "height": 900}, java_script_enabled=False).new_page()
    page.set_content(sent_digest.html)  # exactly what was sent, as a mail client with scripts off shows it

    chart = page.locator("svg[role=img]")
    assert chart.count() == 1 and chart.bounding_box()["width"] == 360
    assert page.locator("svg rect").count() >= 1
    body = page.inner_text("body")
    assert "Your securities since the last digest" in body and "AAPL" in body
    assert "Important information." in body and "past performance does not guarantee" in body
    assert page.locator(".disclosure").is_visible()
    page.screenshot(path=str(_test_output_dir / "digest-email.png"), full_page=True)
    assert (_test_output_dir / "digest-email.png").stat().st_size > 20000


def test_the_client_reads_the_digest_in_the_portal(sent_digest, live_server, browser, _test_output_dir):
    from advisor.management.commands.seed_demo import DEMO_PASSWORD

    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "ann")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.click("header >> text=Digests")
    page.click(f"text={sent_digest.subject}")
    page.wait_for_selector("iframe")

    frame = page.frame_locator("iframe")
    assert "Your securities since the last digest" in frame.locator("body").inner_text()
    assert page.inner_text("#digest-status") == Digest.Status.SENT.label
    assert "ann@example.com" in page.inner_text("main")
    page.screenshot(path=str(_test_output_dir / "digest-portal.png"), full_page=True)
