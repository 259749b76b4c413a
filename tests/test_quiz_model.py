"""The quiz model: authoring in Python and JSON, validation, answering and scoring."""

from __future__ import annotations

import json

import pytest

from lambda_widget.quizzes import Question, Quiz, QuizError

QUESTIONS = [
    {"question": "Which step first runs handler code?", "options": ["Step 2", "Step 3", "Step 4"],
     "answer": 1, "hint": "Check the 'Handler execution' column.", "explain": "Step 3 prints 'Start'."},
    {"question": "What does `result` hold after step 4?", "options": ["undefined", "5", "10"], "answer": 2},
]


def test_authored_in_python() -> None:
    quiz = Quiz(QUESTIONS, title="Seed", shuffle=False)
    assert len(quiz) == 2 and quiz.title == "Seed"
    first = quiz[0]
    assert first.prompt == "Which step first runs handler code?"
    assert first.options == ("Step 2", "Step 3", "Step 4")
    assert first.answer == 1 and first.hint.startswith("Check") and first.explanation == "Step 3 prints 'Start'."
    assert quiz[1].hint == "" and quiz[1].kind == "authored"
    assert repr(quiz) == "<Quiz 'Seed': 2 questions, score 0 / 2>"


def test_json_text_and_file_round_trip(tmp_path) -> None:
    quiz = Quiz(QUESTIONS, title="Seed", shuffle=False)
    again = Quiz.from_json(quiz.to_json(), shuffle=False)
    assert again.to_dict() == quiz.to_dict()
    path = tmp_path / "quiz.json"
    path.write_text(json.dumps(QUESTIONS), encoding="utf-8")
    for source in (path, str(path)):
        loaded = Quiz.from_json(source, title="From file", shuffle=False)
        assert loaded.title == "From file"
        assert [q.options for q in loaded] == [q.options for q in quiz]


@pytest.mark.parametrize("bad, message", [
    ({"question": "Q", "options": ["a", "b"], "answer": 2}, "Question 1: answer 2 is out of range for 2 options"),
    ({"question": "Q", "options": ["a", "b"], "answer": -1}, "out of range"),
    ({"question": "Q", "options": ["a", "b"], "answer": True}, "answer must be an option index"),
    ({"question": "Q", "options": ["a", "a"], "answer": 0}, "Question 1: duplicate option 'a'"),
    ({"question": "Q", "options": ["only"], "answer": 0}, "Question 1: needs at least 2 options, got 1"),
    ({"question": "Q", "options": "ab", "answer": 0}, "options must be a list of strings"),
    ({"question": " ", "options": ["a", "b"], "answer": 0}, "the question text is empty"),
    ({"question": "Q", "options": ["a", "b"]}, "Question 1: missing 'answer'"),
    ({"question": "Q", "options": ["a", "b"], "answer": 0, "hnit": "x"}, "unknown key(s) 'hnit'"),
])
def test_validation_errors_are_clear(bad: dict, message: str) -> None:
    with pytest.raises(QuizError) as info:
        Quiz([bad])
    assert message in str(info.value)


def test_validation_names_the_question_and_covers_json() -> None:
    ok = {"question": "Q", "options": ["a", "b"], "answer": 0}
    with pytest.raises(QuizError, match="Question 2: duplicate option"):
        Quiz([ok, {"question": "Q2", "options": ["x", "x "], "answer": 0}])
    with pytest.raises(QuizError, match="invalid quiz JSON"):
        Quiz.from_json('[{"question": ')
    with pytest.raises(QuizError, match="no such quiz file"):
        Quiz.from_json("missing-quiz.json")
    with pytest.raises(QuizError, match="at least one question"):
        Quiz([])
    with pytest.raises(QuizError, match="Quiz.from_json"):
        Quiz(json.dumps([ok]))
    with pytest.raises(QuizError, match="out of range"):
        Question("Q", ("a", "b"), 5)


def test_answer_feedback_and_first_try_score() -> None:
    quiz = Quiz(QUESTIONS, shuffle=False)
    assert quiz.feedback(0) == "" and quiz.selected(0) is None
    assert quiz.score_text() == "Score: 0 of 2 questions right at the first try (0 of 2 answered)"
    assert quiz.answer(0, 0) is False
    assert quiz.feedback(0) == "Incorrect: 'Step 2' is not it. Try again (the hint shows where to look)."
    assert quiz.answer(0, 1) is True
    assert quiz.feedback(0) == ("Correct! Step 3 prints 'Start'. "
                                "(Found on try 2: only a right first try counts towards the score.)")
    assert quiz.score == 0, "a question counts only when the first try is right"
    assert quiz.answer(1, 2) is True and quiz.feedback(1) == "Correct!"
    assert quiz.score == 1 and quiz.answered == 2
    assert quiz.score_text() == "Score: 1 of 2 questions right at the first try (2 of 2 answered)"
    assert quiz.attempts(0) == [0, 1] and quiz.is_correct(0)
    revision = quiz.revision
    quiz.reset()
    assert quiz.revision == revision + 1 and quiz.score == 0 and quiz.attempts(0) == []


