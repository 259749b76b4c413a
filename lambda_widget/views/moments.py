"""Key moments: plain sentences about one invocation, generated from the records.

Pure functions over ``to_dict()`` data, so the widget, the static HTML and the
terminal all say the same thing.
"""

from __future__ import annotations

from typing import Any

from lambda_widget.views.words import RESET_STATUSES, cold_reason, seconds, throttle_reason

HANDLER_PARAMS = ("event", "context")
UNDEFINED = "undefined"


def key_moments(inv: dict[str, Any], history: list[dict[str, Any]] | None = None,
                function: dict[str, Any] | None = None) -> list[str]:
    """Sentences on why the start was cold or warm, what lived on, what started fresh, what came after.

    ``history`` (earlier invocation dicts) lets a sentence name the invocation that set a
    global; ``function`` (the function version's dict) gives the idle timeout.
    """
    status = inv.get("status")
    if status in ("queued", "dry-run"):
        return []
    out = [s for s in (_start(inv),) if s]
    if status == "throttled" or not inv.get("steps"):
        return out
    out += _locals(inv, history)
    out += _globals(inv, history)
    out += _outcome(inv, function)
    if inv.get("trace_truncated"):
        out.append("The trace stopped at the function's step limit (max_steps); the handler kept running "
                   "without being traced.")
    if not inv.get("traced", True):
        out.append("Tracing is off for this function, so its lines are not shown one by one.")
    return out


def _start(inv: dict[str, Any]) -> str:
    env = inv.get("container_id") or "an environment"
    if inv.get("status") == "throttled":
        return (f"Throttled: {throttle_reason(inv)}, so Lambda rejected the "
                "event (429 TooManyRequestsException) and no environment ran it.")
    if inv.get("cold") is True:
        reason = inv.get("cold_reason") or ""
        if reason.startswith("reset-"):
            return (f"Cold start (step 2): {cold_reason(reason)}. The same environment ({env}) re-ran init "
                    "inside this invocation (a suppressed init), so module globals started over.")
        return (f"Cold start (step 2): {cold_reason(reason)}. Lambda created a new execution environment "
                f"({env}) and ran init, importing the module and its top-level code, before the handler.")
    if inv.get("cold") is False:
        return (f"Warm start (step 2): Lambda thawed the idle environment {env} and reused it. No init "
                "this time, so module globals and /tmp still hold what earlier invocations left there.")
    return ""


