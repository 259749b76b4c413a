"""The quiz widget: radio options, a Check button and a Hint toggle per question, feedback and a score.

Answers are checked in the kernel: Check calls ``Quiz.answer``, and the view re-renders from the
quiz's state whenever its ``revision`` changes (also after a programmatic ``quiz.answer``).
The model (``lambda_widget.quizzes``) knows nothing of this module: ``quiz_view(quiz)`` builds the
view, and ``register_display`` makes IPython show a ``Quiz`` as it.
"""

from __future__ import annotations

import html
import re
import weakref
from contextlib import ExitStack
from typing import Any

import ipywidgets as widgets

from lambda_widget.quizzes import Quiz

_CODE = re.compile(r"`([^`]+)`")
# Feedback colours: JupyterLab's success/error variables, with fallbacks for viewers without them.
_RIGHT = "var(--jp-success-color1, #1a7f37)"
_WRONG = "var(--jp-error-color1, #cf222e)"
HOW_TO = ("Choose an option and press <b>Check</b>. A wrong answer says why it is wrong, and can be "
          "tried again; the score counts only the questions answered right at the first try.")
# ipywidgets draws each radio option as a 20 px high label with its button floated left: a long
# option wrapped inside it, spilled over the next one and hid its own button. Here a label grows
# with its text, and the button (after the text in the DOM) stays in front of its first line.
CSS = """
.lw-quiz { max-width: 100%; min-width: 0; }
.lw-quiz .lw-quiz-question { max-width: 100%; min-width: 0; margin: 0 0 10px 0; }
.lw-quiz .widget-html-content, .lw-quiz .jupyter-widget-html-content { white-space: normal;
  line-height: 1.45; overflow-wrap: anywhere; }
.lw-quiz .widget-radio, .lw-quiz .jupyter-widget-radio { width: auto; max-width: 100%; min-width: 0;
  line-height: 1.4; }
.lw-quiz .widget-radio-box, .lw-quiz .jupyter-widget-radio-box { min-width: 0; margin-bottom: 2px; }
.lw-quiz .widget-radio-box label, .lw-quiz .jupyter-widget-radio-box label { display: flex;
  align-items: flex-start; height: auto; min-height: var(--jp-widgets-radio-item-height, 24px);
  line-height: 1.4; padding: 3px 0; white-space: normal; overflow-wrap: anywhere; cursor: pointer; }
.lw-quiz .widget-radio-box input, .lw-quiz .jupyter-widget-radio-box input { float: none; flex: none;
  order: -1; height: 1.4em; line-height: normal; margin: 0 8px 0 1px; }
.lw-quiz .lw-quiz-how { color: var(--jp-ui-font-color2, #57606a); }
"""
_VIEWS: weakref.WeakKeyDictionary[Quiz, QuizView] = weakref.WeakKeyDictionary()


def inline(text: str) -> str:
    """Escape ``text`` for HTML and show `backticked` spans as code."""
    return _CODE.sub(r"<code>\1</code>", html.escape(text))


def verdict(correct: bool) -> str:
    """The coloured, bold start of a feedback line (colour and words say the same thing)."""
    colour, words = (_RIGHT, "✓ Correct!") if correct else (_WRONG, "✗ Incorrect:")
    return f'<b style="color: {colour}">{words}</b>'


def feedback_html(quiz: Quiz, index: int) -> str:
    """The feedback for question ``index`` as HTML: the coloured verdict, then the explanation."""
    text = quiz.feedback(index)
    if not text:
        return ""
    correct = quiz.is_correct(index)
    rest = text.removeprefix("Correct!" if correct else "Incorrect:")
    return verdict(correct) + inline(rest)


