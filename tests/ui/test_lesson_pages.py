"""Every lesson as a learner sees it in JupyterLab, in the light and the dark theme (issue 22), and
its views as they tell the truth.

Before Run All (the stored static renderings, opened untrusted): text legible in both themes, every
image carrying its own background. After Run All (the suite's one browser run of each lesson, the
session's `lessons` pages), one pass per lesson over its page: nothing overflows its cell and no quiz
option overlaps another from 800 to 1,400 px; text contrast of the views and the quizzes in the light
and the dark theme; steppers on their last step, flow drawings inside their cell; and a wrong answer
says why. Screenshots of every screen of every lesson, both themes, before and after, go to
``<artifacts>/lessons/<lesson>/``, and the first view of each in both themes to
``<artifacts>/lessons/<lesson>-<theme>.png``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Page, expect

from lambda_widget.views.static_outputs import WIDGET_VIEW, problems, strip

from .uiharness import NotebookPage, copy_lessons
from .uiharness.checks import low_contrast, overflowing, run_together, set_theme
from .uiharness.notebooks import LESSONS

pytestmark = pytest.mark.ui

NAMES = sorted(p.name for p in LESSONS.glob("[0-9][0-9]_*.ipynb"))
VIEWPORT = {"width": 1280, "height": 900}
WIDTHS = (800, 1000, 1280, 1400)
MAX_SCREENS = 60
# Where the `lab` tests copy the lessons: `notebooks/` of that server holds the session's lesson pages.
STORED = "stored"

# Every radio option of every quiz: the label's box, its button's box, and whether the label
# cuts its own text off.
QUIZ_LAYOUT_JS = """() => [...document.querySelectorAll('.jp-Notebook .lw-quiz .lw-quiz-question')]
  .filter(q => q.getClientRects().length)
  .map(q => [...q.querySelectorAll('.widget-radio-box label')].map(label => {
      const box = label.getBoundingClientRect(), input = label.querySelector('input');
      const button = input ? input.getBoundingClientRect() : null;
      return {text: label.textContent.trim().slice(0, 50), top: box.top, bottom: box.bottom,
              left: box.left, right: box.right, clipped: label.scrollHeight > label.clientHeight + 1,
              button: button && {top: button.top, bottom: button.bottom, left: button.left,
                                 right: button.right, width: button.width}};
  }))"""

# The fraction of opaque pixels of each stored image: an image with its own background is opaque.
OPAQUE_JS = """async () => {
  const out = [];
  for (const img of document.querySelectorAll('.jp-Notebook .jp-OutputArea-output img')) {
    if (!img.src.startsWith('data:image/svg')) continue;
    img.scrollIntoView({block: 'center'});
    await img.decode().catch(() => {});
    const w = img.naturalWidth, h = img.naturalHeight;
    if (!w || !h) { out.push({alt: img.alt, opaque: 0, width: w}); continue; }
    const canvas = document.createElement('canvas');
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0, w, h);
    const data = ctx.getImageData(0, 0, w, h).data;
    let opaque = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] === 255) opaque++;
    out.push({alt: img.alt, opaque: opaque / (w * h), width: w});
  }
  return out;
}"""

# The notebook's scroller (JupyterLab 4) and how far it scrolls.
SCROLLER = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer"


def _stem(name: str) -> str:
    return name.removesuffix(".ipynb")


def screens(page: Page, folder: Path, prefix: str) -> list[Path]:
    """Screenshot the notebook screen by screen, top to bottom: ``<prefix>-NN.png`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{prefix}-*.png"):
        old.unlink()
    scroller = page.locator(SCROLLER).first
    height = scroller.evaluate("s => s.clientHeight")
    # Down to the end of the last cell (the notebook adds empty room below it).
    total = scroller.evaluate("""s => { const cells = s.querySelectorAll('.jp-Cell');
        const last = cells[cells.length - 1];
        return last ? last.getBoundingClientRect().bottom - s.getBoundingClientRect().top + s.scrollTop + 20
                    : s.scrollHeight; }""")
    shots = []
    for n in range(min(MAX_SCREENS, math.ceil(total / max(1, height - 60)))):
        # Scrolled, and two frames painted since (no fixed wait: the page draws what it scrolled to).
        scroller.evaluate("""(s, top) => { s.scrollTop = top;
            return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))); }""", n * (height - 60))
        shot = folder / f"{prefix}-{n + 1:02d}.png"
        page.screenshot(path=str(shot))
        shots.append(shot)
    scroller.evaluate("s => { s.scrollTop = 0; }")
    return shots


def overlapping_options(page: Page) -> list[dict]:
    """Quiz options whose labels overlap the next one, cut their text off, or hide their button."""
    bad = []
    for options in page.evaluate(QUIZ_LAYOUT_JS):
        for i, option in enumerate(options):
            button = option["button"]
            if option["clipped"]:
                bad.append({"option": option["text"], "problem": "text cut off"})
            if button is None or button["width"] <= 0 or button["top"] < option["top"] - 1 \
                    or button["bottom"] > option["bottom"] + 1:
                bad.append({"option": option["text"], "problem": "radio button hidden or outside its label"})
            elif button["left"] > option["left"] + 4:
                bad.append({"option": option["text"], "problem": "radio button after its text, not before"})
            if i + 1 < len(options) and options[i + 1]["top"] < option["bottom"] - 0.5:
                bad.append({"option": option["text"], "problem": f"overlaps {options[i + 1]['text']!r}"})
    return bad


# ---------------------------------------------------------------------------------- opened untrusted
@pytest.mark.timeout(420)
@pytest.mark.parametrize("name", NAMES, ids=[_stem(n) for n in NAMES])
def test_a_lesson_opened_untrusted_reads_well_as_stored_and_as_run(lab: NotebookPage, lessons: dict[str, NotebookPage],
                                                                    name: str, artifacts_dir: Path) -> None:
    """Two untrusted notebooks in one JupyterLab page. The lesson as committed (static renderings
    only): its text passes WCAG contrast and its images carry their own background, in the light and
    in the dark theme. Then the lesson as the session's browser run left it, stripped as
    `static_outputs` strips it: its outputs pass the sanitiser readably."""
    folder = copy_lessons(lab.server.root, STORED)
    lab.page.set_viewport_size(VIEWPORT)
    lab.open(f"{STORED}/{name}", kernel=False)
    outputs = lab.page.locator(".jp-Notebook .jp-OutputArea-output")
    expect(outputs.first).to_be_attached()
    try:
        for theme in ("light", "dark"):
            set_theme(lab.page, theme)
            result = low_contrast(lab.page, ".jp-Notebook .jp-OutputArea-output")
            assert result["checked"] > 10, result
            assert result["failures"] == [], f"{name}, {theme} theme, before Run All: {result['failures']}"
            images = lab.page.evaluate(OPAQUE_JS)
            thin = [i for i in images if i["opaque"] < 0.98]
            assert thin == [], f"{name}: images that let the {theme} page show through: {thin}"
            screens(lab.page, artifacts_dir / "lessons" / _stem(name), f"before-{theme}")
    finally:
        set_theme(lab.page, "light")  # a server setting: leave it as the other tests expect it

    ran = lessons[name]
    nb = nbformat.from_dict(ran.page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.toJSON()"))
    for cell in nb.cells:
        if cell.get("attachments", {}) is None:  # JupyterLab's model says null where nbformat has no key
            del cell["attachments"]
    assert any(o.get("data", {}).get(WIDGET_VIEW) for c in nb.cells for o in c.get("outputs", [])), \
        "the browser's run holds the widgets"
    strip(nb)
    assert problems(nb) == []
    target = folder / f"untrusted_{name}"
    nbformat.write(nb, target)
    lab.page.set_viewport_size({"width": 1400, "height": 900})
    lab.open_in_app(f"{STORED}/{target.name}")
    expect(outputs.locator(".lw-root").first).to_be_visible()
    expect(outputs.filter(has_text=re.compile(r"Loading widget|Error displaying widget"))).to_have_count(0)
    assert lab.page.locator(".jp-Notebook .jp-OutputArea-output style, .jp-OutputArea-output svg").count() == 0, \
        "the sanitiser ran: no <style>, no <svg> is left"
    result = run_together(lab.page)
    assert result["checked"] > 10 and result["glued"] == [], result
    images = lab.page.locator(".jp-OutputArea-output img.lw-timeline-img, .jp-OutputArea-output img.lw-flow-img")
    for img in images.all():
        img.scroll_into_view_if_needed()
        expect(img).to_be_visible()
        assert img.evaluate("i => i.complete && i.naturalWidth > 0"), "the drawing is shown, offline"
    assert overflowing(lab.page) == []
    lab.screenshot("untrusted", outputs.locator(".lw-root").first)


# ---------------------------------------------------------------------------------- after Run All
# Every stepper that stands elsewhere than on its view's last step, also where a later cell added that step.
STEPPERS_BEHIND_JS = """() => [...document.querySelectorAll('.jp-OutputArea-output .lw-invocation')]
    .filter(v => v.querySelector('.lw-stepper'))
    .map(v => [v.querySelector('.widget-readout').textContent.trim(),
               [...v.querySelectorAll('.lw-step-table tbody tr')].pop().dataset.step])
    .filter(([at, last]) => at !== last)"""


def shoot_first_view(page: Page, folder: Path, name: str, theme: str) -> None:
    """The lesson's first view in the viewport, as ``<folder>/<lesson>-<theme>.png``."""
    first = page.locator(".jp-Notebook .jp-OutputArea-output .lw-root").first
    first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(200)
    page.screenshot(path=str(folder / f"{_stem(name)}-{theme}.png"))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", NAMES, ids=[_stem(n) for n in NAMES])
def test_a_lesson_after_run_all_fits_and_reads_in_both_themes(lessons: dict[str, NotebookPage], name: str,
                                                              artifacts_dir: Path) -> None:
    """One pass over the lesson's page as Run All left it: the light theme at every width, then the
    light and the dark theme at 1,280 px, each with its checks and its screenshots."""
    nb = lessons[name]
    page = nb.page
    folder = artifacts_dir / "lessons"
    folder.mkdir(parents=True, exist_ok=True)
    quizzes = page.locator(".jp-Notebook .lw-quiz")
    expect(quizzes.first, f"{name} ends with a quiz").to_be_attached()
    try:
        set_theme(page, "light")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(400)
            assert overflowing(page) == [], f"{name} at {width} px"
            for quiz in quizzes.all():  # JupyterLab lays out only what is near the viewport
                quiz.scroll_into_view_if_needed()
            page.wait_for_timeout(200)
            assert overlapping_options(page) == [], f"{name} at {width} px"
        page.set_viewport_size(VIEWPORT)
        page.wait_for_timeout(300)
        assert page.evaluate(STEPPERS_BEHIND_JS) == [], f"{name}: steppers not on their last step (at, last)"
        # The current node of every flow drawing is inside its cell, so it is on screen with it.
        for flow in page.locator(".jp-OutputArea-output svg.lw-flow").all()[:4]:
            # On screen first: JupyterLab skips the layout of cells far out of view (content-visibility),
            # so an off-screen drawing can still report its size from the previous, wider viewport.
            flow.scroll_into_view_if_needed()
            page.wait_for_timeout(200)
            box = flow.bounding_box()
            cell = flow.locator("xpath=ancestor::*[contains(@class,'jp-OutputArea-output')]")
            assert box is not None and box["width"] <= cell.bounding_box()["width"] + 1
        for theme in ("light", "dark"):
            set_theme(page, theme)
            views = low_contrast(page)
            assert views["checked"] > 20, views
            assert views["failures"] == [], f"{name}: text below WCAG contrast in the {theme} theme"
            quiz = low_contrast(page, ".jp-Notebook .lw-quiz")
            assert quiz["checked"] > 5 and quiz["failures"] == [], (name, theme, quiz["failures"])
            assert overflowing(page) == [], f"{name} in the {theme} theme"
            shoot_first_view(page, folder, name, theme)
            screens(page, folder / _stem(name), f"after-{theme}")
        page.set_viewport_size({"width": 1000, "height": 1000})  # the dark theme at the lessons' own width
        page.wait_for_timeout(400)
        assert overflowing(page) == [], f"{name} in the dark theme at 1000 px"
    finally:
        set_theme(page, "light")
        page.set_viewport_size({"width": 1000, "height": 1000})


@pytest.mark.timeout(120)
def test_a_wrong_answer_says_why_it_is_wrong(lessons: dict[str, NotebookPage], artifacts_dir: Path) -> None:
    """Lesson 06's first question: a wrong option is answered with its own reason, the right one with
    the explanation, and the score line says what it counts."""
    name = next((n for n in NAMES if n.startswith("06")), None)
    if name is None:
        pytest.skip("lesson 06 is needed")
    source = json.loads((LESSONS / f"{_stem(name)}.quiz.json").read_text(encoding="utf-8"))["questions"][0]
    right = source["options"][source["answer"]]
    wrong = next(o for o in source["options"] if isinstance(o, dict))
    page = lessons[name].page
    page.set_viewport_size(VIEWPORT)
    question = page.locator(".jp-Notebook .lw-quiz .lw-quiz-question").first
    question.scroll_into_view_if_needed()
    question.get_by_role("radio", name=wrong["text"], exact=True).check()
    question.locator(".lw-quiz-check").click()
    feedback = question.locator(".lw-quiz-feedback")
    expect(feedback).to_have_class(re.compile(r"\blw-incorrect\b"))
    expect(feedback).to_contain_text(wrong["why"])
    page.screenshot(path=str(artifacts_dir / "lessons" / "quiz-wrong-answer.png"))
    question.get_by_role("radio", name=right, exact=True).check()
    question.locator(".lw-quiz-check").click()
    expect(feedback).to_have_class(re.compile(r"\blw-correct\b"))
    score = page.locator(".jp-Notebook .lw-quiz .lw-quiz-score").first
    expect(score).to_have_text(re.compile(r"^Score: 0 of \d+ questions right at the first try \(1 of \d+ answered\)$"))
    page.set_viewport_size({"width": 1000, "height": 1000})
