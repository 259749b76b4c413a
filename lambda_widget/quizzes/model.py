"""The quiz model: questions authored in Python or JSON, validated, answered and scored.

Pure data and logic: nothing here imports a widget or a view. ``Quiz`` is a traitlets object whose
``revision`` goes up on every answer, so a view can observe it. ``lambda_widget.views.quiz`` draws it;
in a kernel, ``import lambda_widget`` registers that view as the display of a ``Quiz``.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from traitlets import HasTraits, Int

_KEYS = {"question": "prompt", "prompt": "prompt", "options": "options", "answer": "answer",
         "hint": "hint", "explain": "explanation", "explanation": "explanation"}
_OPTION_KEYS = {"text", "why"}


class QuizError(ValueError):
    """A quiz that cannot be built or answered as asked."""


def manager_seed() -> int:
    """The seed of the kernel's manager (``%lambda reset --seed N``), or 0 where it has none.

    Read, never created: a quiz made before any manager exists (or outside a kernel) gets 0.
    """
    module = sys.modules.get("lambda_widget.manager")  # where get_manager() keeps the kernel's manager
    seed = getattr(getattr(module, "_default", None), "seed", None)
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else 0


@dataclass(frozen=True)
class Question:
    """One multiple-choice question; ``answer`` is the index of the right option.

    ``why`` has one entry per option: what the learner is told on picking it ("" for none).
    A wrong option's entry says why it is wrong; the right one's is ``explanation``'s job.
    """

    prompt: str
    options: tuple[str, ...]
    answer: int
    hint: str = ""
    explanation: str = ""
    kind: str = "authored"
    why: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", tuple(self.options))
        object.__setattr__(self, "why", tuple(self.why) or ("",) * len(self.options))
        problem = _problem(self)
        if problem:
            raise QuizError(problem)

    def why_not(self, option: int) -> str:
        """Why option ``option`` (a wrong one) is wrong, or ``""`` if the author gave no reason."""
        return self.why[option] if 0 <= option < len(self.why) else ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], number: int = 1) -> Question:
        """Build from ``{"question", "options", "answer", "hint", "explain"}``; ``number`` names it in errors."""
        if isinstance(data, Question):
            return data
        if not isinstance(data, Mapping):
            raise QuizError(f"Question {number}: expected a dict, got {type(data).__name__}")
        unknown = sorted(set(data) - set(_KEYS) - {"kind"})
        if unknown:
            raise QuizError(f"Question {number}: unknown key(s) {', '.join(map(repr, unknown))}; "
                            f"use question, options, answer, hint, explain")
        fields = {_KEYS[k]: v for k, v in data.items() if k in _KEYS}
        for key in ("prompt", "options", "answer"):
            if key not in fields:
                raise QuizError(f"Question {number}: missing {'question' if key == 'prompt' else key!r}")
        options = fields["options"]
        if isinstance(options, str) or not isinstance(options, Sequence):
            raise QuizError(f"Question {number}: options must be a list of strings "
                            f'or of {{"text": ..., "why": ...}} objects')
        texts, whys = [], []
        for option in options:
            if isinstance(option, Mapping):
                extra = sorted(set(option) - _OPTION_KEYS)
                if extra or "text" not in option:
                    raise QuizError(f"Question {number}: an option object needs \"text\" (and may have "
                                    f"\"why\"), got keys {sorted(option)}")
                texts.append(option["text"])
                whys.append(option.get("why", "") or "")
            else:
                texts.append(option)
                whys.append("")
        try:
            return cls(prompt=fields["prompt"], options=tuple(texts), answer=fields["answer"],
                       hint=fields.get("hint", "") or "", explanation=fields.get("explanation", "") or "",
                       kind=data.get("kind", "authored"), why=tuple(whys))
        except QuizError as exc:
            raise QuizError(f"Question {number}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        options: list[Any] = [{"text": o, "why": w} if w else o for o, w in zip(self.options, self.why, strict=True)]
        return {"question": self.prompt, "options": options, "answer": self.answer,
                "hint": self.hint, "explain": self.explanation, "kind": self.kind}

    def shuffled(self, rng: random.Random) -> Question:
        """The same question with its options in ``rng``'s order (the answer and the reasons follow
        their options)."""
        order = list(range(len(self.options)))
        rng.shuffle(order)
        return Question(self.prompt, tuple(self.options[i] for i in order), order.index(self.answer),
                        self.hint, self.explanation, self.kind, tuple(self.why[i] for i in order))


def _problem(q: Question) -> str:
    """What is wrong with a question, or ``""``."""
    if not isinstance(q.prompt, str) or not q.prompt.strip():
        return "the question text is empty"
    if any(not isinstance(o, str) for o in q.options):
        return "every option must be a string"
    if len(q.options) < 2:
        return f"needs at least 2 options, got {len(q.options)}"
    seen: set[str] = set()
    for option in q.options:
        if option.strip() in seen:
            return f"duplicate option {option!r}"
        seen.add(option.strip())
    if isinstance(q.answer, bool) or not isinstance(q.answer, int):
        return f"answer must be an option index (int), got {q.answer!r}"
    if not 0 <= q.answer < len(q.options):
        return f"answer {q.answer} is out of range for {len(q.options)} options (use 0..{len(q.options) - 1})"
    if not isinstance(q.hint, str) or not isinstance(q.explanation, str):
        return "hint and explain must be strings"
    if len(q.why) != len(q.options) or any(not isinstance(w, str) for w in q.why):
        return "why must give one string per option"
    return ""


class Quiz(HasTraits):
    """Questions plus the learner's answers. ``answer(i, option)`` checks one; ``score`` counts
    the questions answered right at the first try.

    The options of authored questions are shuffled, the same way for the same ``seed``, so the
    right answer is not always the first one written: ``seed`` is an int, by default the kernel
    manager's seed (``%lambda reset --seed N``; 0 without one). ``shuffle=False`` keeps the
    written order. Generated questions (``kind`` other than ``"authored"``) were shuffled when
    they were made and keep their order.
    """

    revision = Int(0)

    def __init__(self, questions: Iterable[Question | Mapping[str, Any]], title: str = "Quiz", *,
                 seed: int | None = None, shuffle: bool = True) -> None:
        super().__init__()
        if isinstance(questions, (str, bytes, Mapping)):
            raise QuizError("Quiz() takes a list of questions; use Quiz.from_json for JSON text or a file")
        built = [Question.from_dict(q, n) for n, q in enumerate(questions, 1)]
        if not built:
            raise QuizError("a quiz needs at least one question")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise QuizError(f"seed must be an int (e.g. the manager's seed), not {seed!r}")
        if shuffle:
            seed = manager_seed() if seed is None else seed
            built = [q.shuffled(random.Random(f"{seed}:{n}:{q.prompt}")) if q.kind == "authored" else q
                     for n, q in enumerate(built)]
        self.questions: list[Question] = built
        self.title = title
        self.seed = seed
        self._attempts: dict[int, list[int]] = {}

    @classmethod
    def from_json(cls, source: str | Path, title: str | None = None, *, seed: int | None = None,
                  shuffle: bool = True) -> Quiz:
        """Load from JSON text or a ``.json`` file: a list of questions, or ``{"title", "questions"}``.
        An option is a string, or ``{"text": ..., "why": ...}`` where ``why`` says why it is wrong.
        ``seed`` and ``shuffle`` order the options as in ``Quiz()``."""
        text = str(source)
        if isinstance(source, Path) or not text.lstrip().startswith(("[", "{")):
            path = Path(source)
            if not path.is_file():
                raise QuizError(f"no such quiz file: {path} (pass JSON text or a path to a .json file)")
            text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise QuizError(f"invalid quiz JSON: {exc}") from None
        if isinstance(data, dict):
            if "questions" not in data:
                raise QuizError('quiz JSON object needs a "questions" list')
            return cls(data["questions"], title=title or data.get("title", "Quiz"), seed=seed, shuffle=shuffle)
        return cls(data, title=title or "Quiz", seed=seed, shuffle=shuffle)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "questions": [q.to_dict() for q in self.questions]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def __len__(self) -> int:
        return len(self.questions)

    def __iter__(self):
        return iter(self.questions)

    def __getitem__(self, index: int) -> Question:
        return self.questions[index]

    def _question(self, index: int) -> Question:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.questions):
            raise QuizError(f"no question {index!r}: this quiz has questions 0..{len(self.questions) - 1}")
        return self.questions[index]

    def answer(self, index: int, option: int) -> bool:
        """Check ``option`` (an index) for question ``index``; record it and return whether it is right."""
        question = self._question(index)
        if isinstance(option, bool) or not isinstance(option, int) or not 0 <= option < len(question.options):
            raise QuizError(f"question {index} has options 0..{len(question.options) - 1}, not {option!r}")
        self._attempts.setdefault(index, []).append(option)
        self.revision += 1
        return option == question.answer

    def attempts(self, index: int) -> list[int]:
        """Options checked so far for question ``index``, oldest first."""
        self._question(index)
        return list(self._attempts.get(index, []))

    def selected(self, index: int) -> int | None:
        """The last option checked for question ``index``, or ``None``."""
        tries = self.attempts(index)
        return tries[-1] if tries else None

    def is_correct(self, index: int) -> bool:
        """Whether the last checked option for question ``index`` is right."""
        return self.selected(index) == self.questions[index].answer

    def feedback(self, index: int) -> str:
        """What the learner is told after the last check: ``""`` before any."""
        choice = self.selected(index)
        if choice is None:
            return ""
        question = self.questions[index]
        tries = self._attempts[index]
        if choice == question.answer:
            counted = "" if len(tries) == 1 else \
                f" (Found on try {len(tries)}: only a right first try counts towards the score.)"
            return ("Correct! " + question.explanation if question.explanation else "Correct!") + counted
        picked = question.options[choice]
        why = question.why_not(choice)
        if why:
            return f"Incorrect: {picked!r}: {why} Try again."
        return f"Incorrect: {picked!r} is not it. Try again" + \
            (" (the hint shows where to look)." if question.hint else ".")

    @property
    def score(self) -> int:
        """Questions answered right at the first try."""
        return sum(1 for i, tries in self._attempts.items() if tries[0] == self.questions[i].answer)

    @property
    def answered(self) -> int:
        return len(self._attempts)

    def score_text(self) -> str:
        """The score, saying what it counts."""
        n = len(self.questions)
        return (f"Score: {self.score} of {n} question{'s' if n != 1 else ''} right at the first try "
                f"({self.answered} of {n} answered)")

    def reset(self) -> None:
        """Forget every answer."""
        self._attempts.clear()
        self.revision += 1

    def __repr__(self) -> str:
        n = len(self.questions)
        return f"<Quiz {self.title!r}: {n} question{'s' if n != 1 else ''}, score {self.score} / {n}>"
