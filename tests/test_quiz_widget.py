"""The quiz widget: answers checked in the kernel through clicks and through the Python API."""

from __future__ import annotations

import comm
import ipywidgets as widgets
import pytest
from conftest import SEED_SOURCE as SEED

import lambda_widget as lw
from lambda_widget.quizzes import Quiz, quiz_from
from lambda_widget.views.quiz import QuizView, quiz_bundle, quiz_html, quiz_view


class RecordingComm(comm.DummyComm):
    """A comm that keeps every message a widget sends."""

    sent: list[tuple[str, str, dict]] = []

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys) -> None:
        RecordingComm.sent.append((self.comm_id, msg_type, data or {}))


@pytest.fixture
def recorded(monkeypatch):
    RecordingComm.sent = []
    monkeypatch.setattr(comm, "create_comm", lambda *a, **k: RecordingComm(*a, **k))
    return RecordingComm.sent


@pytest.fixture(scope="module")
def seed_quiz_data():
    """The seed's three questions, generated from a real run of its handler."""
    mgr = lw.ContainerManager(seed=1)
    try:
        mgr.register("double", SEED)
        inv = mgr.invoke("double", {"value": 5})
        mgr.advance(601)
        return quiz_from(inv, kinds=["first-step", "variable", "idle"]).to_dict()
    finally:
        mgr.shutdown()


@pytest.fixture
def seed_quiz(seed_quiz_data) -> Quiz:
    return Quiz(seed_quiz_data["questions"], title=seed_quiz_data["title"])


