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

    figure = price_history_figure("AAPL", history, mentions)

    markers = [trace for trace in figure.data if trace.mode == "markers"]
    assert len(markers) == 1 and list(markers[0].y) == [182.1] and list(markers[0].text) == ["bought at 182.10"]
    assert [shape.y0 for shape in figure.layout.shapes] == [75.0]
    assert "replayed prices" in figure.layout.title.text
    assert "cdn.plot.ly" not in render_chart_div(figure)
