"""Quizzes generated from real recorded invocations (real container processes, no mocks)."""

from __future__ import annotations

import re

import pytest
from conftest import SEED_SOURCE as SEED

import lambda_widget as lw
from lambda_widget.quizzes import KINDS, QuizError, quiz_for_last, quiz_from

COUNTER = ("count = 0\n\ndef lambda_handler(event, context):\n    global count\n    count += 1\n    total = 0\n"
           "    for i in range(3):\n        total += i * event['n']\n    return {'count': count, 'total': total}\n")
SLOW = "import time\n\ndef lambda_handler(event, context):\n    x = 1\n    time.sleep(30)\n    return x\n"
CRASH = "import os\n\ndef lambda_handler(event, context):\n    y = 2\n    os._exit(3)\n"
RAISE = "def lambda_handler(event, context):\n    z = 1\n    raise ValueError('bad input')\n"
BAD_INIT = "import no_such_module_here\n\ndef lambda_handler(event, context):\n    return 1\n"
SEED_KINDS = ("first-step", "variable", "idle")


@pytest.fixture(scope="module")
def seed_run():
    """The seed's handler on a fresh manager: the record before and after the idle reaper ends it."""
    mgr = lw.ContainerManager(seed=1)
    try:
        mgr.register("double", SEED)
        inv = mgr.invoke("double", {"value": 5})
        before = inv.to_dict()
        mgr.advance(601)
        yield inv, before, inv.to_dict()
    finally:
        mgr.shutdown()


@pytest.fixture(scope="module")
def runs():
    """Warm reuse, a module-global counter, an idle expiry and every kind of failure, with history."""
    mgr = lw.ContainerManager(seed=2, virtual_clock=True)
    try:
        mgr.register("counter", COUNTER)
        counted = [mgr.invoke("counter", {"n": n}) for n in (1, 2, 3)]
        mgr.advance(601)
        expired = mgr.invoke("counter", {"n": 1})
        mgr.register("slow", SLOW, timeout=1)
        mgr.register("crash", CRASH)
        mgr.register("raise", RAISE)
        mgr.register("bad", BAD_INIT)
        failed = {name: mgr.invoke(name, {}) for name in ("slow", "crash", "raise", "bad")}
        after = {name: mgr.invoke(name, {}) for name in ("slow", "crash", "raise")}
        yield {"mgr": mgr, "counted": counted, "expired": expired, "failed": failed, "after": after,
               "history": [h.to_dict() for h in mgr.history]}
    finally:
        mgr.shutdown()


def by_kind(quiz) -> dict:
    return {q.kind: q for q in quiz}


def right(question) -> str:
    return question.options[question.answer]


def wrong(question) -> set[str]:
    return set(question.options) - {right(question)}


def test_seed_quiz_has_the_seeds_three_questions(seed_run) -> None:
    _, _, record = seed_run
    assert [s["action"] for s in record["steps"]][-1] == "No new event arrives"
    quiz = quiz_from(record, kinds=SEED_KINDS)
    first, variable, idle = quiz
    assert [q.kind for q in quiz] == list(SEED_KINDS)

    assert right(first) == "Step 3"
    assert wrong(first) == {"Step 2", "Step 4", "Step 5"}
    assert "'Handler execution' column" in first.hint and "print('Start')" in first.hint

    assert variable.prompt == "In the variable tracker, what does `result` hold after step 4?"
    assert right(variable) == "10"
    assert wrong(variable) == {"undefined", "5", "None"}
    assert variable.hint == "In the variable tracker, look at the 'result' row in column 4: its value after step 4."

    assert idle.prompt == "After step 7, if no new event arrives, what happens to the container?"
    assert right(idle) == "It is kept warm until its idle timeout runs out, then terminated"
    assert "It is terminated immediately after step 6, when the result is returned" in wrong(idle)
    assert len(idle.options) == 4
    assert idle.hint == "See steps 7 and 8 in the 'Container state' column of the step table."
    assert "'Container terminated after idle timeout'" in idle.explanation