def walk(widget: widgets.Widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


def a_wrong(question) -> int:
    return next(i for i in range(len(question.options)) if i != question.answer)


def test_structure_and_css_contract(seed_quiz: Quiz) -> None:
    view = quiz_view(seed_quiz)
    assert isinstance(view, QuizView) and quiz_view(seed_quiz) is view
    assert "Check" in view.title.value and "first try" in view.title.value, "it says how answering and scoring work"
    assert "lw-quiz" in view._dom_classes
    boxes = [w for w in walk(view) if "lw-quiz-question" in getattr(w, "_dom_classes", ())]
    assert len(boxes) == 3
    assert [q.feedback for q in view.questions] == \
        [w for w in walk(view) if "lw-quiz-feedback" in getattr(w, "_dom_classes", ())]
    assert view.score_label.get_state()["value"] == "Score: 0 of 3 questions right at the first try (0 of 3 answered)"
    assert "lw-quiz-score" in view.score_label.get_state()["_dom_classes"]
    assert not any(isinstance(w, widgets.Output) for w in walk(view))
    first = view.questions[0]
    assert tuple(first.options.get_state()["_options_labels"]) == seed_quiz[0].options
    assert first.options.value is None and first.check.description == "Check"
    assert first.hint_toggle.description == "Hint"


def test_clicking_check_gives_feedback_and_score(seed_quiz: Quiz) -> None:
    view = quiz_view(seed_quiz)
    first, second, third = view.questions
    q0 = seed_quiz[0]

    first.options.value = a_wrong(q0)
    first.check.click()
    wrong_text = q0.options[a_wrong(q0)]
    why = q0.why_not(a_wrong(q0)).replace("'", "&#x27;").replace("`print(&#x27;Start&#x27;)`",
                                                                 "<code>print(&#x27;Start&#x27;)</code>")
    assert why and first.feedback.get_state()["value"] == \
        ('<b style="color: var(--jp-error-color1, #cf222e)">✗ Incorrect:</b> '
         f"&#x27;{wrong_text}&#x27;: {why} Try again."), "a wrong option says why it is wrong"
    assert "lw-incorrect" in first.feedback._dom_classes
    assert view.score_label.value == "Score: 0 of 3 questions right at the first try (1 of 3 answered)" and not first.check.disabled

    first.options.value = q0.answer
    first.check.click()
    state = first.feedback.get_state()
    assert state["value"].startswith('<b style="color: var(--jp-success-color1, #1a7f37)">✓ Correct!</b> ')
    assert "runs at step 3" in state["value"]
    assert "only a right first try counts" in state["value"], "a late right answer says it does not score"
    assert "lw-correct" in state["_dom_classes"] and "lw-incorrect" not in state["_dom_classes"]
    assert first.options.disabled and first.check.disabled

    second.options.value = seed_quiz[1].answer
    second.check.click()
    third.options.value = seed_quiz[2].answer
    third.check.click()
    assert view.score_label.get_state()["value"] == "Score: 2 of 3 questions right at the first try (3 of 3 answered)"
    assert seed_quiz.score == 2 and view.score == 2


def test_check_without_a_choice_records_nothing(seed_quiz: Quiz) -> None:
    view = quiz_view(seed_quiz)
    view.questions[1].check.click()
    assert view.questions[1].feedback.value == "Choose an option first, then press Check."
    assert seed_quiz.answered == 0 and seed_quiz.revision == 0


def test_python_api_drives_the_widget(seed_quiz: Quiz) -> None:
    view = quiz_view(seed_quiz)
    assert view.answer(1, seed_quiz[1].answer) is True
    assert view.questions[1].options.value == seed_quiz[1].answer
    assert seed_quiz.answer(0, a_wrong(seed_quiz[0])) is False
    assert view.questions[0].options.value == a_wrong(seed_quiz[0]), "a model answer shows in the widget"
    assert "✗ Incorrect" in view.questions[0].feedback.value
    assert view.score_label.value == "Score: 1 of 3 questions right at the first try (2 of 3 answered)"
    seed_quiz.reset()
    assert view.questions[1].options.value is None and not view.questions[1].check.disabled
    assert view.questions[0].feedback.value == "" and view.score_label.value == "Score: 0 of 3 questions right at the first try (0 of 3 answered)"


def test_hint_toggle(seed_quiz: Quiz) -> None:
    question = quiz_view(seed_quiz).questions[1]
    question.hint_toggle.value = True
    assert question.hint.value == \
        "💡 In the variable tracker, look at the &#x27;result&#x27; row in column 4: its value after step 4."
    question.hint_toggle.value = False
    assert question.hint.value == ""
    bare = quiz_view(Quiz([{"question": "Q", "options": ["a", "b"], "answer": 0}]))
    assert "<style>" in quiz_view(seed_quiz).title.value and ".lw-quiz .widget-radio-box label" in \
        quiz_view(seed_quiz).title.value, "long options wrap inside their own label"
    assert bare.questions[0].hint_toggle.disabled


def test_one_update_message_per_widget_per_check(recorded, seed_quiz: Quiz) -> None:
    view = quiz_view(seed_quiz)
    question = view.questions[2]
    question.options.value = seed_quiz[2].answer
    recorded.clear()
    question.check.click()
    updates = [(cid, data["state"]) for cid, kind, data in recorded
               if kind == "comm_msg" and data.get("method") == "update"]
    ids = [cid for cid, _ in updates]
    assert len(ids) == len(set(ids)), f"more than one update for a widget: {ids}"
    states = dict(updates)
    feedback = states[question.feedback.comm.comm_id]
    assert "✓ Correct!" in feedback["value"] and "lw-correct" in feedback["_dom_classes"]
    assert states[view.score_label.comm.comm_id] == {"value": "Score: 1 of 3 questions right at the first try (1 of 3 answered)"}
    assert states[question.check.comm.comm_id] == {"disabled": True}


def test_mimebundle_has_widget_static_html_and_short_text(seed_quiz: Quiz) -> None:
    bundle = quiz_bundle(seed_quiz)
    view = quiz_view(seed_quiz)
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == view.model_id
    assert bundle["text/plain"] == "<Quiz 'Quiz: invocation #1 of double': 3 questions, score 0 / 3>"
    assert view._repr_mimebundle_()["text/html"] == bundle["text/html"] == quiz_html(seed_quiz)
    page = bundle["text/html"]
    assert page.startswith('<div class="lw-quiz-static">') and page.count('class="lw-quiz-static-question"') == 3
    assert "what does <code>result</code> hold after step 4?" in page
    for question in seed_quiz:
        for option in question.options:
            assert f"<li>{option}</li>" in page
    answers = page.split("<summary>Answer</summary>")
    assert len(answers) == 4
    assert all("</details>" in part for part in answers[1:]), "every answer is folded in <details>"
    assert "<b>" + "ABCD"[seed_quiz[1].answer] + ". 10</b>" in answers[2]


def test_static_html_escapes_authored_text() -> None:
    quiz = Quiz([{"question": "Is <b> safe?", "options": ["<script>", "yes & no"], "answer": 1}], title="<T>")
    page = quiz_html(quiz)
    assert "<script>" not in page and "&lt;script&gt;" in page and "yes &amp; no" in page
    assert "<h4>&lt;T&gt;</h4>" in page


def test_in_a_real_kernel() -> None:
    """Displayed in a kernel, a quiz is a live widget; an answer checked there reaches the widget state."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cells = [
        "import lambda_widget as lw\nfrom lambda_widget.quizzes import Quiz\n"
        "quiz = Quiz([{'question': 'Which step runs `print`?', 'options': ['Step 2', 'Step 3'], 'answer': 1}],"
        " title='Kernel quiz', shuffle=False)\nquiz",
        "from lambda_widget.views.quiz import quiz_view\n"
        "assert quiz_view(quiz).answer(0, 1) is True\nprint(quiz.score_text())",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3", store_widget_state=True).execute()
    shown = nb.cells[0].outputs[0]["data"]
    assert shown["text/plain"] == "<Quiz 'Kernel quiz': 1 question, score 0 / 1>"
    assert "application/vnd.jupyter.widget-view+json" in shown and "lw-quiz-static" in shown["text/html"]
    assert nb.cells[1].outputs[0]["text"] == "Score: 1 of 1 question right at the first try (1 of 1 answered)\n"
    states = [m["state"] for m in nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"].values()]
    assert any(s.get("value") == "Score: 1 of 1 question right at the first try (1 of 1 answered)" and "lw-quiz-score" in s.get("_dom_classes", []) for s in states)
    assert any("✓ Correct!" in str(s.get("value")) and "lw-correct" in s.get("_dom_classes", [])
               for s in states)
