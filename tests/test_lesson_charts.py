"""The charts the lessons draw come from the package, themed, with labels that never collide (issue 22)."""

from __future__ import annotations

import base64
import re

import pytest

import lambda_widget as lw
from lambda_widget import traffic
from lambda_widget.views import traffic as views
from lambda_widget.views.charts import Chart, collisions, figure, label_boxes, place_labels

SERVICE = {"warm_ms": 1972.6, "cold_ms": 2310.1}  # lesson 8's
KEEP_ALIVES = ["0s", "1m", "2m", "5m", "10m", "20m", "1h", "2h"]


@pytest.fixture
def drawn(monkeypatch) -> list[dict]:
    """Every chart drawn: its label texts, overlapping pairs and whether labels stay in the figure."""
    seen: list[dict] = []
    render = views._render

    def spy(fig, label, static):
        boxes = label_boxes(fig)
        frame = fig.bbox
        seen.append({"label": label, "texts": [t.get_text() for ax in fig.axes for t in ax.texts],
                     "collisions": collisions(boxes),
                     "outside": [b for b in boxes if b.x0 < frame.x0 or b.x1 > frame.x1
                                 or b.y0 < frame.y0 or b.y1 > frame.y1]})
        return render(fig, label, static)

    monkeypatch.setattr(views, "_render", spy)
    return seen


def test_lesson_8s_pareto_labels_never_collide(drawn):
    sweep = lw.keep_alive_sweep(traffic.poisson(rate=1 / 200), "3d", timeouts=KEEP_ALIVES, provisioned=[1],
                                seed=1, **SERVICE)
    periodic = lw.keep_alive_sweep(traffic.constant(rate=1 / 1800), "3d", timeouts=["10m", "20m", "40m", "1h", "2h"],
                                   warm_ms=200, cold_ms=800)
    for result in (sweep, periodic):
        views.pareto_chart(result.points, result.pareto(), static=True)
    random_chart, timer_chart = drawn
    assert set(random_chart["texts"]) == {"none", "1 min", "2 min", "5 min", "10 min", "20 min", "1 h", "2 h",
                                          "hybrid", "10 min + 1 PC"}
    assert "40 min, 1 h, 2 h" in timer_chart["texts"], "policies on one point share one label"
    for chart in drawn:
        assert chart["collisions"] == [] and chart["outside"] == [], chart


def test_labels_are_placed_clear_of_each_other_even_when_points_crowd():
    points = [(1.0, 1.0), (1.02, 1.0), (1.0, 1.03), (1.03, 1.02), (2.0, 2.0)]
    with figure(4, 3) as (fig, ax):
        ax.scatter(*zip(*points, strict=True))
        ax.set_xlim(0.5, 2.5)
        ax.set_ylim(0.5, 2.5)
        legend = ax.scatter([], [], label="points")
        notes = place_labels(ax, points, ["first label", "second label", "third", "fourth one", "far"],
                             avoid=[ax.legend(handles=[legend], loc="upper left")])
        assert len(notes) == 5
        assert collisions(label_boxes(fig)) == []


def test_lesson_7s_chart_comes_from_the_package():
    rates = [0.002, 0.005, 0.05, 0.5]
    chart = views.cold_share_view(rates, [0.3, 0.05, 0.01, 0.002], 600, measured=[0.34, 0.04, 0.009, 0.002],
                                  measured_se=[0.02, 0.01, 0.002, 0.0005])
    assert isinstance(chart, Chart)
    html = chart._repr_html_()
    assert "<svg" in html and 'aria-label="Cold-start share against arrival rate"' in html
    assert "var(--jp-ui-font-color1" in html, "themed like the other charts"
    for words in ("simulated", "AWS (measured, ±3 SE)", "e^(−λT), T = 10 min", "arrival rate λ"):
        assert words in html, words
    assert repr(chart).startswith("Cold-start share against arrival rate: 4 rates")
    static = views.cold_share_chart(rates, [0.3, 0.05, 0.01, 0.002], 600, static=True)
    svg = base64.b64decode(re.search(r"base64,([^\"]+)", static).group(1)).decode()
    assert 'class="lw-paper"' in svg and "var(--jp" not in svg, "a stored image carries its own colours"


def test_a_zero_share_is_left_off_a_log_axis():
    html = views.cold_share_chart([0.1, 1.0], [0.01, 0.0], 600)
    assert html.count("<svg") == 1
