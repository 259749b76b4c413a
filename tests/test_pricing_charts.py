"""The price table's arithmetic and the themed chart helper."""

import math

import pytest

from lambda_widget import pricing
from lambda_widget.views.charts import SERIES, figure, inline_svg, svg_image


def test_power_tuning_formula_by_hand():
    # ceil(ms) x base cost per ms at 128 MB x memory / 128 (Power Tuning's lambda/utils.js)
    assert pricing.power_tuning_cost(100.2, 1024) == pytest.approx(101 * 2.1e-9 * 8)
    assert pricing.power_tuning_cost(100.0, 128, "arm64") == pytest.approx(100 * 1.7e-9)


def test_first_tier_invocation_cost():
    # 1 s at 1,024 MB is 1 GB-s at $0.0000166667, plus $0.20 per million requests
    assert pricing.invocation_cost(1000, 1024) == pytest.approx(0.0000166667 + 0.2e-6)
    assert pricing.invocation_cost(1000, 1024, requests=False) == pytest.approx(0.0000166667)


def test_tiers_and_free_tier():
    assert pricing.duration_cost(6e9) == pytest.approx(6e9 * 0.0000166667)
    assert pricing.duration_cost(7e9) == pytest.approx(6e9 * 0.0000166667 + 1e9 * 0.000015)
    bill = pricing.monthly_bill(1_000_000, 100, 128)          # inside the free tier
    assert bill.total == 0.0 and bill.gb_seconds == pytest.approx(12_500)
    bill = pricing.monthly_bill(3_000_000, 1000, 1024)
    assert bill.request_cost == pytest.approx(0.40)
    assert bill.duration_cost == pytest.approx((3_000_000 - 400_000) * 0.0000166667)
    assert math.isclose(bill.to_dict()["total"], bill.total)


def test_bad_architecture_is_named():
    with pytest.raises(ValueError, match="x86_64, arm64"):
        pricing.invocation_cost(1, 128, "sparc")


def test_chart_follows_the_theme_and_has_a_static_twin():
    with figure(4, 2) as (fig, ax):
        ax.plot([1, 2], [3, 4], color=SERIES[0], label="duration")
        ax.set_xlabel("memory (MB)")
        svg, img = inline_svg(fig, "duration"), svg_image(fig, "duration")
    assert "var(--jp-ui-font-color1, #212121)" in svg and "var(--jp-brand-color1, #1976d2)" in svg
    assert "memory (MB)</text>" in svg and 'aria-label="duration"' in svg
    assert img.startswith('<img src="data:image/svg+xml;base64,') and "var(" not in img
    with figure(4, 2) as (fig2, ax2):
        ax2.plot([1, 2], [3, 4], color=SERIES[0], label="duration")
        ax2.set_xlabel("memory (MB)")
        assert inline_svg(fig2, "duration") == svg   # deterministic: no dates, salted ids