def test_seed_quiz_before_the_reaper_and_from_the_live_record(seed_run) -> None:
    inv, before, _ = seed_run
    idle = by_kind(quiz_from(before, kinds=["idle"]))["idle"]
    assert right(idle) == "It is kept warm until its idle timeout runs out, then terminated"
    assert idle.hint.startswith("See step 7 in the 'Container state' column")
    quiz = quiz_from(inv, idle_timeout=600.0)
    kinds = by_kind(quiz)
    assert list(kinds) == ["first-step", "variable", "idle", "cold-warm"], "global needs history; no failure"
    assert right(kinds["idle"]) == "It is kept warm until its idle timeout (here 10 minutes) runs out, then terminated"
    cold = kinds["cold-warm"]
    assert right(cold).startswith("Cold: it was the function's first invocation")
    assert "Warm: an idle environment was reused, so init did not run again" in wrong(cold)
    assert quiz.title == "Quiz: invocation #1 of double"


def test_generation_is_deterministic(seed_run) -> None:
    inv, _, record = seed_run
    first = quiz_from(record, seed=7).to_dict()
    assert quiz_from(record, seed=7).to_dict() == first
    assert quiz_from(inv, seed=7).to_dict() == first, "an Invocation and its to_dict() give the same quiz"
    orders = {tuple(q.options for q in quiz_from(record, seed=s)) for s in range(8)}
    assert len(orders) > 1, "the seed shuffles the options"
    answers = {tuple(right(q) for q in quiz_from(record, seed=s)) for s in range(8)}
    assert len(answers) == 1, "the seed never changes what is right"


def test_every_generated_answer_matches_the_record(runs) -> None:
    records = [h for h in runs["history"] if h["status"] != "throttled"]
    for record in records:
        for seed in range(3):
            for question in quiz_from(record, history=runs["history"], seed=seed):
                if question.kind == "first-step":
                    first = next(s for s in record["steps"] if s["kind"] in ("line", "return"))
                    assert right(question) == f"Step {first['number']}"
                    assert all(1 <= int(o.split()[1]) <= len(record["steps"]) for o in question.options)
                elif question.kind == "variable":
                    name, k = re.search(r"`(\w+)` hold after step (\d+)", question.prompt).groups()
                    assert right(question) == record["steps"][int(k) - 1]["variables"][name]
                    seen = {v for s in record["steps"] for v in s["variables"].values()}
                    event = {repr(v) for v in record["event"].values()}
                    assert wrong(question) <= seen | event | {"undefined", "None"}, "wrong options come from the run"
                assert len(set(question.options)) == len(question.options) >= 3


def test_loop_variable_and_warm_start(runs) -> None:
    third = runs["counted"][2].to_dict()
    kinds = by_kind(quiz_from(third, seed=1))
    assert right(kinds["cold-warm"]) == "Warm: an idle environment was reused, so init did not run again"
    assert "Reuse warm container" in kinds["cold-warm"].explanation
    assert all(o.startswith("Cold:") for o in wrong(kinds["cold-warm"]))
    variable = kinds["variable"]
    name = re.search(r"`(\w+)`", variable.prompt).group(1)
    assert name in ("total", "i")


def test_global_counter_needs_history(runs) -> None:
    third = runs["counted"][2]
    assert "global" not in by_kind(quiz_from(third))
    question = by_kind(quiz_from(third, history=runs["history"]))["global"]
    assert "`count` is a module global" in question.prompt and "3rd event" in question.prompt
    assert right(question) == "3"
    assert {"1", "2", "0"} <= wrong(question), "a fresh local (1), the value before (2), the init value (0)"
    assert "Init set `count` to 0" in question.hint


def test_idle_expired_cold_start(runs) -> None:
    question = by_kind(quiz_from(runs["expired"], history=runs["history"]))["cold-warm"]
    assert right(question) == "Cold: the previous environment had been reaped after its idle timeout"
    assert "(the last one was reaped)" in question.explanation
    global_q = by_kind(quiz_from(runs["expired"], history=runs["history"])).get("global")
    assert global_q is not None and right(global_q) == "1", "a new environment starts the counter over"


