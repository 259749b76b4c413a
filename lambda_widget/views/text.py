"""Terminal text of every view: step table, variable tracker, logs, pool, function, history.

Used by the CLI, by the magics when no widget frontend exists, and as the views'
``text/plain``. With the default switches of the ``plain_*`` functions the text holds
no request ids, times, durations, temporary paths or memory addresses, so it is
byte-identical across runs with the same seed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lambda_widget.views.html import MAX_HISTORY_ROWS, burst_counts, log_lines, tracker_frames
from lambda_widget.views.moments import key_moments
from lambda_widget.views.snapshot import history_window, pool_snapshot
from lambda_widget.views.words import (
    ERROR_STATUSES,
    alias_words,
    env_state_words,
    ms,
    other_python,
    runtime_words,
    seconds,
    served_words,
    start_words,
    status_words,
    version_tag,
    weight_words,
)

STEP_WIDTHS = (4, 32, 42, 36, 30)
TRACKER_CELL = 30
TRACKER_BLOCK = 8  # step columns per block of the tracker (the seed's eight steps in one)
_TASK_ROOT = re.compile(r"[^\s'\"]*/lambda-widget-[A-Za-z0-9_]+/functions/[^/\s]+/v\d+")
_ENV_TMP = re.compile(r"[^\s'\"]*/lambda-widget-[A-Za-z0-9_]+/envs/[^/\s]+/tmp(?=[/'\"\s]|$)")
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def as_dict(record: Any) -> dict[str, Any]:
    return record.to_dict() if hasattr(record, "to_dict") else record


def scrub(text: str, request_id: str | None = None) -> str:
    """Drop what differs between runs: request ids, temporary task roots and scratch directories
    (shown as Lambda's ``/var/task`` and ``/tmp``), memory addresses."""
    if request_id:
        text = text.replace(f"RequestId: {request_id} ", "").replace(request_id, "<request-id>")
    text = _TASK_ROOT.sub("/var/task", _ENV_TMP.sub("/tmp", text))  # an environment's scratch dir is its /tmp
    return _ADDRESS.sub(" at 0x…", text)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _cell(text: Any, width: int) -> str:
    """One line of at most ``width`` characters: line breaks shown as ⏎, a tab as a space, other
    control characters escaped (a raw one would break the table's columns in a terminal)."""
    flat = str(text).replace("\r", "\n").strip("\n").replace("\n", " ⏎ ").replace("\t", " ")
    flat = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", flat)
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def table(headers: list[str], rows: list[list[Any]], widths: list[int] | tuple[int, ...]) -> str:
    """A Markdown-style table, cells cut to ``widths``; numbers in the first column right-aligned."""
    cells = [[_cell(c, w) for c, w in zip(row, widths, strict=True)] for row in rows]
    sizes = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: list[str], numeric: bool = False) -> str:
        parts = [v.rjust(sizes[i]) if numeric and i == 0 and v.isdigit() else v.ljust(sizes[i])
                 for i, v in enumerate(values)]
        return "| " + " | ".join(parts) + " |"

    out = [line(headers), "|" + "|".join("-" * (s + 2) for s in sizes) + "|"]
    out += [line(r, numeric=True) for r in cells]
    return "\n".join(out)


# ---------------------------------------------------------------------------- invocation
def _headline(inv: dict[str, Any]) -> str:
    qualifier = inv.get("qualifier")
    via = f" via alias {qualifier}" if qualifier and qualifier != inv["version"] else ""
    return (f"{inv['function_name']} {version_tag(inv['version'])}{via} #{inv['number']}: "
            f"{status_words(inv['status'])}, {start_words(inv)}")


