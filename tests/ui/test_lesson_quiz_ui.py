"""Lesson 02 in JupyterLab (the session's `lessons` run): the global frame in the tracker, and a quiz
loaded from its JSON file."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .uiharness import NotebookPage, lesson_page

pytestmark = pytest.mark.ui


@pytest.mark.timeout(240)
def test_lesson_02_tracker_frames_and_file_quiz(lessons: dict[str, NotebookPage]) -> None:
    lab = lesson_page(lessons, "02")
    book = lab.page.locator(".jp-Notebook")
    tracker = book.locator(".lw-invocation .lw-tracker").nth(2)  # Cy's invocation: warm
    expect(tracker.locator("tr.lw-frame-global")).to_contain_text("Global frame")
    expect(tracker.locator("tr.lw-row-global td.lw-var").first).to_have_text("served")
    expect(tracker.locator("td.lw-kept").first).to_contain_text("↻")
    lab.screenshot("lesson02-tracker", tracker)

    quiz = book.locator(".lw-quiz").first
    expect(quiz).to_contain_text("press Check")
    question = quiz.locator(".lw-quiz-question").first
    question.locator("input[type=radio]").first.check()
    question.locator(".lw-quiz-check").click()
    feedback = question.locator(".lw-quiz-feedback")
    expect(feedback).to_have_class(re.compile(r"\blw-(correct|incorrect)\b"))
    colour = feedback.locator("b").first.evaluate("b => getComputedStyle(b).color")
    assert colour not in ("rgb(0, 0, 0)", ""), f"the verdict is coloured, not plain: {colour}"
    expect(quiz.locator(".lw-quiz-score")).to_contain_text("right at the first try")
    lab.screenshot("lesson02-quiz", quiz)
    assert lab.blocked_requests == []
