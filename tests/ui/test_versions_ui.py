"""Versions and aliases in JupyterLab: the function card and the pool view show each version, its
environments and the aliases (with their weights), readable in the light and the dark theme."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .uiharness import NotebookPage, write_notebook
from .uiharness.checks import low_contrast, overflowing, set_theme

pytestmark = pytest.mark.ui

HANDLER = "def lambda_handler(event, context):\n    return event['value'] * {factor}"
CELLS = [
    "%load_ext lambda_widget\n%lambda reset --seed 3",
    "%%lambda double --no-trace --invoke '{\"value\": 5}'\n" + HANDLER.format(factor=2),
    "%lambda publish double --description 'doubles'",
    "%%lambda double --no-trace\n" + HANDLER.format(factor=3),
    "%lambda publish double --description 'triples'",
    "%lambda alias double live 1 --weight 2=0.25 --description canary",
    "%lambda burst double:live 8 '{\"value\": 1}'",
    "%lambda invoke double:live '{\"value\": 2}'",
    "%lambda containers",
]
ALIAS, INVOKE, POOL = 5, 7, 8  # cell indexes


@pytest.mark.timeout(300)
def test_versions_and_aliases_in_the_card_and_the_pool(lab: NotebookPage) -> None:
    lab.open(write_notebook(lab.server.root, "versions.ipynb", CELLS))
    lab.run_all(timeout=180_000)
    lab.wait_widgets()

    card = lab.outputs(ALIAS)
    expect(card.locator(".lw-function-card .lw-ver").first).to_have_text("v1")  # the version the alias names
    expect(card.locator(".lw-alias")).to_have_text("Alias live: v1 75 %, v2 25 % · canary")
    rows = card.locator(".lw-versions tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(1)).to_contain_text("live")
    expect(rows.nth(1)).to_contain_text("75 %")
    expect(rows.nth(2)).to_contain_text("25 %")
    expect(lab.outputs(INVOKE).locator(".lw-title").first).to_contain_text("via alias live")

    pool = lab.outputs(POOL)
    versions = pool.locator(".lw-versions tbody tr")
    expect(versions).to_have_count(3)
    tags = pool.locator(".lw-pool-card .lw-ver").all_inner_texts()
    assert "$LATEST" in tags and set(tags) <= {"$LATEST", "v1", "v2"} and "v1" in tags, tags
    assert lab.page.locator(".jp-Notebook mjx-container").count() == 0  # "$LATEST … $LATEST" is not TeX

    for theme in ("light", "dark"):
        set_theme(lab.page, theme)
        result = low_contrast(lab.page)
        assert result["checked"] > 20 and result["failures"] == [], f"{theme}: {result['failures']}"
        assert overflowing(lab.page) == [], theme
        lab.screenshot(f"card-{theme}", card.first)
        lab.screenshot(f"pool-{theme}", pool.locator(".lw-versions-sec").first)
    set_theme(lab.page, "light")
    assert lab.blocked_requests == []
    assert lab.unexpected_console_errors() == []
