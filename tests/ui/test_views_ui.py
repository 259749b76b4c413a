"""Views that tell the truth, on the real lessons, in JupyterLab 4 (light and dark) and Notebook 7.

Every lesson runs once, two at a time, one page each (the session's `lessons` fixture), then every check
reads those pages: Play plays to the end in the light and the dark theme, text contrast in the
high-contrast theme, burst and pool views keep their moment after Run All (fit and contrast of every
lesson in the light and the dark theme, with screenshots, and each lesson as that run left it, stripped
to its static renderings (the lessons' policy) and opened untrusted: `test_lesson_pages.py`). A notebook
of lesson 01's views is exported with the README's nbconvert command and opened offline.
(Notebook 7: `test_lesson_ui.py`.)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .uiharness import NotebookPage, write_notebook
from .uiharness.checks import low_contrast, play_to_the_end, run_together, set_theme
from .uiharness.notebooks import LESSONS, SEED_CELLS

pytestmark = pytest.mark.ui

NAMES = sorted(p.name for p in LESSONS.glob("[0-9][0-9]_*.ipynb"))
needs_lessons = pytest.mark.skipif(not NAMES, reason="no lessons in notebooks/")


def _stem(name: str) -> str:
    return name.removesuffix(".ipynb")


def _shoot(nb: NotebookPage, theme: str) -> None:
    """The lesson's first view in the viewport, as `<artifacts>/lessons/<lesson>-<theme>.png`."""
    folder = nb.artifacts / "lessons"
    folder.mkdir(exist_ok=True)
    first = nb.page.locator(".jp-Notebook .jp-OutputArea-output .lw-root").first
    first.evaluate("e => e.scrollIntoView({block: 'start'})")
    nb.page.wait_for_timeout(200)
    nb.page.screenshot(path=str(folder / f"{_stem(nb.path.split('/')[-1])}-{theme}.png"))


# ---------------------------------------------------------------------------------- the run
@needs_lessons
@pytest.mark.timeout(120 + 300 * ((len(NAMES) + 1) // 2))  # the lessons run two at a time
def test_every_lesson_runs_in_jupyterlab(lessons: dict[str, NotebookPage]) -> None:
    """Run All in JupyterLab, every lesson: no cell fails and every widget renders (the `lessons`
    fixture checks both). It runs first among the browser tests (conftest), so that the run is timed
    here and not in whichever test happens to need it first."""
    assert sorted(lessons) == NAMES
    assert lessons.failed == {}
    for name in NAMES:
        state = lessons[name].run_state()
        assert state["executed"] == state["total"] and not state["errors"], (name, state)


# ---------------------------------------------------------------------------------- on the run's pages
# Fit, contrast in the light and the dark theme, steppers and flows of every lesson, with their
# screenshots: one pass per lesson in test_lesson_pages.py.
@needs_lessons
@pytest.mark.timeout(120)
def test_play_plays_to_the_last_step_in_lab(lessons: dict[str, NotebookPage]) -> None:
    nb = lessons[NAMES[0]]
    set_theme(nb.page, "light")
    play_to_the_end(nb.outputs(nb.cell_with("%%lambda")))


@needs_lessons
@pytest.mark.timeout(120)
def test_burst_and_pool_views_keep_their_moment_after_run_all(lessons: dict[str, NotebookPage]) -> None:
    """Later cells wait an hour and reap: the first burst still shows its four idle environments."""
    burst_lesson = next((n for n in NAMES if n.startswith("04")), None)
    pool_lesson = next((n for n in NAMES if n.startswith("03")), None)
    if burst_lesson is None or pool_lesson is None:
        pytest.skip("lessons 03 and 04 are needed")
    nb = lessons[burst_lesson]
    burst = nb.outputs(nb.cell_with("%lambda burst"))
    expect(burst.locator(".lw-pool-card")).not_to_have_count(0)
    expect(burst.locator(".lw-pool-card.lw-state-terminated")).to_have_count(0)
    expect(burst.locator(".lw-pool-card.lw-state-busy")).to_have_count(0)
    expect(burst.locator(".lw-moment")).to_contain_text("as the pool stood when this cell ran")
    expect(burst.locator(".lw-progress").first).to_have_text(re.compile(r"(\d+) of \1 done"))

    nb = lessons[pool_lesson]
    pool = nb.outputs(nb.cell_with("%lambda containers"))
    expect(pool.locator(".lw-pool-card")).not_to_have_count(0)
    expect(pool.locator(".lw-pool-card.lw-state-terminated")).to_have_count(0)  # not reaped then
    expect(pool.locator(".lw-moment")).to_contain_text("as the pool stood when this cell ran")


@needs_lessons
@pytest.mark.timeout(120)
def test_high_contrast_theme_text_contrast(lessons: dict[str, NotebookPage]) -> None:
    """JupyterLab's dark high-contrast theme, on the lessons with the most kinds of view."""
    for name in [n for n in NAMES if n[:2] in ("01", "04", "05")]:
        nb = lessons[name]
        try:
            set_theme(nb.page, "high-contrast")
            result = low_contrast(nb.page)
            assert result["checked"] > 20 and result["failures"] == [], f"{name}: {result['failures']}"
            if name.startswith("05"):
                _shoot(nb, "high-contrast")
        finally:
            set_theme(nb.page, "light")  # the theme is a server setting: leave it as the other tests expect


@needs_lessons
@pytest.mark.timeout(120)
def test_play_plays_to_the_last_step_in_lab_dark(lessons: dict[str, NotebookPage]) -> None:
    nb = lessons[NAMES[0]]
    set_theme(nb.page, "dark")
    play_to_the_end(nb.outputs(nb.cell_with("%%lambda")))
    set_theme(nb.page, "light")  # the theme is a server setting: leave it as the other tests expect


# ---------------------------------------------------------------------------------- opened untrusted
# Each lesson as the browser run left it, stripped to its static renderings and opened untrusted: in
# the same page as the lesson as committed, test_lesson_pages.py.


# ---------------------------------------------------------------------------------- nbconvert
@pytest.mark.timeout(240)
def test_nbconvert_html_offline_shows_the_step_table(page: Page, tmp_path: Path, artifacts_dir: Path) -> None:
    """The README's export command; the page is opened with every request but file:// refused."""
    notebook = tmp_path / write_notebook(tmp_path, "export.ipynb", SEED_CELLS)
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--execute",
                    "--ExecutePreprocessor.store_widget_state=False", str(notebook)],
                   check=True, cwd=tmp_path, capture_output=True, timeout=200)
    html = notebook.with_suffix(".html")
    page.route(re.compile(r"^(?!file:)"), lambda route: route.abort())
    page.goto(html.as_uri())
    table = page.locator(".lw-step-table").first
    expect(table).to_be_visible()
    assert table.locator("tbody tr").count() >= 7
    expect(table.locator("tbody tr").first).to_contain_text("Event triggers Lambda")
    expect(page.locator(".lw-tracker").first).to_be_visible()
    flow = page.locator("img.lw-flow-img").first
    expect(flow).to_be_visible()
    assert flow.evaluate("i => i.complete && i.naturalWidth > 0")
    assert run_together(page, ".jp-OutputArea-output")["glued"] == []
    table.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(artifacts_dir / "nbconvert-export.png"))
