"""Lesson 01 in a browser: Run All rendered every view (the session's `lessons` run), the stepper and
the quiz answer clicks; in Notebook 7 the views of a `%%lambda` cell fit a 1,000 px page and Play
plays to the last step."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .uiharness import NotebookPage, lesson_page, write_notebook
from .uiharness.checks import overflowing, play_to_the_end
from .uiharness.notebooks import SEED_CELLS

pytestmark = pytest.mark.ui

VIEWS = (".lw-flow", ".lw-step-table", ".lw-tracker", ".lw-pool-card")
# Notebook 7 gets the views of lesson 01 from a notebook of their own (the lesson runs once in the
# browser, in JupyterLab), with the pool and a quiz besides.
NOTEBOOK7_CELLS = SEED_CELLS + ["%lambda containers", "%lambda quiz"]


@pytest.mark.timeout(200)
def test_lesson_01_in_jupyterlab(lessons: dict[str, NotebookPage]) -> None:
    lab = lesson_page(lessons, "01")
    book = lab.page.locator(".jp-Notebook")
    for css in VIEWS:
        expect(book.locator(css).first, f"the lesson shows {css}").to_be_attached()
    lab.screenshot("views", book.locator(".lw-flow").first)

    # The stepper of the first invocation view: First, then Next moves the highlighted row.
    view = book.locator(".lw-invocation", has=lab.page.locator(".lw-stepper")).first
    current = view.locator(".lw-step-table tr.lw-current td").first
    view.locator(".lw-stepper .lw-first").click()
    expect(current).to_have_text("1")
    view.locator(".lw-stepper .lw-next").click()
    expect(current).to_have_text("2")
    lab.screenshot("stepper-next", view)
    view.locator(".lw-stepper .lw-last").click()  # as the other tests of this page expect it
    last = view.locator(".lw-step-table tbody tr").last.get_attribute("data-step")
    expect(view.locator(".lw-step-table tr.lw-current").first).to_have_attribute("data-step", last or "")

    # Answer the first quiz question: pick an option, Check, and the kernel judges it.
    question = book.locator(".lw-quiz .lw-quiz-question").first
    question.locator("input[type=radio]").first.check()
    question.locator(".lw-quiz-check").click()
    feedback = question.locator(".lw-quiz-feedback")
    expect(feedback).to_have_class(re.compile(r"\blw-(correct|incorrect)\b"))
    expect(feedback).not_to_have_text(re.compile(r"^\s*$"))
    lab.screenshot("quiz-answered", question)
    assert lab.blocked_requests == []
    assert lab.unexpected_console_errors() == []


@pytest.mark.timeout(200)
def test_lesson_01_views_in_notebook7(notebook7: NotebookPage) -> None:
    notebook7.page.set_viewport_size({"width": 1000, "height": 1000})
    notebook7.open(write_notebook(notebook7.server.root, "views.ipynb", NOTEBOOK7_CELLS))
    notebook7.run_all(timeout=150_000)
    notebook7.wait_widgets()
    book = notebook7.page.locator(".jp-Notebook")
    for css in VIEWS + (".lw-quiz",):
        expect(book.locator(css).first, f"the notebook shows {css}").to_be_attached()
    assert overflowing(notebook7.page) == []
    notebook7.screenshot("views", book.locator(".lw-flow").first)
    play_to_the_end(notebook7.outputs(notebook7.cell_with("%%lambda")))
    notebook7.screenshot("played", book.locator(".lw-flow").first)
    assert notebook7.blocked_requests == []
    assert notebook7.unexpected_console_errors() == []
