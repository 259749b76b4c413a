"""Questions generated from a recorded invocation: they read ``to_dict()`` data, never the engine.

Each kind asks about one thing the step table, the tracker or the history shows, with wrong options
drawn from the same run, a reason for each wrong option (shown when it is picked), and a hint
naming the row or column that answers it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from typing import Any

from lambda_widget.quizzes.model import Question, Quiz, QuizError, manager_seed

UNDEFINED = "undefined"
KINDS = ("first-step", "variable", "idle", "cold-warm", "global", "failure")

COLD_REASONS: dict[str, str] = {
    "warm": "Warm: an idle environment was reused, so init did not run again",
    "first-invocation": "Cold: it was the function's first invocation, so no environment existed yet",
    "idle-expired": "Cold: the previous environment had been reaped after its idle timeout",
    "all-busy": "Cold: every existing environment was busy with another event",
    "new-version": "Cold: a new version was published, and older environments cannot serve it",
    "reset-after-timeout": "Cold: the environment had been reset after a timeout",
    "reset-after-crash": "Cold: the environment had been reset after its runtime crashed",
    "reset-after-init-error": "Cold: the environment had been reset after an init error",
}
# Right answers only (not drawn as wrong options, so the quizzes of existing lessons keep their options).
_MORE_COLD_REASONS = {
    "function-updated": "Cold: $LATEST was updated, and environments of the earlier code cannot serve it",
}
_COLD_WHY = {
    "first-invocation": "no execution environment existed for this function yet",
    "idle-expired": "the environment that served earlier events sat idle past its idle timeout and was reaped",
    "all-busy": "every existing environment was busy with another event, so Lambda scaled out",
    "new-version": "a new version was published; environments of the old version cannot serve it",
    "function-updated": "$LATEST was updated (its cell ran again); environments of the earlier code cannot serve it",
    "reset-after-timeout": "the previous invocation timed out, which killed the process",
    "reset-after-crash": "the runtime process exited during the previous invocation",
    "reset-after-init-error": "the previous init failed, so the environment had to start over",
}
# Why each cold-start reason is not this run's: when that reason applies.
_NOT_THIS_REASON: dict[str, str] = {
    "warm": "A warm start reuses an idle environment and skips init; its step 2 reads 'Reuse warm container'.",
    "first-invocation": "That is the reason only when the function has never had an environment.",
    "idle-expired": "That is the reason only when the earlier environment sat idle past its idle timeout "
                    "and was reaped.",
    "all-busy": "That is the reason only when events overlap and every existing environment is busy.",
    "new-version": "That is the reason only right after a new version was published.",
    "reset-after-timeout": "That is the reason only when the previous invocation there timed out.",
    "reset-after-crash": "That is the reason only when the runtime process exited in the previous invocation.",
    "reset-after-init-error": "That is the reason only when the previous init failed.",
}
_IDLE_WRONG = (
    ("It stays warm forever, waiting for the next event",
     "Only provisioned concurrency keeps environments indefinitely: an on-demand one is reaped once it "
     "has been idle for its idle timeout."),
    ("It is terminated immediately after step {ret}, when the result is returned",
     "Lambda keeps the environment after the response, frozen, so that the next event can skip init: "
     "that is what makes a warm start possible."),
    ("It restarts automatically and runs the handler again",
     "Nothing runs in a frozen environment: the handler runs only when an event arrives."),
)
_NOT_RUN = ("throttled", "cancelled", "dry-run")
_EVENT_FIELD = re.compile(r"""event\s*(?:\[\s*|\.get\(\s*)(['"])(.+?)\1""")


def quiz_from(invocation: Any, history: Iterable[Any] | None = None, seed: int | None = None, *,
              kinds: Sequence[str] | None = None, idle_timeout: float | None = None,
              title: str | None = None) -> Quiz:
    """Questions about one recorded invocation (an ``Invocation`` or its ``to_dict()``).

    ``kinds`` picks and orders the question kinds (default: every one that applies, in ``KINDS``
    order); ``history`` (oldest first) enables the module-global question; ``idle_timeout`` (seconds)
    lets the idle question name it. The same record and ``seed`` (default: the kernel manager's
    seed, or 0) always give the same quiz.
    """
    seed = manager_seed() if seed is None else seed
    inv = _as_dict(invocation)
    if not inv.get("steps"):
        raise QuizError("this invocation has no recorded steps yet: wait until it is done")
    past = [_as_dict(h) for h in history] if history is not None else None
    wanted = list(KINDS if kinds is None else kinds)
    unknown = [k for k in wanted if k not in KINDS]
    if unknown:
        raise QuizError(f"unknown question kind(s) {unknown}; choose from {list(KINDS)}")
    makers = {"first-step": _first_step, "variable": _variable, "idle": _idle, "cold-warm": _cold_warm,
              "global": _global, "failure": _failure}
    questions: list[Question] = []
    for kind in wanted:
        rng = random.Random(f"{seed}:{kind}")
        question = makers[kind](inv, rng, past=past, idle_timeout=idle_timeout)
        if question is not None:
            questions.append(question)
    if not questions:
        raise QuizError(f"nothing to ask about invocation #{inv.get('number')} ({inv.get('status')}) "
                        f"with kinds {wanted}")
    return Quiz(questions, title=title or f"Quiz: invocation #{inv.get('number')} of {inv.get('function_name')}")


def quiz_for_last(manager: Any, seed: int = 0, **kwargs: Any) -> Quiz:
    """A quiz on the manager's last invocation that ran (the ``%lambda quiz`` hook)."""
    done = [inv for inv in manager.history if inv.done and inv.status not in _NOT_RUN]
    if not done:
        raise QuizError("No invocation to quiz on yet: invoke a function first "
                        "(e.g. `%lambda invoke NAME '{...}'`), then ask for a quiz.")
    last = done[-1]
    if "idle_timeout" not in kwargs:
        kwargs["idle_timeout"] = _idle_timeout_of(manager, last)
    return quiz_from(last, history=list(manager.history), seed=seed, **kwargs)


def _idle_timeout_of(manager: Any, inv: Any) -> float | None:
    for env in manager.all_containers:
        if env.id == inv.container_id:
            return env.function.idle_timeout
    fn = manager.functions.get(inv.function_name)
    return fn.idle_timeout if fn is not None else None


def _as_dict(record: Any) -> dict[str, Any]:
    return record.to_dict() if hasattr(record, "to_dict") else dict(record)


def _build(kind: str, prompt: str, answer: str, wrong: Sequence[tuple[str, str]], rng: random.Random,
           hint: str, explanation: str) -> Question:
    """A question whose ``wrong`` options are (text, why it is wrong) pairs, in ``rng``'s order."""
    options = [(answer, ""), *wrong]
    rng.shuffle(options)
    texts = tuple(text for text, _ in options)
    return Question(prompt, texts, texts.index(answer), hint, explanation, kind,
                    why=tuple(why for _, why in options))


def _pick_wrong(answer: str, pool: Iterable[tuple[str, str]], count: int = 3) -> list[tuple[str, str]]:
    """The first ``count`` distinct (text, why) candidates whose text differs from the answer."""
    out: list[tuple[str, str]] = []
    for value, why in pool:
        if value != answer and value not in (v for v, _ in out):
            out.append((value, why))
        if len(out) == count:
            break
    return out


def _code(text: str) -> str:
    return f"`{text}`"


def _first_line_step(steps: list[dict]) -> dict | None:
    return next((s for s in steps if s["kind"] in ("line", "return") and s.get("line") is not None), None)


def _first_step(inv: dict, rng: random.Random, **_: Any) -> Question | None:
    steps = inv["steps"]
    first = _first_line_step(steps)
    if first is None:
        return None
    n, last = first["number"], len(steps)
    near = [m for m in (n - 1, n + 1, n + 2, n - 2, n + 3, n + 4) if 1 <= m <= last]
    if len(near) < 2:
        return None
    before = "; ".join(f"step {s['number']} is '{s['action']}'" for s in steps[: n - 1])
    code = _code(first["handler_execution"])

    def why(m: int) -> str:
        row = steps[m - 1]
        if m < n:
            return f"Step {m} is '{row['action']}': no line of your handler has run yet."
        return f"Step {m} is '{row['action']}', after step {n} already ran {code}."

    return _build(
        "first-step", "In the step table, at which step does the handler's own code first run?",
        f"Step {n}", [(f"Step {m}", why(m)) for m in near[:3]], rng,
        f"Check the 'Handler execution' column of the step table for the first row that shows a line "
        f"of your code ({_code(first['handler_execution'])}).",
        f"{before[:1].upper() + before[1:]}: no handler code runs before the event is routed to a ready container. "
        f"The handler's first line, {_code(first['handler_execution'])}, runs at step {n}.")


def _changes(steps: list[dict], name: str) -> list[tuple[int, str, str]]:
    """(step number, value after it, source line) for each code step that changed ``name``."""
    out, prev = [], None
    for s in steps:
        value = s["variables"].get(name)
        if s["kind"] in ("line", "return") and value is not None and value != prev and value != UNDEFINED:
            out.append((s["number"], value, s["handler_execution"]))
        prev = value
    return out


def _event_values(inv: dict, source_line: str) -> list[str]:
    """Reprs of event fields: those the line reads first, then the other top-level scalars."""
    event = inv.get("event")
    if not isinstance(event, dict):
        return []
    keys = [m.group(2) for m in _EVENT_FIELD.finditer(source_line)] + list(event)
    out: list[str] = []
    for key in keys:
        value = event.get(key)
        if isinstance(value, (int, float, str, bool)) or value is None:
            text = repr(value)
            if key in event and text not in out:
                out.append(text)
    return out


def _variable(inv: dict, rng: random.Random, **_: Any) -> Question | None:
    steps = inv["steps"]
    skip = {"event", "context", "container_state", *inv.get("track", [])}
    names = [n for s in steps for n in s["variables"] if n not in skip]
    names = list(dict.fromkeys(names))
    candidates = [(name, k, value, line) for name in names for k, value, line in _changes(steps, name)
                  if len(value) <= 40]
    if not candidates:
        return None
    name, k, answer, line = rng.choice(candidates)
    var = _code(name)
    unassigned = f"{var} reads 'undefined' only before a line assigns it; step {k} runs {_code(line)}."
    pool = [(v, unassigned if v == UNDEFINED else f"{var} holds {v} after step {s['number']}, not after step {k}.")
            for s in steps if (v := s["variables"].get(name)) is not None]
    pool.append((UNDEFINED, unassigned))
    pool += [(v, f"{v} is a value in the event, not what {var} holds after step {k}.")
             for v in _event_values(inv, line)]
    pool += [(s["variables"][n], f"{s['variables'][n]} is what {_code(n)} holds after step {k}, not {var}.")
             for s in steps if s["number"] == k for n in names if n != name]
    pool.append(("None", f"{var} never holds None in this run."))
    wrong = _pick_wrong(answer, [(v, why) for v, why in pool if len(v) <= 40])
    if len(wrong) < 2:
        return None
    return _build(
        "variable", f"In the variable tracker, what does {_code(name)} hold after step {k}?",
        answer, wrong, rng,
        f"In the variable tracker, look at the '{name}' row in column {k}: its value after step {k}.",
        f"Step {k} runs {_code(line)}, so right after it {_code(name)} is {answer}. "
        f"Before the line that assigns it, a local reads 'undefined'; it is created fresh on every invocation.")


def _seconds(value: float) -> str:
    if value >= 60 and value % 60 == 0:
        minutes = int(value // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{value:g} s"


def _idle(inv: dict, rng: random.Random, idle_timeout: float | None = None, **_: Any) -> Question | None:
    steps = inv["steps"]
    warm = next((s for s in steps if s["kind"] == "warm"), None)
    if warm is None:
        return None
    w = warm["number"]
    ret = w - 1
    end = steps[w] if len(steps) > w and steps[w]["kind"] == "end" else None
    span = (f"until its idle timeout (here {_seconds(idle_timeout)}) runs out"
            if idle_timeout else "until its idle timeout runs out")
    answer = f"It is kept warm {span}, then terminated"
    wrong = [(text.format(ret=ret), why) for text, why in _IDLE_WRONG]
    if end is not None and end["action"] == "No new event arrives":
        hint = f"See steps {w} and {w + 1} in the 'Container state' column of the step table."
        seen = (f"This run shows it: step {w} reads '{warm['container_state']}' and step {w + 1}, "
                f"'{end['action']}', reads '{end['container_state']}'.")
    else:
        hint = f"See step {w} in the 'Container state' column of the step table, and think about what ends an idle container."
        seen = f"Step {w} reads '{warm['container_state']}'."
        if end is not None:
            seen += f" In this run a next event did arrive (step {w + 1}: '{end['action']}'), so it was reused instead."
    return _build(
        "idle", f"After step {w}, if no new event arrives, what happens to the container?",
        answer, wrong, rng, hint,
        "After returning, Lambda freezes the environment and keeps it warm so the next event can skip init. "
        f"If nothing arrives before the idle timeout, it is reaped (AWS does not publish its own idle "
        f"timeout; here it is set). {seen}")


def _cold_warm(inv: dict, rng: random.Random, **_: Any) -> Question | None:
    cold, reason = inv.get("cold"), inv.get("cold_reason")
    if cold is None or inv.get("status") == "throttled":
        return None
    known = reason in COLD_REASONS or reason in _MORE_COLD_REASONS
    key = reason if cold and known else ("warm" if not cold else "first-invocation")
    close = ("new-version",) if key == "function-updated" else ()  # too near the right answer to be wrong
    others = [r for r in COLD_REASONS if r not in (key, "warm", *close)]
    picked = rng.sample(others, 2 if key != "warm" else 3)
    steps = inv["steps"]
    s1 = steps[0]
    s2 = steps[1] if len(steps) > 1 else s1
    seen = f" This run's step 2 reads '{s2['action']}'."
    wrong = [(COLD_REASONS[r], _NOT_THIS_REASON[r] + seen)
             for r in (["warm"] if key != "warm" else []) + picked]
    if key == "warm":
        why = (f"Step 2 reads '{s2['action']}': an idle environment was thawed and reused, so the module "
               "was not imported again and globals kept their values.")
    else:
        why = (f"Step 1 reads '{s1['container_state']}' and step 2 '{s2['action']}': {_COLD_WHY[key]}. "
               "A cold start runs init (imports the module) before the handler; a warm one skips it.")
    return _build(
        "cold-warm", f"Was invocation #{inv.get('number')} a cold or a warm start, and why?",
        COLD_REASONS.get(key) or _MORE_COLD_REASONS[key], wrong, rng,
        "Look at steps 1 and 2 of the step table: the 'Container state' of step 1 and the 'Action' of step 2.",
        why)


def _global(inv: dict, rng: random.Random, past: list[dict] | None = None, **_: Any) -> Question | None:
    if not past:
        return None
    after, before = inv.get("globals_after") or {}, inv.get("globals_before") or {}
    name = next((n for n, v in after.items() if _int(v) is not None and _int(before.get(n)) is not None
                 and _int(v) != _int(before[n])), None)
    if name is None:
        return None
    served = _since_cold_start(inv, past)
    if not served:
        return None
    start = _int((served[0].get("globals_before") or {}).get(name))
    value = _int(after[name])
    n = len(served)
    answer = str(value)
    var = _code(name)
    pool = [(str(value - _int(before[name]) + (start or 0)),
             f"That is what {var} would hold if this were the environment's first event: globals "
             f"carry over between warm invocations."),
            (str(start), f"That is what init set {var} to; the {n} invocations since then changed it."),
            (before[name], f"That is what {var} held when this invocation started, before it ran."),
            (str(value + 1), f"One too many: count the invocations since the cold start again ({n})."),
            (str(value - 1), f"One too few: count the invocations since the cold start again ({n})."),
            (str(n + 1), f"That counts invocations, not the value of {var}.")]
    wrong = _pick_wrong(answer, pool)
    ordinal = _ordinal(n)
    return _build(
        "global", f"{_code(name)} is a module global. Invocation #{inv.get('number')} is the {ordinal} event "
        f"served by its environment since that environment's cold start. What does {_code(name)} hold after it?",
        answer, wrong, rng,
        f"Init set {_code(name)} to {start}. Count this environment's invocations since its cold start: "
        f"step 2 reads 'Create new container (init)' for the cold one and 'Reuse warm container' for the others.",
        f"Module globals live as long as the environment's process: init set {_code(name)} to {start}, and "
        f"each of the {n} invocation{'s' if n != 1 else ''} it served since then updated the same object, so it "
        f"holds {answer}. A local would start over on every invocation; a new environment would start at {start} again.")


def _int(text: Any) -> int | None:
    try:
        return int(str(text))
    except (TypeError, ValueError):
        return None


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _since_cold_start(inv: dict, past: list[dict]) -> list[dict]:
    """This environment's invocations from its last (re)initialisation up to ``inv``, oldest first."""
    same = [h for h in past if h.get("container_id") == inv.get("container_id")
            and h.get("function_name") == inv.get("function_name") and h.get("number", 0) <= inv.get("number", 0)
            and h.get("status") not in ("throttled", "queued", "running")]
    same.sort(key=lambda h: h.get("number", 0))
    if not same or same[-1].get("number") != inv.get("number"):
        return []
    colds = [i for i, h in enumerate(same) if h.get("cold")]
    return same[colds[-1]:] if colds else []  # without the cold start in view, n is unknown


_FAILURE_RESET = "It is reset: the process is gone, and the next invocation runs init again (a cold start)"
_FAILURE_KEEP = "It stays warm and is reused by the next event; module globals keep their values"
_FAILURE_WRONG = (
    ("Lambda retries the handler automatically in the same process",
     "Lambda never retries a synchronous invocation; an asynchronous one is retried later, as a new "
     "invocation."),
    ("The function is disabled until you deploy it again",
     "A failed invocation disables nothing: the next event is served as usual."),
)


def _failure(inv: dict, rng: random.Random, past: list[dict] | None = None, **_: Any) -> Question | None:
    status, steps = inv.get("status"), inv["steps"]
    last = steps[-1]
    error = inv.get("error") or {}
    init_failed = any(s["container_state"] == "Container reset (init failed)" for s in steps)
    if status == "timed-out":
        what, cause = "timed out", "A timeout kills the runtime process mid-invocation"
    elif status == "crashed":
        what, cause = "crashed (its runtime process exited)", "The runtime process exited"
    elif status == "failed" and init_failed:
        what, cause = f"failed during init ({error.get('errorType')})", "Init did not finish"
    elif status == "failed":
        what = f"raised {error.get('errorType', 'an exception')}"
        cause = None
    else:
        return None
    stop = next((s for s in steps if s["kind"] in ("stop", "error")), last)
    if cause is None:
        answer = _FAILURE_KEEP
        wrong = [(_FAILURE_RESET, "An exception is an answer, not a breakdown: the process is fine, so "
                                  "nothing needs a reset (a timeout, a crash or running out of memory would)."),
                 *_FAILURE_WRONG]
        explain = (f"An exception in the handler is returned to the caller as an error (step {stop['number']}), "
                   "but the process is fine, so the environment is kept warm like after a success.")
    else:
        answer = _FAILURE_RESET
        wrong = [(_FAILURE_KEEP, f"{cause}, so the process does not survive: there is nothing left to keep warm."),
                 *_FAILURE_WRONG]
        explain = (f"{cause}, so nothing of that environment survives: step {stop['number']} reads "
                   f"'{stop['container_state']}'. The next invocation is a cold start that re-runs init "
                   "(a suppressed init), and module globals start over.")
    later = _next_on(inv, past)
    if later is not None:
        explain += (f" Invocation #{later['number']} shows it: it was "
                    + (f"cold ({later.get('cold_reason')})." if later.get("cold") else "warm."))
    return _build(
        "failure", f"Invocation #{inv.get('number')} {what}. What happens to its execution environment?",
        answer, wrong, rng,
        f"Look at step {stop['number']} in the 'Container state' column of the step table.", explain)


def _next_on(inv: dict, past: list[dict] | None) -> dict | None:
    """The next invocation served by the same environment after ``inv``, if the history has one."""
    for h in past or []:
        if h.get("container_id") == inv.get("container_id") and h.get("number", 0) > inv.get("number", 0) \
                and h.get("cold") is not None:
            return h
    return None
