"""Research digests against the real Neo4j (the demo firm on the replayed market) and the real database."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from advisor.management.commands.seed_demo import demo_sessions
from advisor.models import Client, Firm, Holding, User, Viewpoint
from advisor.services.quotes import refresh_client_quotes
from advisor.services.sessions import SessionDraft, TurnDraft, record_session
from audit.models import AppendOnlyError, AuditEntry
from marketdata.services.drift import remembered_prices_for
from memory.graph import driver as graph_driver
from memory.scope import Reader
from memory.services.ingest import drain_outbox
from twin.digests import services
from twin.digests.models import Digest, DigestApproval, SentDigest
from twin.tasks import BUILD_RETRIES
from twin.tasks import build_digest as build_digest_task

pytestmark = pytest.mark.django_db


def make_due_now(firm: Firm) -> None:
    """The firm's digest hour and weekday set so that daily, weekly and monthly digests are all due now."""
    firm.digest_hour, firm.client_digest_weekday = 0, timezone.localtime().weekday()
    firm.save()


@pytest.fixture
def demo(clean_graph):
    """The demo firm (Ann and Ben, their sessions) on the replayed market; Ann opted in to weekly digests."""
    call_command("seed_demo")
    refresh_client_quotes()
    firm = Firm.objects.get(slug="northwind")
    make_due_now(firm)
    for username in ("advisor", "ann", "ben"):
        User.objects.filter(username=username).update(email=f"{username}@example.com")
    Client.objects.filter(external_id="ann").update(digest_opt_in=True, digest_frequency="weekly")
    return firm


def build_run(firm: Firm) -> list[Digest]:
    run = services.schedule_firm(firm=firm)
    for digest in run.digests.all():
        services.build_digest(digest_id=digest.pk)
    services.release_run(run=run)
    return list(run.digests.all())


def the_digest(**filters) -> Digest:
    return Digest.objects.get(**filters)


def test_client_digest_on_the_replayed_market_has_the_remembered_prices_page_numbers_and_cites_them(demo, client):
    build_run(demo)

    digest = the_digest(client__external_id="ann")
    expected = [row for row in remembered_prices_for(Reader("northwind", "ann")) if row.current_price is not None]
    moves = [item for section in digest.content["sections"] for item in section["moves"]]
    remembered = [m for m in moves if not m["data"].get("held")]
    assert [(m["data"]["symbol"], m["data"]["price"], m["data"]["current_price"], m["data"]["drift_pct"])
            for m in remembered] == [(r.symbol, r.price, r.current_price, r.drift_pct) for r in expected]
    # Hand-computed from what Ann said and the replayed quote now stored on AAPL.
    first_review = next(s for s in demo_sessions(timezone.localdate()) if s[1] == "ann-review-1")
    said = float(re.search(r"Apple at \$(\d+\.\d\d)", " ".join(t for _, t in first_review[3])).group(1))
    now = graph_driver.read(lambda tx: tx.run("MATCH (s:Security {symbol: 'AAPL'}) RETURN s.last_price AS p").single()["p"])
    aapl = next(m for m in remembered if m["data"]["symbol"] == "AAPL")
    assert aapl["data"]["drift_pct"] == pytest.approx(100 * (now - said) / said)
    line = f"{said:.2f} when discussed on {first_review[2]:%-d %B %Y}, now {now:.2f} ({100 * (now - said) / said:+.1f}%) [replayed prices]"
    assert line in aapl["text"] and line in digest.text
    # The same sentence, to the character, as the client page's remembered prices.
    client.force_login(User.objects.get(username="advisor"))
    page = client.get(reverse("client-detail", args=["ann"])).content.decode()
    assert all(row.summary in page for row in expected)
    # Each move cites the price memory it rests on, and the sources list carries that memory's text.
    citations = {c["id"]: c for c in digest.content["citations"]}
    for item, row in zip(remembered, expected, strict=True):
        assert row.id in item["cites"] and citations[row.id]["text"] == row.text
    # KO and MSFT are held (the demo's Ann holds both) with no price discussed: shown from their quotes,
    # not as remembered prices.
    held = [m for m in moves if m["data"].get("held")]
    assert [m["data"]["symbol"] for m in held] == ["KO", "MSFT"]


