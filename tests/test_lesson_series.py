"""One path through the lessons, and quizzes that teach (issue 22), checked on the stored notebooks.

Every rule here applies to each ``notebooks/NN_*.ipynb`` as it is added: the ending (summary, quiz,
Next link), the lists in the README and lesson 1, the quizzes (a reason for every wrong option,
shuffled, the right answers spread over the positions) and an assert cell beside every chart.
Nothing is executed: the lessons run once under nbval and once in the browser.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from lambda_widget.quizzes import Quiz

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
QUIZ_FILES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.quiz.json"))
LINK = re.compile(r"\]\((\d\d_[\w-]+\.ipynb)\)")
NEXT = re.compile(r"^\*\*Next:\*\* \[Lesson (\d+) · [^\]]+\]\((\d\d_[\w-]+\.ipynb)\): \S")
LAST_WORDS = re.compile(r"\b(last lesson|end of the series|final lesson)\b", re.I)
# Code that draws a chart or prints the numbers a lesson then makes claims about.
CHARTED = re.compile(r"\b(lw\.power_tune|lw\.simulate|lw\.keep_alive_sweep|cold_share_view)\(")
ANSWER = re.compile(r"<summary>Answer</summary><b>([A-Z])\. ")


def _ids(paths: list[Path]) -> list[str]:
    return [p.name.split(".")[0] for p in paths]


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _heading(cell: nbformat.NotebookNode) -> str:
    return cell.source.splitlines()[0] if cell.cell_type == "markdown" and cell.source else ""


def test_there_are_lessons_and_each_has_its_number():
    assert len(LESSONS) >= 9
    numbers = [int(p.name[:2]) for p in LESSONS]
    assert numbers == list(range(1, len(LESSONS) + 1)), "lessons are numbered 01, 02, ... without gaps"
    for path in LESSONS:
        title = _read(path).cells[0].source.splitlines()[0]
        assert title.startswith(f"# Lesson {int(path.name[:2])} · "), (path.name, title)


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_every_lesson_ends_with_a_summary_a_quiz_and_a_next_link(path: Path):
    cells = _read(path).cells
    heads = [_heading(c) for c in cells]
    summary = [i for i, h in enumerate(heads) if h.startswith("## Summary")]
    quiz = [i for i, h in enumerate(heads) if h == "## Quiz"]
    assert len(summary) == 1 and len(quiz) == 1, f"one '## Summary' and one '## Quiz' section: {heads}"
    s, q = summary[0], quiz[0]
    assert s < q, "the summary comes before the quiz"
    assert re.search(r"^\* ", cells[s].source, re.M), "the summary is a list of points"
    quiz_code = [i for i in range(q + 1, len(cells)) if cells[i].cell_type == "code"
                 and re.search(r"\b(Quiz|quiz_from|quiz)\b", cells[i].source)]
    assert quiz_code, "a quiz cell follows the Quiz heading"
    later = [h for h in heads[q + 1:] if h.startswith("## ")]
    assert all(h.startswith("## Behind the quiz") for h in later), f"nothing but the quiz after it: {later}"
    last = cells[-1]
    assert last.cell_type == "markdown", "the lesson ends with its link onward"
    following = [p for p in LESSONS if p.name > path.name]
    if following:
        match = NEXT.match(last.source)
        assert match, f"the last cell is '**Next:** [Lesson N · Title](file.ipynb): ...', not {last.source!r}"
        assert (int(match.group(1)), match.group(2)) == (int(following[0].name[:2]), following[0].name)
    else:
        assert LAST_WORDS.search(last.source) and "](01_" in last.source, \
            "the last lesson says so and leads back to lesson 1"


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_no_lesson_says_it_is_the_last_unless_it_is(path: Path):
    if path == LESSONS[-1]:
        return
    for cell in _read(path).cells:
        if cell.cell_type == "markdown":
            assert not LAST_WORDS.search(cell.source), f"{path.name} is not the last lesson: {cell.source[:120]!r}"


def test_the_readme_and_lesson_1_list_every_lesson_in_order():
    names = [p.name for p in LESSONS]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## The lessons"):]
    table = table[:table.index("\n\n", table.index("| # |"))]
    rows = [line for line in table.splitlines() if re.match(r"\| \d+ \|", line)]
    assert [re.search(r"\(notebooks/([^)]+)\)", r).group(1) for r in rows] == names
    assert [int(r.split("|")[1]) for r in rows] == [int(n[:2]) for n in names]
    series = next(c for c in _read(LESSONS[0]).cells if _heading(c) == "## The series")
    assert LINK.findall(series.source) == names, "lesson 1's list of the series"


@pytest.mark.parametrize("path", QUIZ_FILES, ids=_ids(QUIZ_FILES))
def test_every_wrong_option_says_why_it_is_wrong(path: Path):
    quiz = Quiz.from_json(path, shuffle=False)
    assert len(quiz) >= 2
    for question in quiz:
        for i, option in enumerate(question.options):
            if i == question.answer:
                continue
            why = question.why_not(i)
            assert len(why) >= 20 and why.rstrip().endswith((".", ")")), (question.prompt, option, why)
        assert question.hint and question.explanation, question.prompt


def test_the_right_option_is_not_usually_the_longest():
    """A tell: when the right answer is the longest option, learners can guess it unread."""
    questions = [q for path in QUIZ_FILES for q in Quiz.from_json(path, shuffle=False)]
    longest = sum(len(q.options[q.answer]) > max(len(o) for i, o in enumerate(q.options) if i != q.answer)
                  for q in questions)
    assert longest <= len(questions) // 2, f"the right option is the longest in {longest} of {len(questions)}"


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_every_quiz_is_shuffled(path: Path):
    """No lesson keeps the written order: no shuffle=False, and each quiz file's answers, shuffled
    with the lesson's seed as the lesson does, are what the stored lesson shows."""
    cells = _read(path).cells
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    assert "shuffle=False" not in code
    seed = re.search(r"%lambda reset --seed (\d+)", code)
    assert seed, "a lesson starts from a seeded manager, so that its quizzes are the same every run"
    if "lw.Quiz(" in code:
        return  # the lesson builds its quiz from parts (lesson 3): the stored answers are checked below
    for name in re.findall(r"Quiz\.from_json\(\"([^\"]+)\"", code):
        quiz = Quiz.from_json(NOTEBOOKS / name, seed=int(seed.group(1)))
        shown = [t for c in cells for o in c.get("outputs", [])
                 for t in [o.get("data", {}).get("text/html", "")] if "lw-quiz-static" in t]
        letters = "".join(chr(ord("A") + q.answer) for q in quiz)
        assert any("".join(ANSWER.findall(t)) == letters for t in shown), \
            f"{name}: the stored answers are not the seeded shuffle {letters}"


