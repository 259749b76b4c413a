"""Build the step table of an invocation from the platform's facts and the runtime's trace.

Pure functions over plain data: the manager calls them, views read the result.
"""

from __future__ import annotations

import json

from lambda_widget.engine.records import UNDEFINED, Step

ACTIVE = "Container active"
_ENCODER = json.JSONEncoder(ensure_ascii=False)  # json.dumps(value, ensure_ascii=False), built once

_EVENT_STATE = {
    "first-invocation": "No container",
    "new-version": "No container for this version",
    "function-updated": "No container for the updated $LATEST",
    "idle-expired": "No container (the last one was reaped)",
    "all-busy": "All containers busy",
    "reset-after-timeout": "Container reset after a timeout",
    "reset-after-crash": "Container reset after a crash",
    "reset-after-init-error": "Container reset after an init error",
}

END_STEPS = {
    "idle-timeout": ("No new event arrives", "Container terminated after idle timeout", "Stopped"),
    "reused": ("Next event arrives", "Container reused by the next invocation", "Finished"),
    "reinit": ("Next event arrives", "Container re-initialised by the next invocation", "Finished"),
    "function-updated": ("Function updated", "Container terminated ($LATEST was updated)", "Stopped"),
    "version-deleted": ("Version deleted", "Container terminated (its version was deleted)", "Stopped"),
    "function-deleted": ("Function deleted", "Container terminated (the function was deleted)", "Stopped"),
    "deprovisioned": ("Provisioned concurrency removed", "Container terminated (no longer provisioned)",
                      "Stopped"),
    "shutdown": ("Manager shut down", "Container terminated", "Stopped"),
    "crashed-idle": ("Process exited while idle", "Container reset (process exited)", "Stopped"),
    "init-error": ("Init failed again", "Container terminated", "Stopped"),
}


def text_of(value, limit: int = 80) -> str:
    """Short text for a result in the Output column."""
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    else:
        try:
            text = _ENCODER.encode(value)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def opening(cold: bool, reason: str | None, init_output: str = "", init_error: dict | None = None,
            throttled: bool = False, provisioned_first: bool = False) -> list[Step]:
    """Steps 1 and 2: the event arrives; a container is created or reused (or none: throttled)."""
    if throttled:
        return [
            Step(1, "Event triggers Lambda", "No free container", "Not started", kind="event"),
            Step(2, "Throttled: concurrency limit reached", "No container created", "Not started",
                 "Rate Exceeded.", kind="throttle"),
        ]
    if cold:
        first = Step(1, "Event triggers Lambda", _EVENT_STATE.get(reason or "", "No container"),
                     "Not started", kind="event")
        suppressed = (reason or "").startswith("reset-")
        action = "Re-initialise container (init)" if suppressed else "Create new container (init)"
        state = "Init failed" if init_error else "Container created"
        output = init_output
        if init_error:
            output = (output + "\n" if output else "") + \
                f"{init_error.get('errorType')}: {init_error.get('errorMessage')}"
        second = Step(2, action, state, "Not started", output, kind="init")
    elif provisioned_first:
        first = Step(1, "Event triggers Lambda", "Provisioned container ready (frozen)", "Not started",
                     kind="event")
        second = Step(2, "Use provisioned container (init already done)", ACTIVE, "Not started",
                      kind="reuse")
    else:
        first = Step(1, "Event triggers Lambda", "Container warm (frozen)", "Not started", kind="event")
        second = Step(2, "Reuse warm container", ACTIVE, "Not started", kind="reuse")
    return [first, second]


def no_facts() -> dict:
    """The facts of an invocation without a trace."""
    return {"entry": {}, "globals_before": {}, "globals_after": {}, "truncated": False,
            "returned": False}


def from_trace(records: list[dict], request_id: str, source: str = "") -> tuple[list[Step], dict]:
    """Line steps from the runtime's records, plus facts (entry vars, globals, truncation)."""
    facts = no_facts()
    lines = source.splitlines()
    with_lines = {n for n, text in enumerate(lines, 1) if text.lstrip().startswith(_WITH)}
    steps: list[Step] = []

    def close_last(rec: dict) -> None:
        if steps and "pv" in rec:
            steps[-1].variables = rec["pv"]
            steps[-1].output = rec.get("po", "").rstrip("\n")
            if "pg" in rec:
                steps[-1].globals = rec["pg"]

    for rec in records:
        if rec.get("rid", request_id) != request_id:
            continue
        kind = rec.get("t")
        if kind in ("step", "return", "truncated", "post"):
            close_last(rec)
        if kind == "step":
            line = rec.get("line")
            src = rec.get("src") or (lines[line - 1].strip() if line and 0 < line <= len(lines) else "")
            previous = steps[-1].line if steps and steps[-1].kind == "line" else None
            if line in with_lines and previous is not None and _leaves_with(lines, line, previous):
                steps.append(Step(0, "Leave the with block", ACTIVE, f"{src.rstrip(':').rstrip()} → __exit__()",
                                  kind="line", line=line))
            else:
                steps.append(Step(0, "Run handler code", ACTIVE, src, kind="line", line=line))
        elif kind == "entry":
            facts["entry"] = rec.get("vars", {})
        elif kind == "globals":
            facts["globals_" + rec.get("when", "before")] = rec.get("vars", {})
        elif kind == "truncated":
            facts["truncated"] = True
            steps.append(Step(0, "Trace truncated", ACTIVE,
                              f"(step cap of {rec.get('n')} lines reached: the handler kept running untraced)",
                              kind="truncated"))
        elif kind == "return":
            facts["returned"] = True
    return steps, facts