def test_client_digest_is_sent_as_html_with_text_alternative_disclosure_and_an_inline_chart(demo, settings):
    build_run(demo)

    digest = the_digest(client__external_id="ann")
    assert digest.status == Digest.Status.SENT
    [message] = [m for m in mail.outbox if m.to == ["ann@example.com"]]
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and html == digest.html
    assert message.body == digest.text and "Sources" in message.body
    assert settings.DIGEST_DISCLOSURE in message.body
    assert "Important information." in html and "<svg" in html and "% since discussed" in html
    assert "<script" not in html
    archive = SentDigest.objects.get(digest=digest)
    assert (archive.html, archive.text, archive.to_address) == (html, message.body, "ann@example.com")
    assert AuditEntry.objects.filter(action="digest.sent", target=f"digest:{digest.pk}", client_id="ann").count() == 1


def test_advisor_digest_covers_each_client_with_changed_facts_goals_and_talking_points(demo):
    ann = Client.objects.get(external_id="ann")
    said_at = timezone.now() - timedelta(hours=2)
    record_session(client=ann, draft=SessionDraft(
        session_id="ann-call", channel="call", started_at=said_at, participants={"Ann Carter": "client"},
        turns=(TurnDraft("ann-call-t1", "Ann Carter", "I'd like to retire in 2031 if possible.", said_at),)))
    drain_outbox()

    build_run(demo)

    digest = the_digest(audience="advisor")
    sections = {s["client_id"]: s for s in digest.content["sections"]}
    assert set(sections) == {"ann", "ben"}
    [goal] = [i for i in sections["ann"]["confirm"] if i["data"]["reason"] == "superseded"]
    assert (goal["data"]["attribute"], goal["data"]["value"], goal["data"]["was"]) == (
        "goal", "target 2031", "target 2033")
    citations = {c["id"]: c for c in digest.content["citations"]}
    assert [citations[c]["sources"] for c in goal["cites"]] == [["ann-call-t1"], ["ann-review-2-t3"]]
    [house] = sections["ben"]["goals"]
    assert house["data"]["target_date"] == "2028-01-01"
    assert citations[house["cites"][0]]["sources"] == ["ben-review-1-t1"]
    notes = [n["text"] for n in sections["ann"]["notes"]]
    assert "Confirm Ann's goal (target 2031)." in notes
    assert digest.status == Digest.Status.SENT and any(m.to == ["advisor@example.com"] for m in mail.outbox)
    assert "Important information." not in digest.html  # internal: no client disclosure block


def test_running_the_schedule_twice_creates_one_digest_per_reader_and_period(demo):
    # Both runs inside one day: at the real time, the second run 5 minutes later fell on the next day (a new
    # daily period) when the suite ran just before midnight.
    noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    first = services.schedule_firm(firm=demo, now=noon)
    second = services.schedule_firm(firm=demo, now=noon + timedelta(minutes=5))

    assert first is not None and first.planned == 2  # Alex's daily digest and Ann's weekly one
    assert second is None
    assert Digest.objects.count() == 2
    assert set(Digest.objects.values_list("recipient_key", "period")) == {
        (f"advisor:{User.objects.get(username='advisor').pk}", "daily"),
        (f"client:{Client.objects.get(external_id='ann').pk}", "weekly")}