class QuestionView(widgets.VBox):
    """One question: prompt, options, Check, Hint, feedback."""

    def __init__(self, quiz: Quiz, index: int) -> None:
        self.quiz, self.index = quiz, index
        question = quiz.questions[index]
        self.prompt = widgets.HTML(f"<b>{index + 1}.</b> {inline(question.prompt)}")
        self.options = widgets.RadioButtons(options=[(text, i) for i, text in enumerate(question.options)],
                                            value=None, layout=widgets.Layout(width="auto"))
        self.check = widgets.Button(description="Check", button_style="primary", tooltip="Check your answer")
        self.hint_toggle = widgets.ToggleButton(description="Hint", value=False, disabled=not question.hint,
                                                tooltip="Show where to look")
        self.hint = widgets.HTML("")
        self.feedback = widgets.HTML("")
        self.check.add_class("lw-quiz-check")
        self.hint_toggle.add_class("lw-quiz-hint-toggle")
        self.hint.add_class("lw-quiz-hint")
        self.feedback.add_class("lw-quiz-feedback")
        super().__init__(children=[self.prompt, self.options, widgets.HBox([self.check, self.hint_toggle]),
                                   self.hint, self.feedback])
        self.add_class("lw-quiz-question")
        self.check.on_click(self._on_check)
        self.hint_toggle.observe(self._on_hint, "value")
        self._seen = 0  # attempts already mirrored into the radio buttons

    def _on_check(self, _button: Any = None) -> None:
        if self.options.value is None:
            with self.feedback.hold_sync():
                self.feedback.value = "Choose an option first, then press Check."
                self._mark("")
            return
        self.quiz.answer(self.index, self.options.value)

    def _on_hint(self, change: dict) -> None:
        with self.hint.hold_sync():
            self.hint.value = f"💡 {inline(self.quiz.questions[self.index].hint)}" if change["new"] else ""

    def _mark(self, state: str) -> None:
        for name in ("lw-correct", "lw-incorrect"):
            if name in self.feedback._dom_classes and name != state:
                self.feedback.remove_class(name)
        if state and state not in self.feedback._dom_classes:
            self.feedback.add_class(state)

    def render(self) -> None:
        """Show the quiz's state for this question; the caller holds sync."""
        tries = self.quiz.attempts(self.index)
        if len(tries) != self._seen:
            self.options.value = tries[-1] if tries else None
            self._seen = len(tries)
        correct = bool(tries) and self.quiz.is_correct(self.index)
        self.feedback.value = feedback_html(self.quiz, self.index)
        self._mark(("lw-correct" if correct else "lw-incorrect") if tries else "")
        self.options.disabled = self.check.disabled = correct

    def widgets_to_hold(self) -> list[widgets.Widget]:
        return [self.options, self.check, self.feedback]


class QuizView(widgets.VBox):
    """The widget of a ``Quiz`` (class ``lw-quiz``); ``answer(i, option)`` answers as a click would."""

    def __init__(self, quiz: Quiz) -> None:
        self.quiz = quiz
        self.title = widgets.HTML(f"<style>{CSS}</style><h4>{inline(quiz.title)}</h4>"
                                  f"<div class=\"lw-quiz-how\">{HOW_TO}</div>")
        self.questions = [QuestionView(quiz, i) for i in range(len(quiz))]
        self.score_label = widgets.HTML("")
        self.score_label.add_class("lw-quiz-score")
        super().__init__(children=[self.title, *self.questions, self.score_label])
        self.add_class("lw-quiz")
        quiz.observe(self._on_revision, "revision")
        self._on_revision()

    def _on_revision(self, _change: Any = None) -> None:
        with ExitStack() as stack:
            for held in [self.score_label, *(w for q in self.questions for w in q.widgets_to_hold())]:
                stack.enter_context(held.hold_sync())
            for question in self.questions:
                question.render()
            self.score_label.value = html.escape(self.quiz.score_text())

    def answer(self, index: int, option: int) -> bool:
        """Select ``option`` for question ``index`` and press Check; return whether it is right."""
        question = self.questions[index]
        question.options.value = option
        question.check.click()
        return self.quiz.is_correct(index)

    @property
    def score(self) -> int:
        return self.quiz.score

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = repr(self.quiz)
        data["text/html"] = quiz_html(self.quiz)
        return data


def quiz_view(quiz: Quiz) -> QuizView:
    """The one widget of ``quiz`` (built on first use, then reused)."""
    view = _VIEWS.get(quiz)
    if view is None:
        view = _VIEWS[quiz] = QuizView(quiz)
    return view


def quiz_bundle(quiz: Quiz, include: Any = None, exclude: Any = None) -> dict[str, Any]:
    """What IPython displays for a ``Quiz``: its widget, static HTML and short text."""
    return quiz_view(quiz)._repr_mimebundle_(include=include, exclude=exclude)


def quiz_html(quiz: Quiz) -> str:
    """Static HTML: the questions and options, with hints and answers (and why each other option is
    wrong) folded in ``<details>``."""
    parts = [f'<div class="lw-quiz-static"><h4>{inline(quiz.title)}</h4><ol>']
    for question in quiz.questions:
        options = "".join(f"<li>{html.escape(o)}</li>" for o in question.options)
        letter = chr(ord("A") + question.answer)
        answer = f"<b>{letter}. {html.escape(question.options[question.answer])}</b>"
        if question.explanation:
            answer += f" {inline(question.explanation)}"
        others = [f"<li>{chr(ord('A') + i)}: {inline(question.why_not(i))}</li>"
                  for i in range(len(question.options)) if i != question.answer and question.why_not(i)]
        if others:
            answer += f'<ul class="lw-quiz-why">{"".join(others)}</ul>'
        hint = f"<details><summary>Hint</summary>{inline(question.hint)}</details>" if question.hint else ""
        parts.append(f'<li class="lw-quiz-static-question"><p>{inline(question.prompt)}</p>'
                     f'<ol type="A">{options}</ol>{hint}'
                     f"<details><summary>Answer</summary>{answer}</details></li>")
    parts.append("</ol></div>")
    return "".join(parts)
