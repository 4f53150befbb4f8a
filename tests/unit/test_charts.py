from types import SimpleNamespace
from datetime import date, datetime, timezone

import pandas as pd

from marketdata.charts import price_history_figure, render_chart_div


def test_chart_marks_mentions_inside_the_history_and_labels_replayed_prices():
    history = pd.DataFrame({"date": [date(2024, 3, 1), date(2024, 3, 4), date(2024, 3, 5)],
                            "close": [180.0, 182.0, 185.0], "source": ["replay"] * 3})
    mentions = [SimpleNamespace(mentioned_at=datetime(2024, 3, 4, 10, tzinfo=timezone.utc), price=182.1,
                                text="bought at 182.10"),
                SimpleNamespace(mentioned_at=datetime(2020, 1, 2, tzinfo=timezone.utc), price=75.0, text="old")]

    figure = price_history_figure("AAPL", history, mentions, through=date(2024, 3, 5))

    markers = [trace for trace in figure.data if trace.mode == "markers"]
    assert len(markers) == 1 and list(markers[0].y) == [182.1] and list(markers[0].text) == ["bought at 182.10"]
    assert [shape.y0 for shape in figure.layout.shapes] == [75.0]
    assert "replayed prices" in figure.layout.title.text
    assert "cdn.plot.ly" not in render_chart_div(figure)


def test_chart_marks_a_mention_of_today_when_today_has_no_bar_yet_a_holiday_or_weekend():
    # Thursday 26 Nov 2026 (Thanksgiving) replays 24 Nov 2011, Thanksgiving too: the last bar is the day before.
    history = pd.DataFrame({"date": [date(2026, 11, 24), date(2026, 11, 25)], "close": [180.0, 182.0],
                            "source": ["replay"] * 2})
    mentions = [SimpleNamespace(mentioned_at=datetime(2026, 11, 26, 0, 25, tzinfo=timezone.utc), price=150.0,
                                text="bought at 150 &lt;b&gt;")]

    figure = price_history_figure("AAPL", history, mentions, through=date(2026, 11, 26))

    markers = [trace for trace in figure.data if trace.mode == "markers"]
    assert len(markers) == 1 and list(markers[0].x) == [date(2026, 11, 26)] and list(markers[0].y) == [150.0]
    assert list(markers[0].text) == ["bought at 150 &amp;lt;b&amp;gt;"]  # escaped for plotly, like every label
    assert list(figure.layout.shapes) == []  # no dashed "discussed at" line instead


def test_chart_draws_a_mention_after_the_period_it_covers_as_a_dashed_line():
    history = pd.DataFrame({"date": [date(2026, 11, 24), date(2026, 11, 25)], "close": [180.0, 182.0],
                            "source": ["yahoo"] * 2})
    mentions = [SimpleNamespace(mentioned_at=datetime(2026, 11, 27, 9, tzinfo=timezone.utc), price=151.0, text="later")]

    figure = price_history_figure("AAPL", history, mentions, through=date(2026, 11, 26))

    assert [trace for trace in figure.data if trace.mode == "markers"] == []
    assert [shape.y0 for shape in figure.layout.shapes] == [151.0]