@pytest.mark.parametrize("name, status, next_reason", [
    ("slow", "timed-out", "reset-after-timeout"),
    ("crash", "crashed", "reset-after-crash"),
])
def test_timeouts_and_crashes_reset_the_environment(runs, name: str, status: str, next_reason: str) -> None:
    record = runs["failed"][name].to_dict()
    assert record["status"] == status
    kinds = by_kind(quiz_from(record, history=runs["history"]))
    assert "idle" not in kinds, "a reset environment is not kept warm"
    question = kinds["failure"]
    assert right(question).startswith("It is reset: the process is gone, and the next invocation runs init again")
    assert "It stays warm and is reused by the next event; module globals keep their values" in wrong(question)
    stop = next(s for s in record["steps"] if s["kind"] == "stop")
    assert stop["container_state"].startswith("Container reset")
    assert question.hint == f"Look at step {stop['number']} in the 'Container state' column of the step table."
    assert f"cold ({next_reason})" in question.explanation
    assert runs["after"][name].cold_reason == next_reason


def test_exception_keeps_the_environment_and_init_error_resets_it(runs) -> None:
    raised = by_kind(quiz_from(runs["failed"]["raise"], history=runs["history"]))
    assert raised["failure"].prompt.endswith("raised ValueError. What happens to its execution environment?")
    assert right(raised["failure"]).startswith("It stays warm")
    assert "it was warm." in raised["failure"].explanation
    assert "idle" in raised, "after a handler exception the environment is kept warm"
    bad = by_kind(quiz_from(runs["failed"]["bad"]))
    assert "failed during init (Runtime.ImportModuleError)" in bad["failure"].prompt
    assert right(bad["failure"]).startswith("It is reset")
    assert "first-step" not in bad and "variable" not in bad, "no handler code ran"


def test_quiz_for_last(runs) -> None:
    quiz = quiz_for_last(runs["mgr"], kinds=["cold-warm", "idle"])
    last = runs["mgr"].history[-1]
    assert quiz.title == f"Quiz: invocation #{last.number} of {last.function_name}"
    assert right(by_kind(quiz)["idle"]) == "It is kept warm until its idle timeout (here 10 minutes) runs out, then terminated"


def test_quiz_for_last_without_invocations_and_bad_requests() -> None:
    mgr = lw.ContainerManager(seed=3, virtual_clock=True)
    try:
        with pytest.raises(QuizError, match="No invocation to quiz on yet"):
            quiz_for_last(mgr)
        mgr.register("blocked", SEED, reserved_concurrency=0)
        throttled = mgr.invoke("blocked", {"value": 1})
        assert throttled.status == "throttled"
        with pytest.raises(QuizError, match=r"nothing to ask about invocation #1 \(throttled\)"):
            quiz_from(throttled)
        with pytest.raises(QuizError, match="No invocation to quiz on yet"):
            quiz_for_last(mgr)
    finally:
        mgr.shutdown()
    with pytest.raises(QuizError, match="no recorded steps"):
        quiz_from({"number": 1, "steps": []})
    with pytest.raises(QuizError, match="unknown question kind"):
        quiz_from({"number": 1, "steps": [{"kind": "event"}]}, kinds=["nope"])
    assert "global" in KINDS and "failure" in KINDS


def test_every_generated_wrong_option_says_why_it_is_wrong(runs) -> None:
    """Picking a wrong option tells the learner why it is wrong, from the same run."""
    kinds = set()
    for record in [h for h in runs["history"] if h["status"] != "throttled"]:
        for question in quiz_from(record, history=runs["history"], seed=1):
            kinds.add(question.kind)
            for i, option in enumerate(question.options):
                if i != question.answer:
                    assert question.why_not(i), (question.kind, option)
            assert question.why_not(question.answer) == ""
    assert kinds >= {"first-step", "variable", "idle", "cold-warm", "failure"}, kinds