_WITH = ("with ", "async with ")


def _leaves_with(lines: list[str], line: int | None, previous: int) -> bool:
    """Whether a step on ``line`` (a ``with`` line) is the exit of its block: Python reports the
    ``__exit__`` call as the ``with`` line running again, right after a line of the block's body."""
    if not line < previous <= len(lines):
        return False
    indent = len(lines[line - 1]) - len(lines[line - 1].lstrip())
    for text in lines[line:previous]:  # every line from the with to the previous step is in its body
        if text.strip() and len(text) - len(text.lstrip()) <= indent:
            return False
    return True


def closing(steps: list[Step], status: str, result=None, error: dict | None = None,
            timeout: float = 0.0, message: str = "", traced: bool = True) -> list[Step]:
    """The return or error step, and what happens to the container right after."""
    out: list[Step] = []
    if status == "succeeded":
        last = steps[-1] if steps else None
        if traced and last is not None and last.kind == "line" and \
                last.handler_execution.startswith("return"):
            last.action, last.kind = "Return result", "return"
            last.output = "\n".join(x for x in (last.output, text_of(result)) if x)
        else:
            shown = "return (handler finished)" if traced else "return"
            out.append(Step(0, "Return result", ACTIVE, shown, text_of(result), kind="return"))
        out.append(Step(0, "Container kept warm", "Container ready for next event", "Idle", kind="warm"))
    elif status == "failed":
        err = error or {}
        out.append(Step(0, "Return error", ACTIVE, f"raise {err.get('errorType', 'Error')}",
                        f"{err.get('errorType')}: {err.get('errorMessage')}", kind="error"))
        out.append(Step(0, "Container kept warm", "Container ready for next event", "Idle", kind="warm"))
    elif status == "timed-out":
        out.append(Step(0, "Task timed out", "Container reset (process killed)", "Stopped",
                        f"Task timed out after {timeout:.2f} seconds", kind="stop"))
    elif status == "crashed":
        out.append(Step(0, "Runtime exited", "Container reset (process exited)", "Stopped",
                        message, kind="stop"))
    elif status == "out-of-memory":
        out.append(Step(0, "Out of memory", "Container reset (process killed)", "Stopped",
                        "Runtime.OutOfMemory: memory size exceeded", kind="stop"))
    elif status == "init-failed":
        err = error or {}
        out.append(Step(0, "Return error", "Container reset (init failed)", "Not started",
                        f"{err.get('errorType')}: {err.get('errorMessage')}", kind="error"))
    elif status == "cancelled":
        out.append(Step(0, "Invocation cancelled", "Container reset (process killed)", "Stopped",
                        message, kind="stop"))
    return out


def untraced(output_lines: list[str]) -> Step:
    return Step(0, "Run handler code", ACTIVE, "(tracing off)", "\n".join(output_lines)[:2000],
                kind="line")


def number_and_fill(steps: list[Step], entry: dict[str, str], track: list[str],
                    globals_before: dict[str, str] | None = None) -> list[Step]:
    """Number the steps and give every step every variable: unbound names read ``undefined``.

    Steps before the handler's first line show the variables at the call (the event is
    there, locals are not); steps after the last line keep the last values seen. The global
    frame is filled the same way, from the module globals at the call (``globals_before``).
    """
    _fill_globals(steps, globals_before or {})
    names: list[str] = []
    for step in steps:
        for name in step.variables:
            if name not in names:
                names.append(name)
    for name in list(entry) + list(track):
        if name not in names:
            names.append(name)
    current: dict[str, str] = {name: entry.get(name, UNDEFINED) for name in names}
    seen_line = False
    for i, step in enumerate(steps, 1):
        step.number = i
        if step.kind in ("line", "return") and step.variables:
            seen_line = True
            current = {name: step.variables.get(name, UNDEFINED) for name in names}
        elif step.kind in ("event", "init", "reuse", "throttle") and not seen_line:
            current = {name: entry.get(name, UNDEFINED) for name in names}
        values = dict(current)
        values["container_state"] = step.container_state
        step.variables = values
    return steps


def _fill_globals(steps: list[Step], before: dict[str, str]) -> None:
    names = list(dict.fromkeys(name for step in steps for name in step.globals))
    if not names:
        return
    current = {name: before.get(name, UNDEFINED) for name in names}
    for step in steps:
        if step.globals:
            current = {name: step.globals.get(name, current[name]) for name in names}
        step.globals = dict(current)


def end_step(number: int, reason: str, last: Step | None) -> Step:
    action, state, execution = END_STEPS.get(reason, END_STEPS["shutdown"])
    variables = dict(last.variables) if last is not None else {}
    variables["container_state"] = state
    return Step(number, action, state, execution, "", variables, kind="end",
                globals=dict(last.globals) if last is not None else {})
