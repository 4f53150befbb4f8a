"""Digest rules that need no services: when digests are due, promissory wording, shared content, the chart."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from advisor.models import Firm
from twin.digests.charts import moves_svg
from twin.digests.compliance import promissory_phrases, shared_fingerprint
from twin.digests.services import due_periods

# Wednesday 25 November 2026 (ISO week 48); the firm sends at 07:00, weekly digests on Wednesdays.
FIRM = Firm(slug="f", name="F", digest_hour=7, client_digest_weekday=2)


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


def test_before_the_firms_hour_no_daily_digest_is_due_and_the_weekly_one_is_last_weeks():
    due = due_periods(FIRM, at(25, 6, 59))

    assert due["daily"] is None
    assert due["weekly"].key == "2026-W47"
    assert due["monthly"].key == "2026-11"


def test_from_the_firms_hour_the_days_and_the_weeks_digests_are_due():
    due = due_periods(FIRM, at(25, 7))

    assert due["daily"].key == "2026-11-25"
    assert due["weekly"].key == "2026-W48"


def test_later_in_the_week_the_weeks_digest_stays_due_until_the_next_slot():
    assert due_periods(FIRM, at(30, 12))["weekly"].key == "2026-W48"  # Monday 30 November
    assert due_periods(FIRM, at(2, 7, month=12))["weekly"].key == "2026-W49"  # Wednesday 2 December


def test_the_monthly_digest_is_due_from_the_firms_hour_on_the_first():
    assert due_periods(FIRM, at(1, 6, month=12))["monthly"] is None
    assert due_periods(FIRM, at(1, 7, month=12))["monthly"].key == "2026-12"


@pytest.mark.parametrize("text, phrases", [
    ("A guaranteed 20% return by summer.", ["guaranteed"]),
    ("This fund is risk-free and you can't lose.", ["risk-free", "can't lose"]),
    ("Shares will double within a year.", ["will double"]),
    ("Past performance does not guarantee future results.", []),
    ("There is no guarantee that the view is right.", []),
    ("Apple was 100.00 when we talked about it; it is now 112.00, 12.0% higher.", []),
])
def test_promissory_wording_is_found_and_negated_uses_are_not(text, phrases):
    assert promissory_phrases(text) == phrases


def test_shared_content_fingerprint_ignores_order_and_is_empty_without_shared_content():
    disclosure = "Investing involves risk."

    assert shared_fingerprint([], disclosure) == ""
    assert shared_fingerprint(["view A", "view B"], disclosure) == shared_fingerprint(["view B", "view A"], disclosure)
    assert shared_fingerprint(["view A"], disclosure) != shared_fingerprint(["view A"], "Another disclosure.")


def test_move_chart_bars_are_proportional_and_centred_on_zero():
    svg = moves_svg([("AAPL", 10.0), ("IBM", -5.0)], "Moves")

    rects = re.findall(r'<rect x="([\d.]+)" y="\d+" width="([\d.]+)"', svg)
    # 360 px wide, 64 for labels, 48 for values: 124 px per side, zero at 188.
    assert rects == [("188.0", "124.0"), ("126.0", "62.0")]
    assert "+10.0%" in svg and "-5.0%" in svg and "<script" not in svg
    assert moves_svg([], "Moves") == ""
