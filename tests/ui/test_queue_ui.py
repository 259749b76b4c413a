"""Lesson 11 (queues) in JupyterLab, on the session's one browser run of it (the `lessons` pages): Run All
rendered every queue panel and simulation; the panels fit their cell from 800 to 1,400 px and read well in
the light and the dark theme. Screenshots of the queue panel in both themes go to `<artifacts>/queues/`."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .uiharness import NotebookPage, find_lesson, lesson_page
from .uiharness.checks import low_contrast, overflowing, set_theme

pytestmark = pytest.mark.ui

LESSON = find_lesson("11_*.ipynb")
needs_lesson = pytest.mark.skipif(LESSON is None, reason="notebooks/11_*.ipynb does not exist yet")


def _overflow_at(nb: NotebookPage, width: int) -> list[dict]:
    """What is wider than its cell at this page width (the page is left 1,000 px wide)."""
    nb.page.set_viewport_size({"width": width, "height": 1000})
    nb.page.wait_for_timeout(400)
    found = overflowing(nb.page)
    nb.page.set_viewport_size({"width": 1000, "height": 1000})
    nb.page.wait_for_timeout(300)
    return found


def _shoot(nb: NotebookPage, theme: str) -> None:
    folder = nb.artifacts / "queues"
    folder.mkdir(exist_ok=True)
    book = nb.page.locator(".jp-Notebook")
    for label, css in (("panel", ".lw-queue"), ("simulation", ".lw-queue-sim")):
        view = book.locator(f".jp-OutputArea-output {css}").last
        view.evaluate("e => e.scrollIntoView({block: 'start'})")
        nb.page.wait_for_timeout(300)
        nb.page.screenshot(path=str(folder / f"{label}-{theme}.png"))


@needs_lesson
@pytest.mark.timeout(180)
def test_lesson_11_panels_render_fit_and_read_well(lessons: dict[str, NotebookPage]) -> None:
    lab = lesson_page(lessons, "11")
    book = lab.page.locator(".jp-Notebook")
    expect(book.locator(".jp-OutputArea-output .lw-queue").first).to_be_attached()
    assert book.locator(".jp-OutputArea-output .lw-queue").count() >= 4       # the mappings' panels
    assert book.locator(".jp-OutputArea-output .lw-queue-sim").count() >= 2   # the ramp and the day
    assert book.locator(".jp-OutputArea-output .lw-queue svg").count() >= 2   # charts, inline: themed
    assert book.locator(".jp-OutputArea-output .jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']"
                        ).count() == 0
    try:
        for theme in ("light", "dark"):
            set_theme(lab.page, theme)
            too_wide = {width: _overflow_at(lab, width) for width in (800, 1000, 1400)}
            assert {w: found for w, found in too_wide.items() if found} == {}, theme
            assert low_contrast(lab.page)["failures"] == [], f"text below WCAG contrast in the {theme} theme"
            _shoot(lab, theme)
    finally:
        set_theme(lab.page, "light")  # the theme is a server setting: leave it as the other tests expect
    assert lab.blocked_requests == []
    assert lab.unexpected_console_errors() == []