def _outcome(inv: dict[str, Any]) -> str:
    rid = inv.get("request_id")
    if inv["status"] in ("queued", "running"):
        return "Result: not yet"
    if inv["status"] == "dry-run":
        return "Result: dry run, nothing executed"
    error = inv.get("error")
    if inv["status"] in ERROR_STATUSES and error:
        return scrub(f"Error: {error.get('errorType')}: {error.get('errorMessage')}", rid)
    try:
        text = json.dumps(inv.get("result"), ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(inv.get("result"))
    return scrub(f"Result: {text}", rid)


def step_table_text(inv: dict[str, Any]) -> str:
    rid = inv.get("request_id")
    rows = [[s["number"], s["action"], s["container_state"], scrub(s["handler_execution"], rid),
             scrub(s.get("output") or "", rid)] for s in inv.get("steps") or []]
    if not rows:
        return "(no steps recorded yet)"
    return table(["Step", "Action", "Container state", "Handler execution", "Output"], rows, STEP_WIDTHS)


def tracker_text(inv: dict[str, Any]) -> str:
    """The tracker, frame by frame (global frame, handler frame, environment), ten steps a block."""
    steps = inv.get("steps") or []
    if not steps:
        return ""
    rid = inv.get("request_id")
    frames = tracker_frames(inv)
    notes = [f"{title}: {note}." for _key, title, note, _names in frames if note]
    blocks = []
    for start in range(0, len(steps), TRACKER_BLOCK):
        chunk = steps[start:start + TRACKER_BLOCK]
        rows: list[list[Any]] = []
        for key, title, _note, names in frames:
            field = "globals" if key == "global" else "variables"
            if len(frames) > 1:
                rows.append([f"[{title.lower()}]"] + [""] * len(chunk))
            rows += [[name] + [scrub((s.get(field) or {}).get(name, "undefined"), rid) for s in chunk]
                     for name in names]
        widths = [24] + [TRACKER_CELL] * len(chunk)
        blocks.append(table(["Variable / step"] + [str(s["number"]) for s in chunk], rows, widths))
    return "\n".join(notes + [""] if len(frames) > 1 else []) + "\n\n".join(blocks)


def logs_text(inv: dict[str, Any]) -> str:
    return "\n".join(log_lines(inv.get("logs") or []))


def render_invocation(inv: Any, *, tracker: bool = True, logs: bool = True, moments: bool = True,
                      facts: bool = True, history: list[Any] | None = None,
                      function: Any = None) -> str:
    """An invocation for a terminal: headline, result, step table, tracker, key moments, logs."""
    data = as_dict(inv)
    parts = [_headline(data)]
    if facts and data.get("duration_ms") is not None:
        extra = f", init {ms(data['init_duration_ms'])}" if data.get("init_duration_ms") is not None else ""
        used = data.get("max_memory_used_mb")
        memory = f"memory {used} of {data.get('memory_size_mb')} MB" if used is not None else \
            f"memory size {data.get('memory_size_mb')} MB (use not measured)"
        python = f", Python {other_python(data)}" if other_python(data) else ""
        parts.append(f"Request {data['request_id']} in {data.get('container_id')}: duration "
                     f"{ms(data['duration_ms'])}, billed {data.get('billed_duration_ms')} ms{extra}, {memory}{python}")
    parts.append(_outcome(data))
    parts.append("")
    parts.append(step_table_text(data))
    if tracker and data.get("steps"):
        parts += ["", "Variable tracker:", tracker_text(data)]
    if moments:
        said = key_moments(data, [as_dict(h) for h in history] if history else None,
                           as_dict(function) if function is not None else None)
        if said:
            parts += ["", "Key moments:"] + [f"- {scrub(s, data.get('request_id'))}" for s in said]
    if logs and data.get("logs"):
        parts += ["", "Logs:", logs_text(data)]
    return "\n".join(parts)


def plain_invocation(inv: Any) -> str:
    """Short and deterministic: headline, result or error, the step table."""
    return render_invocation(inv, tracker=False, logs=False, moments=False, facts=False)


# ---------------------------------------------------------------------------- pool
def pool_text(snap: dict[str, Any], *, times: bool = True) -> str:
    envs = snap["containers"]
    who = f" of {snap['function_name']}" if snap.get("function_name") else ""
    if not envs:
        return f"Pool{who}: no execution environments yet"
    count = {k: sum(e["state"] == k for e in envs) for k in ("busy", "idle", "initializing", "terminated")}
    live = len(envs) - count["terminated"]
    lines = [f"Pool{who}: {live} live environment{'s' if live != 1 else ''} ({count['busy']} busy, "
             f"{count['idle']} idle, {count['initializing']} initialising), {count['terminated']} terminated"]
    now = snap["now"]
    for e in envs:
        served = ", ".join(served_words(e))
        line = f"  {e['id']:<8} {e['function_name']} {version_tag(e['version'])}  {env_state_words(e)}  {served}"
        if times:
            if e["state"] == "terminated":
                line += f"  [lived {seconds((e.get('ended_at') or now) - e['created_at'])}]"
            elif e.get("provisioned"):
                line += f"  [age {seconds(now - e['created_at'])}, provisioned: never reaped]"
            elif e.get("reaps_at") is not None:
                left = max(0.0, e["reaps_at"] - now)
                line += f"  [age {seconds(now - e['created_at'])}, reaped in {seconds(left)}]"
            else:
                line += f"  [age {seconds(now - e['created_at'])}]"
        lines.append(line)
    return "\n".join(lines + versions_lines(snap.get("versions") or []))


def versions_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The versions-and-aliases table in words (nothing when no function has published versions)."""
    if not rows:
        return []
    out = ["Versions and aliases:"]
    for r in rows:
        named = ", ".join(a["name"] + (f" {weight_words(a['weight'])}" if a["weight"] < 1 else "")
                          for a in r["aliases"])
        provisioned = f" ({r['provisioned']} provisioned)" if r["provisioned"] else ""
        out.append(f"  {r['function_name']} {version_tag(r['version'])}: {r['environments']} environment"
                   f"{'s' if r['environments'] != 1 else ''}{provisioned}" + (f"; aliases: {named}" if named else ""))
    return out


def render_pool(manager: Any, function_name: str | None = None, *, times: bool = True) -> str:
    """The pool for a terminal; ``times=False`` leaves out ages and countdowns (deterministic)."""
    return pool_text(pool_snapshot(manager, function_name), times=times)


# ---------------------------------------------------------------------------- function, history, burst
def function_text(fn: dict[str, Any], versions: list[dict[str, Any]] | None = None,
                  alias: dict[str, Any] | None = None) -> str:
    """A function version's configuration (and, given ``versions`` rows, its versions and aliases;
    given ``alias``, the alias it was shown for)."""
    handler = fn["handler"] if "." in fn["handler"] else f"lambda_function.{fn['handler']}"
    reserved = fn.get("reserved_concurrency")
    lines = [f"Function {fn['name']} {version_tag(fn['version'])}"
             + (f": {fn['description']}" if fn.get("description") else ""),
             *([f"  alias {alias_words(alias)}"] if alias is not None else []),
             f"  handler {handler}, runtime {runtime_words(fn)}, "
             f"{fn.get('architecture', 'x86_64')} (price only)",
             *([f"  warning: {fn['python_note']}"] if fn.get("python_note") else []),
             f"  timeout {fn['timeout']:g} s, memory {fn['memory_mb']} MB, idle timeout {seconds(fn['idle_timeout'])}",
             f"  tracked: {', '.join(fn.get('track', [])) or 'none'}",
             f"  concurrency: reserved {reserved if reserved is not None else 'none (account pool)'}, "
             f"provisioned {fn.get('provisioned_concurrency', 0)}"]
    return "\n".join(lines + versions_lines(versions or []))


def render_function(fn: Any, versions: list[dict[str, Any]] | None = None) -> str:
    """A function version's configuration (and the function's versions and aliases, if given:
    ``manager.version_rows(name)``)."""
    return function_text(as_dict(fn), versions)


def history_text(rows: list[dict[str, Any]], *, times: bool = False, total: int | None = None) -> str:
    """The last ``MAX_HISTORY_ROWS`` rows as a table; ``total``: how many there are in all."""
    if not rows:
        return "No invocations yet."
    total = len(rows) if total is None else total
    note = f"\n(the last {MAX_HISTORY_ROWS} of {total})" if total > MAX_HISTORY_ROWS else ""
    rows = rows[-MAX_HISTORY_ROWS:]
    headers = ["#", "Function", "Version", "Status", "Start", "Environment"] + (["Duration"] if times else [])
    body = []
    for r in rows:
        start = "-" if r["cold"] is None else \
            f"cold ({(r.get('cold_reason') or '').replace('-', ' ')})" if r["cold"] else "warm"
        row = [r["number"], r["function_name"], version_tag(r["version"]), status_words(r["status"]), start,
               r.get("container_id") or "-"]
        body.append(row + ([ms(r.get("duration_ms"))] if times else []))
    return table(headers, body, [6, 24, 8, 22, 34, 10, 12][: len(headers)]) + note


def render_history(manager: Any, function_name: str | None = None, *, times: bool = False) -> str:
    """Past invocations as a table (no durations unless ``times``)."""
    rows, total = history_window(manager, function_name, MAX_HISTORY_ROWS)
    return history_text(rows, times=times, total=total)


def wait_text(seconds_waited: float, reaped: list[dict[str, Any]],
              added: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> str:
    """What a clock jump changed: the environments reaped, and the steps it added to earlier
    invocations (their final step), nothing that was printed before."""
    waited = f"{seconds_waited:g} s" if seconds_waited < 120 else seconds(seconds_waited)
    lines = [f"=== {waited} later: {len(reaped)} environment"
             f"{'s' if len(reaped) != 1 else ''} reaped ==="]
    for env in reaped:
        idle = (env.get("ended_at") or 0) - env["last_used_at"]
        lines.append(f"  {env['id']:<8} {env['function_name']} {version_tag(env['version'])}  reaped after "
                     f"{seconds(idle)} idle (idle timeout {seconds(env['idle_timeout'])}); it served "
                     f"{served_words(env)[0]}")
    for inv, steps in added:
        rid = inv.get("request_id")
        rows = [[s["number"], s["action"], s["container_state"], scrub(s["handler_execution"], rid),
                 scrub(s.get("output") or "", rid)] for s in steps]
        lines += ["", f"Invocation #{inv['number']} ({inv['function_name']} {version_tag(inv['version'])}): "
                  f"step{'s' if len(steps) != 1 else ''} added",
                  table(["Step", "Action", "Container state", "Handler execution", "Output"], rows, STEP_WIDTHS)]
    if not reaped and not added:
        lines.append("  nothing changed: no environment sat idle long enough to be reaped")
    return "\n".join(lines)


def burst_text(rows: list[dict[str, Any]]) -> str:
    done = sum(r["status"] not in ("queued", "running") for r in rows)
    lines = [f"Burst: {done} of {len(rows)} done"]
    lines += [f"  {label}: {count}" for label, count in burst_counts(rows)]
    return "\n".join(lines)
