"""Lesson 01 in a browser: Run All renders every view, the stepper and the quiz answer clicks;
in Notebook 7 the view fits a 1,000 px page and Play plays to the last step."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .uiharness import NotebookPage, copy_lessons, find_lesson
from .uiharness.checks import overflowing, play_to_the_end

pytestmark = pytest.mark.ui

LESSON = find_lesson("01_*.ipynb")
needs_lesson = pytest.mark.skipif(LESSON is None, reason="notebooks/01_*.ipynb does not exist yet")
VIEWS = (".lw-flow", ".lw-step-table", ".lw-tracker", ".lw-pool-card")


def _open_and_run(nb: NotebookPage) -> None:
    assert LESSON is not None
    copy_lessons(nb.server.root)
    nb.open(f"notebooks/{LESSON.name}")
    nb.run_all(timeout=150_000)
    nb.wait_widgets()
    book = nb.page.locator(".jp-Notebook")
    for css in VIEWS:
        expect(book.locator(css).first, f"the lesson shows {css}").to_be_attached()


@needs_lesson
@pytest.mark.timeout(200)
def test_lesson_01_in_jupyterlab(lab: NotebookPage) -> None:
    _open_and_run(lab)
    book = lab.page.locator(".jp-Notebook")
    lab.screenshot("views", book.locator(".lw-flow").first)

    # The stepper of the first invocation view: First, then Next moves the highlighted row.
    view = book.locator(".lw-invocation", has=lab.page.locator(".lw-stepper")).first
    current = view.locator(".lw-step-table tr.lw-current td").first
    view.locator(".lw-stepper .lw-first").click()
    expect(current).to_have_text("1")
    view.locator(".lw-stepper .lw-next").click()
    expect(current).to_have_text("2")
    lab.screenshot("stepper-next", view)

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


@needs_lesson
@pytest.mark.timeout(200)
def test_lesson_01_in_notebook7(notebook7: NotebookPage) -> None:
    notebook7.page.set_viewport_size({"width": 1000, "height": 1000})
    _open_and_run(notebook7)
    assert overflowing(notebook7.page) == []
    notebook7.screenshot("views", notebook7.page.locator(".jp-Notebook .lw-flow").first)
    play_to_the_end(notebook7.outputs(notebook7.cell_with("%%lambda")))
    notebook7.screenshot("played", notebook7.page.locator(".jp-Notebook .lw-flow").first)
    assert notebook7.blocked_requests == []
    assert notebook7.unexpected_console_errors() == []