def test_an_opted_out_client_gets_nothing_on_any_path(demo):
    ben = Client.objects.get(external_id="ben")
    ann = Client.objects.get(external_id="ann")
    run = services.schedule_firm(firm=demo)
    assert not run.digests.filter(client=ben).exists()  # never opted in: never scheduled

    ann_digest = run.digests.get(client=ann)
    services.build_digest(digest_id=ann_digest.pk)
    services.set_digest_preference(client=ann, opt_in=False, frequency="weekly", actor=User.objects.get(username="ann"))
    services.release_run(run=run)

    ann_digest.refresh_from_db()
    assert ann_digest.status == Digest.Status.CANCELLED
    assert not [m for m in mail.outbox if m.to == ["ann@example.com"] or m.to == ["ben@example.com"]]
    assert not SentDigest.objects.filter(client_id__in=["ann", "ben"]).exists()
    # Opted out before a build, the build itself cancels it (a stale task cannot send it).
    Digest.objects.filter(pk=ann_digest.pk).update(status=Digest.Status.PENDING)
    assert services.build_digest(digest_id=ann_digest.pk).status == Digest.Status.CANCELLED


@pytest.fixture
def retail_firm(graph):
    """A firm whose analyst published a view on AAPL, which every client holds: the same content for all."""
    firm = Firm.objects.create(slug="retail", name="Retail Wealth", digest_hour=0,
                               client_digest_weekday=timezone.localtime().weekday(), advisor_digests=False)
    analyst = User.objects.create(username="ana", first_name="Ana", last_name="Lyst", role="analyst", firm=firm)
    User.objects.create(username="cco", first_name="Cora", last_name="Oversight", role="compliance", firm=firm)
    Viewpoint.objects.create(firm=firm, analyst=analyst, symbol="AAPL", stance="buy", target_price=Decimal("450"),
                             rationale="Services revenue keeps compounding.", published_at=timezone.now() - timedelta(hours=2))
    return firm


def add_retail_clients(firm: Firm, count: int) -> None:
    for n in range(count):
        user = User.objects.create(username=f"r{firm.pk}-{n}", role="client", firm=firm, email=f"c{n}@example.com")
        client = Client.objects.create(firm=firm, external_id=f"c{n}", name=f"Client {n}", user=user,
                                       digest_opt_in=True, digest_frequency="weekly")
        Holding.objects.create(client=client, symbol="AAPL", quantity=10)


def test_twenty_five_retail_recipients_of_the_same_content_are_sent_without_approval(retail_firm):
    add_retail_clients(retail_firm, 25)

    digests = build_run(retail_firm)

    assert len({d.shared_fingerprint for d in digests}) == 1 and digests[0].shared_fingerprint
    assert {d.status for d in digests} == {Digest.Status.SENT}
    assert len(mail.outbox) == 25 and SentDigest.objects.filter(approval__isnull=True).count() == 25


def test_the_twenty_sixth_retail_recipient_holds_the_content_for_compliance_approval(retail_firm):
    add_retail_clients(retail_firm, 26)

    digests = build_run(retail_firm)

    assert {d.status for d in digests} == {Digest.Status.AWAITING_APPROVAL}
    assert mail.outbox == []
    officer = User.objects.get(username="cco")
    approval = services.approve_content(firm=retail_firm, fingerprint=digests[0].shared_fingerprint, approver=officer,
                                        note="Reviewed the AAPL view.")
    assert (approval.approved_by, approval.recipients) == (officer, 26)
    assert approval.approved_at is not None and mail.outbox == []
    assert services.send_approved(approval=approval) == 26
    assert len(mail.outbox) == 26
    assert SentDigest.objects.filter(approval=approval).count() == 26
    assert AuditEntry.objects.filter(action="digest.approved", actor="cco").count() == 1


def test_only_compliance_approves_held_content(retail_firm):
    add_retail_clients(retail_firm, 26)
    digests = build_run(retail_firm)

    with pytest.raises(services.DigestRejected, match="compliance officers"):
        services.approve_content(firm=retail_firm, fingerprint=digests[0].shared_fingerprint,
                                 approver=User.objects.get(username="ana"))
    assert not DigestApproval.objects.exists()