def test_answer_rejects_bad_indices() -> None:
    quiz = Quiz(QUESTIONS, shuffle=False)
    with pytest.raises(QuizError, match="no question 2"):
        quiz.answer(2, 0)
    with pytest.raises(QuizError, match="question 0 has options 0..2, not 3"):
        quiz.answer(0, 3)
    assert quiz.answered == 0 and quiz.revision == 0


def test_seed_shuffles_authored_options_reproducibly(tmp_path, monkeypatch) -> None:
    import lambda_widget.manager

    # No kernel manager here, whatever an earlier test in this process left behind.
    monkeypatch.setattr(lambda_widget.manager, "_default", None, raising=False)
    many = [{"question": f"Question {n}?", "options": ["right", "wrong a", "wrong b", "wrong c"], "answer": 0}
            for n in range(8)]
    plain = Quiz(many, shuffle=False)
    assert all(q.options[0] == "right" for q in plain), "shuffle=False keeps the authored order"
    one, again, other = Quiz(many, seed=1), Quiz(many, seed=1), Quiz(many, seed=2)
    assert [q.options for q in Quiz(many)] == [q.options for q in Quiz(many, seed=0)], \
        "no seed and no manager: seed 0, shuffled all the same"
    assert [q.options for q in one] == [q.options for q in again]
    assert [q.options for q in one] != [q.options for q in other]
    assert all(q.options[q.answer] == "right" for q in (*one, *other)), "the answer follows its option"
    assert len({q.answer for q in one}) > 1, "the right option is not always in the same place"
    path = tmp_path / "quiz.json"
    path.write_text(json.dumps({"title": "T", "questions": many}), encoding="utf-8")
    assert [q.options for q in Quiz.from_json(path, seed=1)] == [q.options for q in one]
    generated = Question("G?", ("b", "a"), 1, kind="idle")
    assert Quiz([generated], seed=3)[0] is generated, "generated questions keep their own shuffle"
    with pytest.raises(QuizError, match="seed must be an int"):
        Quiz(many, seed="1")


def test_the_model_imports_no_view() -> None:
    import subprocess
    import sys

    code = ("import sys, lambda_widget.quizzes.model, lambda_widget.quizzes.generate\n"
            "print(sorted(m for m in sys.modules if m.startswith(('lambda_widget.views', 'ipywidgets'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_quiz_takes_the_kernel_managers_seed_by_default() -> None:
    """No lesson can forget to shuffle: without ``seed`` a quiz uses the manager's, as set by
    ``%lambda reset --seed N``."""
    import lambda_widget as lw
    from lambda_widget import manager as engine_manager
    from lambda_widget.quizzes.model import manager_seed

    many = [{"question": f"Q{n}?", "options": ["right", "wrong a", "wrong b"], "answer": 0} for n in range(6)]
    saved = engine_manager._default
    mgr = lw.ContainerManager(seed=5)
    try:
        engine_manager._default = mgr
        assert manager_seed() == 5
        assert [q.options for q in Quiz(many)] == [q.options for q in Quiz(many, seed=5)]
        engine_manager._default = None
        assert manager_seed() == 0, "no kernel manager yet: seed 0, and none is created"
        assert engine_manager._default is None
    finally:
        engine_manager._default = saved
        mgr.shutdown()


def test_every_wrong_option_can_say_why() -> None:
    quiz = Quiz([{"question": "Duration: 20.01 ms. Billed?", "answer": 0, "hint": "Round.", "explain": "ceil.",
                  "options": ["21 ms", {"text": "20 ms", "why": "Lambda rounds up, never down."},
                              {"text": "100 ms", "why": "Rounding to 100 ms ended in December 2020."}]}],
                shuffle=False)
    question = quiz[0]
    assert question.why == ("", "Lambda rounds up, never down.", "Rounding to 100 ms ended in December 2020.")
    assert question.why_not(1) == "Lambda rounds up, never down."
    quiz.answer(0, 2)
    assert quiz.feedback(0) == "Incorrect: '100 ms': Rounding to 100 ms ended in December 2020. Try again."
    again = Quiz.from_json(quiz.to_json(), shuffle=False)
    assert again[0].why == question.why and again.to_dict() == quiz.to_dict()
    shuffled = Quiz.from_json(quiz.to_json(), seed=3)[0]
    assert {o: w for o, w in zip(shuffled.options, shuffled.why, strict=True)} == \
        {o: w for o, w in zip(question.options, question.why, strict=True)}, "each reason follows its option"
    with pytest.raises(QuizError, match=r'Question 1: an option object needs "text"'):
        Quiz([{"question": "Q", "options": [{"txt": "a"}, "b"], "answer": 1}])
    with pytest.raises(QuizError, match="why must give one string per option"):
        Question("Q", ("a", "b"), 0, why=("x",))