def test_right_answers_are_spread_over_the_positions():
    """Across the lessons (as stored, generated questions included) no position holds most answers,
    and no lesson with three or more questions has all its answers in one position."""
    overall: Counter[str] = Counter()
    for path in LESSONS:
        letters = [a for c in _read(path).cells for o in c.get("outputs", [])
                   for a in ANSWER.findall(o.get("data", {}).get("text/html", ""))]
        assert letters, f"{path.name}: its quiz is stored (static rendering)"
        if len(letters) >= 3:
            assert len(set(letters)) >= 2, f"{path.name}: every answer is {letters[0]}"
        overall.update(letters)
    total = sum(overall.values())
    assert len(overall) >= 3 and max(overall.values()) <= 0.45 * total, overall


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_every_chart_and_number_has_an_assert_cell_beside_it(path: Path):
    """A claim about a curve or a number is checked next to it: every cell that draws a power-tuning,
    traffic or keep-alive chart has an ``# ASSERT`` cell among the next three code cells."""
    code = [c for c in _read(path).cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        if CHARTED.search(cell.source):
            after = code[i + 1:i + 4]
            assert any(c.source.lstrip().startswith("# ASSERT") for c in after), \
                f"{path.name}: no assert cell after {cell.source.splitlines()[0]!r}"


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_stored_images_carry_their_own_background(path: Path):
    """An image sees no page CSS: with dark text on a transparent background it would vanish in a
    dark theme before the lesson runs."""
    import base64

    seen = 0
    for cell in _read(path).cells:
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html", "")
            for data in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html):
                svg = base64.b64decode(data).decode()
                opening = re.search(r"<svg\b[^>]*>", svg)
                assert opening and svg[opening.end():].startswith('<rect class="lw-paper"'), \
                    f"{path.name}: a stored image without its own background"
                seen += 1
    stored = json.dumps(_read(path).cells)
    assert seen or "data:image/svg" not in stored