def _handler_locals(inv: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for step in inv.get("steps", []):
        for name in step.get("variables", {}):
            if name not in names:
                names.append(name)
    skip = set(inv.get("track", [])) | {"container_state", *HANDLER_PARAMS}
    return [n for n in names if n not in skip]


def _earlier_same_env(inv: dict[str, Any], history: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    if not history or not inv.get("container_id"):
        return []
    return [h for h in history if h.get("container_id") == inv["container_id"]
            and h.get("number", 0) < inv.get("number", 0)]


def _locals(inv: dict[str, Any], history: list[dict[str, Any]] | None) -> list[str]:
    steps = inv["steps"]
    first = steps[0].get("variables", {})
    fresh = []
    for name in _handler_locals(inv):
        if first.get(name, UNDEFINED) != UNDEFINED:
            continue
        bound = next((s for s in steps if s.get("variables", {}).get(name, UNDEFINED) != UNDEFINED), None)
        if bound is not None:
            fresh.append((name, bound))
    if not fresh:
        return []
    name, bound = fresh[0]
    others = ", ".join(f"`{n}`" for n, _ in fresh[1:3])
    also = f" The same holds for {others}." if others else ""
    earlier = _earlier_same_env(inv, history)
    kept = ""
    if earlier and inv.get("cold") is False:
        last = earlier[-1]
        old = next((s.get("variables", {}).get(name) for s in reversed(last.get("steps", []))
                    if s.get("variables", {}).get(name, UNDEFINED) != UNDEFINED), None)
        if old is not None:
            kept = f", although invocation #{last['number']} in the same environment ended with {name} = {old}"
    return [f"Handler locals start fresh on every invocation: `{name}` was undefined at step 1 and got "
            f"its value at step {bound['number']} ({bound['variables'][name]}){kept}.{also}"]


def _globals(inv: dict[str, Any], history: list[dict[str, Any]] | None) -> list[str]:
    before, after = inv.get("globals_before") or {}, inv.get("globals_after") or {}
    if not before and not after:
        return []
    env = inv.get("container_id") or "the environment"
    out = []
    if inv.get("cold") is True and before:
        listed = ", ".join(f"{k} = {v}" for k, v in list(before.items())[:4])
        out.append(f"Module globals were set by init in the fresh environment: {listed}.")
    elif inv.get("cold") is False and before:
        earlier = _earlier_same_env(inv, history)
        carried = []
        for name, value in before.items():
            setter = next((h for h in reversed(earlier)
                           if (h.get("globals_before") or {}).get(name) != (h.get("globals_after") or {}).get(name)
                           and name in (h.get("globals_after") or {})), None)
            if setter is not None:
                carried.append(f"`{name}` started at {value}, the value invocation #{setter['number']} left")
        if carried:
            out.append(f"Module globals survive between invocations in the same environment: "
                       f"{'; '.join(carried[:3])} in {env}.")
        elif not history:
            listed = ", ".join(f"{k} = {v}" for k, v in list(before.items())[:4])
            out.append(f"Module globals kept their values from earlier invocations in {env}: {listed} "
                       "when the handler started.")
    changed = [(k, before.get(k, UNDEFINED), v) for k, v in after.items() if before.get(k) != v]
    if changed:
        name, old, new = changed[0]
        if inv.get("status") in RESET_STATUSES:
            then = "but the environment was reset, so that value is lost"
        else:
            then = f"the next invocation that reuses {env} starts with {name} = {new}"
        out.append(f"This invocation changed the global `{name}` from {old} to {new}; {then}.")
    return out


def _step_of(inv: dict[str, Any], *kinds: str) -> dict[str, Any] | None:
    return next((s for s in inv["steps"] if s.get("kind") in kinds), None)


def _outcome(inv: dict[str, Any], function: dict[str, Any] | None) -> list[str]:
    status = inv.get("status")
    env = inv.get("container_id") or "the environment"
    out = []
    idle = f"the idle timeout ({seconds(function['idle_timeout'])})" if function else "the idle timeout"
    error = inv.get("error") or {}
    if status == "failed":
        step = _step_of(inv, "error")
        number = step["number"] if step else "?"
        if step and "init failed" in step.get("container_state", "").lower():
            out.append(f"Init failed (step {number}): {error.get('errorType')}. The handler never ran; "
                       "the environment was reset, so the next invocation retries the init.")
            return out
        out.append(f"The handler raised {error.get('errorType', 'an error')} (step {number}): Lambda returned "
                   "the error to the caller, but an exception does not reset the environment; it is kept "
                   "warm as after a success.")
    elif status in RESET_STATUSES:
        step = _step_of(inv, "stop")
        number = step["number"] if step else "?"
        what = {"timed-out": f"The invocation timed out after {inv.get('timeout', 0):g} s",
                "crashed": "The runtime process exited",
                "out-of-memory": "The function ran out of memory",
                "cancelled": "The invocation was cancelled"}[status]
        extra = (" No exception was raised in the handler and `finally` blocks did not run."
                 if status == "timed-out" else "")
        out.append(f"{what} (step {number}): Lambda stopped the runtime and reset {env}.{extra} The next "
                   f"invocation there re-runs init (a cold start), so module globals start over.")
    warm = _step_of(inv, "warm")
    end = _step_of(inv, "end")
    if end is not None:
        out.append(_end_sentence(end, idle))
    elif warm is not None:
        out.append(f"After the response the environment is kept warm (step {warm['number']}): frozen, it "
                   f"waits for the next event. If none arrives within {idle}, Lambda reaps it and the next "
                   "invocation is a cold start.")
    return out


def _end_sentence(end: dict[str, Any], idle: str) -> str:
    n = end["number"]
    state = end.get("container_state", "")
    if "idle timeout" in state:
        return (f"Step {n}: no event arrived within {idle}, so Lambda terminated the environment; "
                "the next invocation is a cold start.")
    if "reused" in state:
        return f"Step {n}: the next event arrived and reused this warm environment."
    if "re-initialised" in state:
        return f"Step {n}: the next event arrived; the reset environment ran init again to serve it."
    if "was updated" in state:
        return (f"Step {n}: $LATEST was updated (its cell ran again), so this environment of the earlier "
                "code ended.")
    if "exited" in state:
        return (f"Step {n}: the process exited while idle; the environment was reset and the next "
                "invocation re-runs init.")
    return f"Step {n}: {end.get('action', '').lower()}; {state[:1].lower() + state[1:]}."