def test_wording_that_guarantees_returns_is_rejected_with_the_reason(retail_firm):
    add_retail_clients(retail_firm, 1)
    Viewpoint.objects.update(rationale="A guaranteed 20% return by summer.")

    [digest] = build_run(retail_firm)

    assert digest.status == Digest.Status.REJECTED
    assert "\u201cguaranteed\u201d in the AAPL viewpoint by Ana Lyst promises or guarantees returns" in digest.last_error
    assert mail.outbox == [] and not SentDigest.objects.exists()
    # The disclosure's own "does not guarantee" is not promissory wording.
    assert services.compliance.promissory_phrases("Past performance does not guarantee future results.") == []


def test_sent_digests_are_archived_append_only(retail_firm):
    add_retail_clients(retail_firm, 1)
    build_run(retail_firm)
    archive = SentDigest.objects.get()

    archive.subject = "changed"
    with pytest.raises(AppendOnlyError):
        archive.save()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE twin_sentdigest SET subject = 'changed'")
    assert SentDigest.objects.get().subject != "changed"


def test_a_build_that_keeps_failing_is_recorded_and_shown_to_the_advisor(demo, client):
    run = services.schedule_firm(firm=demo)
    advisor_digest = run.digests.get(audience="advisor")
    graph_driver.close_driver()
    try:
        with override_settings(NEO4J_URI="bolt://127.0.0.1:1", NEO4J_CONNECTION_TIMEOUT=1.0):
            # Run eagerly, the task's retries follow one another at once: the first try and BUILD_RETRIES more.
            assert build_digest_task.apply(args=[advisor_digest.pk]).get() == "failed"
    finally:
        graph_driver.close_driver()

    advisor_digest.refresh_from_db()
    assert (advisor_digest.status, advisor_digest.attempts) == (Digest.Status.FAILED, BUILD_RETRIES + 1)
    client.force_login(User.objects.get(username="advisor"))
    listing = client.get(reverse("digest-list")).content.decode()
    assert "Digests that need you" in listing and "could not be reached" in listing
    progress = client.get(reverse("digest-run", args=[run.pk])).content.decode()
    assert 'id="count-failed">1<' in progress and "could not be reached" in progress
    assert "bolt://" not in listing + progress


def test_a_client_reads_their_own_sent_digest_in_the_portal_and_no_one_elses(demo, client):
    build_run(demo)
    ann_digest = the_digest(client__external_id="ann")
    advisor_digest = the_digest(audience="advisor")

    client.force_login(User.objects.get(username="ann"))
    assert ann_digest.subject in client.get(reverse("digest-list")).content.decode()
    assert client.get(reverse("digest-email", args=[ann_digest.pk])).content.decode() == ann_digest.html
    assert client.get(reverse("digest-detail", args=[advisor_digest.pk])).status_code == 404
    client.force_login(User.objects.get(username="ben"))
    assert client.get(reverse("digest-detail", args=[ann_digest.pk])).status_code == 404


def test_a_client_opts_out_in_the_portal_and_the_choice_is_audited(demo, client):
    client.force_login(User.objects.get(username="ann"))

    response = client.post(reverse("digest-preference", args=["ann"]), {"frequency": "monthly"})

    assert response.status_code == 302
    ann = Client.objects.get(external_id="ann")
    assert ann.digest_opt_in is False
    assert AuditEntry.objects.filter(action="digest.opt_out", client_id="ann", actor="ann").count() == 1
    assert services.schedule_firm(firm=demo).digests.filter(client=ann).count() == 0


def test_an_advisor_opts_a_client_in_from_the_client_page(demo, client):
    client.force_login(User.objects.get(username="advisor"))
    assert "Research digests" in client.get(reverse("client-detail", args=["ben"])).content.decode()

    response = client.post(reverse("digest-preference", args=["ben"]), {"opt_in": "on", "frequency": "monthly"})

    assert response.status_code == 302 and response.url == reverse("client-detail", args=["ben"])
    ben = Client.objects.get(external_id="ben")
    assert (ben.digest_opt_in, ben.digest_frequency) == (True, "monthly")
    assert AuditEntry.objects.filter(action="digest.opt_in", client_id="ben", actor="advisor").count() == 1
