"""The %%lambda / %lambda magics in JupyterLab: invocation views, warm badge, pool cards, stepper."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .uiharness import NotebookPage, write_notebook

pytestmark = pytest.mark.ui

SEED_HANDLER = """def lambda_handler(event, context):
    print('Start')
    result = event['value'] * 2
    print('End')
    return result"""
CELLS = [
    "%load_ext lambda_widget",
    "%%lambda double --invoke '{\"value\": 5}'\n" + SEED_HANDLER,
    "%lambda invoke double '{\"value\": 7}'",
    "%lambda burst double 3 '{\"value\": 1}'",
]
SEED, WARM, BURST = 1, 2, 3  # cell indexes


def test_magics_render_views_and_stepper(lab: NotebookPage) -> None:
    lab.open(write_notebook(lab.server.root, "magics.ipynb", CELLS))
    lab.run_all()
    lab.wait_widgets()

    seed = lab.outputs(SEED)
    for css in (".lw-invocation", ".lw-flow", ".lw-step-table", ".lw-tracker", ".lw-stepper"):
        expect(seed.locator(css).first, f"seed cell shows {css}").to_be_visible()
    expect(seed.locator(".lw-badge-cold").first).to_be_visible()
    # The seed's run has (at least) the 7 steps of the design's table.
    expect(seed.locator(".lw-step-table tbody tr").nth(6)).to_be_attached()
    lab.screenshot("seed", seed.first)

    expect(lab.outputs(WARM).locator(".lw-badge-warm").first).to_be_visible()
    lab.screenshot("warm", lab.outputs(WARM).first)

    # Three concurrent requests on a pool with one idle environment: it scales out to several.
    cards = lab.outputs(BURST).locator(".lw-pool-card")
    expect(cards.nth(1)).to_be_visible(timeout=30_000)
    lab.screenshot("burst", lab.outputs(BURST).first)

    # Stepper: First puts the highlight on step 1, Next moves it to step 2 (a kernel round trip).
    current = seed.locator(".lw-step-table tr.lw-current td").first
    seed.locator(".lw-stepper .lw-first").click()
    expect(current).to_have_text("1")
    expect(seed.locator(".lw-tracker .lw-current").first).to_be_attached()
    seed.locator(".lw-stepper .lw-next").click()
    expect(current).to_have_text("2")
    lab.screenshot("stepper-next", seed.first)

    assert lab.blocked_requests == []
    assert lab.unexpected_console_errors() == []
