"""Static HTML of every view, from plain records (``to_dict()`` data and snapshots).

The widgets show these same fragments; ``*_page`` functions wrap them in a root with
the stylesheet, for ``text/html`` outputs (GitHub, nbconvert).
"""

from __future__ import annotations

import base64
import json
import re
from html import escape
from typing import Any

from lambda_widget.views.flow import flow_summary, render_flow
from lambda_widget.views.snapshot import MAX_TIMELINE_EVENTS
from lambda_widget.views.style import style_tag
from lambda_widget.views.timeline import LEGEND, pick_rows, render_timeline
from lambda_widget.views.words import (
    ERROR_STATUSES,
    alias_words,
    cold_reason,
    env_state_words,
    ms,
    other_python,
    runtime_words,
    seconds,
    served_words,
    start_kind,
    status_words,
    throttle_reason,
    version_tag,
    weight_words,
)

UNDEFINED = "undefined"
CELL_CAP = 2000
TRACKER_CAP = 60
LOG_KEEP = 200  # entries kept at each end of a long log
PLATFORM = ("INIT_START", "START ", "END ", "REPORT ", "INIT_REPORT")
MAX_ENDED_CARDS = 12
MAX_HISTORY_ROWS = 100


def esc(value: Any) -> str:
    return escape(str(value), quote=True)


def cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# What must hold where a page strips <style> (JupyterLab's sanitiser for an untrusted notebook,
# GitHub): inline layout (no colours: var() does not survive, fixed colours would not suit a dark
# theme) and separators that the stylesheet hides where it applies.
SEP = '<span class="lw-sep"> · </span>'
SCROLL = '<div class="lw-scroll" style="overflow-x:auto;max-width:100%">'
WRAP = "white-space:pre-wrap;overflow-wrap:anywhere"
# A card's box in the text colour (currentColor); the stylesheet's state colours override it.
CARD = ("display:inline-block;vertical-align:top;margin:0 8px 8px 0;padding:4px 10px;border:1px solid;"
        "border-left-width:4px;border-radius:6px")


#: The background a static image carries: the light theme's paper, under the light theme's colours.
PAPER = "#ffffff"
_OPEN_SVG = re.compile(r"<svg\b[^>]*>")


def with_background(svg: str, colour: str = PAPER) -> str:
    """``svg`` with an opaque background rectangle under everything it draws (a no-op if it has one).
    An image sees no page CSS: its colours are the light theme's, and on a transparent background
    its dark text would vanish in a dark theme."""
    if 'class="lw-paper"' in svg:
        return svg
    tag = _OPEN_SVG.search(svg)
    if tag is None:
        return svg
    rect = f'<rect class="lw-paper" x="0" y="0" width="100%" height="100%" fill="{colour}"/>'
    return svg[:tag.end()] + rect + svg[tag.end():]


def svg_img(svg: str, alt: str, cls: str) -> str:
    """An inline SVG as an <img> on its own white background: kept by HTML sanitisers (which drop
    <svg> but keep its text, running the labels together), drawn offline in nbconvert pages, and
    legible in a dark theme."""
    data = base64.b64encode(with_background(svg).encode()).decode()
    return (f'<img class="{cls}" src="data:image/svg+xml;base64,{data}" alt="{esc(alt)}" '
            f'style="max-width:100%;height:auto;display:block">')


# JupyterLab (MathJax 3) and nbconvert (MathJax 2) typeset TeX in HTML outputs and HTML widgets:
# "$0.0000000021 per ms ... $0.20" became inline math. A view's text is never TeX.
NO_TEX = "mathjax_ignore tex2jax_ignore"


def root(classes: str, inner: str) -> str:
    """A view root: the stylesheet once, then the content (never typeset as TeX)."""
    return f'<div class="lw-root {classes} {NO_TEX}">{style_tag()}{inner}</div>'


def sec(classes: str, title: str, body: str) -> str:
    head = f'<div class="lw-h">{esc(title)}</div>' if title else ""
    return f'<div class="lw-sec {classes}">{head}{body}</div>'


def inline_code(text: str) -> str:
    """Escape, then show `backticked` words as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(text))


def default_step(inv: dict[str, Any]) -> int | None:
    steps = inv.get("steps") or []
    return len(steps) if steps else None


# ---------------------------------------------------------------------------- invocation
def badges(inv: dict[str, Any]) -> str:
    kind = start_kind(inv)
    out = ""
    if kind != "none":
        out += f'<span class="lw-badge lw-badge-{kind}">{kind} start</span>{SEP}'
    status = inv.get("status", "")
    out += f'<span class="lw-badge lw-status-{esc(status)}">{esc(status_words(status))}</span>'
    return out


def header_html(inv: dict[str, Any]) -> str:
    kind = start_kind(inv)
    if kind == "cold":
        why = f"<b>Why cold:</b> {esc(cold_reason(inv.get('cold_reason')))}."
    elif kind == "warm":
        why = (f"<b>Warm:</b> reused the idle environment {esc(inv.get('container_id'))}; "
               "no init, module globals kept.")
    elif inv.get("status") == "throttled":
        why = f"<b>Throttled:</b> {esc(throttle_reason(inv))}; no environment ran this event."
    else:
        why = '<span class="lw-muted">Waiting for an execution environment…</span>' \
            if inv.get("status") in ("queued", "running") else ""
    used = inv.get("max_memory_used_mb")
    memory = f"{used} of {inv.get('memory_size_mb')} MB" if used is not None else f"{inv.get('memory_size_mb')} MB"
    facts = [("Request id", inv.get("request_id")), ("Environment", inv.get("container_id") or "-"),
             ("Duration", ms(inv.get("duration_ms"))),
             ("Billed", f"{inv['billed_duration_ms']} ms" if inv.get("billed_duration_ms") is not None else "-")]
    if inv.get("init_duration_ms") is not None:
        facts.append(("Init", ms(inv["init_duration_ms"])))
    facts += [("Memory", memory), ("Timeout", f"{inv.get('timeout', 0):g} s"),
              ("Event", cap(json.dumps(inv.get("event"), ensure_ascii=False), 80))]
    if other_python(inv):
        facts.insert(2, ("Python", other_python(inv)))
    return (f'<div class="lw-sec lw-header"><div class="lw-title"><span class="lw-fn">'
            f'{esc(inv.get("function_name"))}</span> <span class="lw-ver">{esc(version_tag(inv.get("version")))}'
            f'</span>{via_html(inv)} <span class="lw-muted">#{esc(inv.get("number"))}</span> {badges(inv)}</div>'
            f'<div class="lw-why">{why}</div>{fact_list((k, esc(v)) for k, v in facts)}</div>')


def via_html(inv: dict[str, Any]) -> str:
    """`` via alias live`` when the caller named an alias (the version shown is the one that ran)."""
    qualifier = inv.get("qualifier")
    if not qualifier or qualifier == inv.get("version"):
        return ""
    return f' <span class="lw-muted">via alias {esc(qualifier)}</span>'


def fact_list(facts: Any) -> str:
    """Label/value pairs in a wrapping row (values are HTML)."""
    items = SEP.join(f'<span class="lw-fact"><span class="lw-k">{esc(k)}</span> <span class="lw-v">{v}</span>'
                     f'</span>' for k, v in facts)
    return f'<div class="lw-facts">{items}</div>'


def late_note(inv: dict[str, Any], number: int) -> str:
    """"added at clock X by a later cell" for a step appended after the invocation had finished."""
    late = inv.get("late_steps") or {}
    if number not in late:
        return ""
    at = f" at clock {seconds(late[number])}" if late[number] is not None else ""
    return f"step {number} added{at} by a later cell"


def caption_html(inv: dict[str, Any], step: int | None) -> str:
    steps = inv.get("steps") or []
    if not steps:
        text = {"queued": "Queued: waiting for a free slot", "running": "Running: the steps appear when it ends",
                "dry-run": "Dry run: nothing was executed"}.get(inv.get("status", ""), "No steps recorded")
        return f'<div class="lw-caption lw-muted">{esc(text)}</div>'
    s = steps[(step or len(steps)) - 1]
    late = late_note(inv, s["number"])
    late = f' <span class="lw-late">({esc(late)})</span>' if late else ""
    return (f'<div class="lw-caption"><span class="lw-step-no">{s["number"]}</span> Step {s["number"]} of '
            f'{len(steps)}: {esc(s["action"])} <span class="lw-muted">· {esc(s["container_state"])}</span>'
            f'{late}</div>')


def step_table_html(inv: dict[str, Any], step: int | None) -> str:
    rows = []
    for s in inv.get("steps") or []:
        cls = f"lw-kind-{s.get('kind', 'line')}" + (" lw-current" if s["number"] == step else "")
        late = late_note(inv, s["number"])
        late = f'<br><small class="lw-late">{esc(late)}</small>' if late else ""
        rows.append(f'<tr class="{cls}" data-step="{s["number"]}"><td>{s["number"]}</td>'
                    f'<td>{esc(s["action"])}{late}</td><td>{esc(s["container_state"])}</td>'
                    f'<td class="lw-exec">{esc(cap(s["handler_execution"], CELL_CAP))}</td>'
                    f'<td class="lw-out">{esc(cap(s.get("output") or "", CELL_CAP))}</td></tr>')
    table = ('<table class="lw-step-table"><thead><tr><th>Step</th><th>Action</th><th>Container state</th>'
             f'<th>Handler execution</th><th>Output</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return sec("lw-steps", "Step table", f'{SCROLL}{table}</div>')


def variable_names(inv: dict[str, Any]) -> list[str]:
    """Tracker rows in the engine's order: locals, tracked expressions, container_state."""
    names: list[str] = []
    for s in inv.get("steps") or []:
        for name in s.get("variables", {}):
            if name not in names:
                names.append(name)
    track = inv.get("track") or []
    tail = [n for n in track if n in names] + (["container_state"] if "container_state" in names else [])
    return [n for n in names if n not in tail] + tail


def global_names(inv: dict[str, Any]) -> list[str]:
    """Rows of the global frame: the module globals the handler read or wrote, in order of first use."""
    names: list[str] = []
    for s in inv.get("steps") or []:
        for name in s.get("globals") or {}:
            if name not in names:
                names.append(name)
    return names


def tracker_frames(inv: dict[str, Any]) -> list[tuple[str, str, str, list[str]]]:
    """The tracker's row groups, as Python Tutor draws frames: ``(key, title, note, names)`` for the
    global frame, the handler's frame (locals and tracked expressions) and the environment."""
    names = variable_names(inv)
    local = [n for n in names if n != "container_state"]
    warm = inv.get("cold") is False
    frames = []
    if global_names(inv):
        here = " (here: what this cold start's init set)"
        if inv.get("restored"):  # SnapStart: no init ran here
            here = " (here: restored from the snapshot: ⧉ marks values made at publish, in the version's one Init)"
        frames.append(("global", "Global frame",
                       "module globals the handler uses; they live as long as the environment, so a warm "
                       "invocation starts with what earlier ones left" + ("" if warm else here),
                       global_names(inv)))
    if local:
        frames.append(("handler", "Handler frame", "locals, new on every invocation", local))
    if "container_state" in names:
        frames.append(("env", "Environment", "", ["container_state"]))
    return frames


def tracker_html(inv: dict[str, Any], step: int | None) -> str:
    steps = inv.get("steps") or []
    if not steps:
        return ""
    head = "".join(f'<th class="{"lw-current" if s["number"] == step else ""}">{s["number"]}</th>' for s in steps)
    kept = inv.get("cold") is False
    restored = bool(inv.get("restored")) and not kept
    rows = []
    for key, title, note, names in tracker_frames(inv):
        if key == "global" and kept:
            note += " (↻ marks the values this invocation found)"
        rows.append(f'<tr class="lw-frame lw-frame-{key}"><th colspan="{len(steps) + 1}">'
                    f'<div class="lw-frame-label">{esc(title)}'
                    + (f' <span class="lw-muted">· {esc(note)}</span>' if note else "") + "</div></th></tr>")
        field = "globals" if key == "global" else "variables"
        for name in names:
            cells, prev = [], None
            for s in steps:
                value = (s.get(field) or {}).get(name, UNDEFINED)
                cls = []
                if s["number"] == step:
                    cls.append("lw-current")
                if len(value) > 12:
                    cls.append("lw-long")
                if value == UNDEFINED:
                    cls.append("lw-undef")
                elif prev is not None and value != prev:
                    cls.append("lw-changed")
                mark = ""
                if key == "global" and kept and prev is None and value != UNDEFINED:
                    cls.append("lw-kept")
                    mark = '<span title="left by an earlier invocation in this environment">↻ </span>'
                elif key == "global" and restored and prev is None and value != UNDEFINED:
                    cls.append("lw-kept")
                    mark = '<span title="made at publish: restored from the snapshot">⧉ </span>'
                prev = value
                cells.append(f'<td class="{" ".join(cls)}" title="{esc(cap(value, 1000))}">'
                             f'{mark}{esc(cap(value, TRACKER_CAP))}</td>')
            rows.append(f'<tr class="lw-row-{key}"><td class="lw-var"><code>{esc(name)}</code></td>'
                        f'{"".join(cells)}</tr>')
    table = (f'<table class="lw-tracker"><thead><tr><th>Variable / step</th>{head}</tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table>')
    return sec("lw-tracker-sec", "Variable tracker", f'{SCROLL}{table}</div>')


def code_html(inv: dict[str, Any], step: int | None) -> str:
    steps = inv.get("steps") or []
    current = None
    if step and 1 <= step <= len(steps) and steps[step - 1].get("kind") in ("line", "return"):
        current = steps[step - 1].get("line")
    ran = {s.get("line") for s in steps if s.get("line")}
    lines = (inv.get("source") or "").splitlines() or [""]
    out = []
    for i, text in enumerate(lines, 1):
        cls = "lw-line" + (" lw-ran" if i in ran else "") + (" lw-current" if i == current else "")
        out.append(f'<div class="{cls}" data-line="{i}" style="{WRAP}"><span class="lw-ln">{i}</span>'
                   f'<span class="lw-sep"> </span>{esc(text)}</div>')
    return sec("lw-narrow lw-code-sec", "Handler source", f'<div class="lw-code">{"".join(out)}</div>')


def flow_html(inv: dict[str, Any], step: int | None, static: bool = False) -> str:
    """The flow drawing; on a static page an <img> with the path in words beneath."""
    svg = render_flow(inv, step)
    if not static:
        return svg
    words = flow_summary(inv, step)
    return svg_img(svg, words, "lw-flow-img") + f'<div class="lw-flow-path">{esc(words)}</div>'


def stage_html(inv: dict[str, Any], step: int | None, static: bool = False) -> str:
    """Everything that follows the stepper: flow, step table, source, tracker."""
    return (f'<div class="lw-stage">{caption_html(inv, step)}'
            f'{sec("lw-flow-sec", "Process flow", flow_html(inv, step, static))}'
            f'<div class="lw-pair">{step_table_html(inv, step)}{code_html(inv, step)}</div>'
            f'{tracker_html(inv, step)}</div>')


def result_html(inv: dict[str, Any]) -> str:
    status = inv.get("status")
    if status in ("queued", "running"):
        return sec("lw-result-sec", "Result", '<div class="lw-result lw-muted">not yet…</div>')
    error = inv.get("error")
    if status in ERROR_STATUSES and error:
        trace = "".join(error.get("stackTrace") or [])
        body = (f'<b>{esc(error.get("errorType", "Error"))}</b>: {esc(error.get("errorMessage", ""))}'
                + (f'<pre style="{WRAP}">{esc(cap(trace, CELL_CAP))}</pre>' if trace else ""))
        return sec("lw-result-sec", "Error", f'<div class="lw-result lw-error">{body}</div>')
    if status == "dry-run":
        return sec("lw-result-sec", "Result", '<div class="lw-result">Dry run: parameters valid, '
                   'nothing executed.</div>')
    return sec("lw-result-sec", "Result", f'<div class="lw-result"><pre style="{WRAP}">{esc(cap(pretty(inv.get("result")), 20000))}'
               '</pre></div>')


def pretty(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def log_lines(logs: list[str]) -> list[str]:
    """Log entries as display lines: a ``\\r`` inside an entry is a line break."""
    return [line for entry in logs for line in entry.split("\r")]


def logs_html(inv: dict[str, Any]) -> str:
    entries = list(inv.get("logs") or [])
    if not entries:
        return ""
    skipped = 0
    if len(entries) > 2 * LOG_KEEP:
        skipped = len(entries) - 2 * LOG_KEEP
        entries = entries[:LOG_KEEP] + [f"… {skipped} log entries not shown …"] + entries[-LOG_KEEP:]
    out = []
    for entry in entries:
        cls = "lw-log-platform" if entry.startswith(PLATFORM) else \
            "lw-log-error" if entry.startswith("[ERROR]") else ""
        text = esc(cap(entry, 4 * CELL_CAP)).replace("\r", "\n")
        out.append(f'<span class="{cls}">{text}</span>' if cls else text)
    return sec("lw-logs-sec", "Logs (CloudWatch)", f'<pre class="lw-logs" style="{WRAP};max-height:260px;'
               f'overflow:auto">{chr(10).join(out)}</pre>')


def moments_html(sentences: list[str]) -> str:
    if not sentences:
        return ""
    items = "".join(f"<li>{inline_code(s)}</li>" for s in sentences)
    return sec("lw-key-moments", "Key moments", f"<ul>{items}</ul>")


def details_html(inv: dict[str, Any], moments: list[str]) -> str:
    """What does not move with the stepper: key moments, result or error, logs."""
    return (f'<div class="lw-details"><div class="lw-pair">{moments_html(moments)}'
            f'{result_html(inv).replace("lw-sec lw-result-sec", "lw-sec lw-narrow lw-result-sec", 1)}</div>'
            f'{logs_html(inv)}</div>')


def invocation_page(inv: dict[str, Any], step: int | None = None, moments: list[str] | None = None) -> str:
    """The whole invocation view as one static HTML string (current step: the last one)."""
    step = step if step is not None else default_step(inv)
    return root("lw-invocation", header_html(inv) + stage_html(inv, step, static=True)
                + details_html(inv, moments or []))


# ---------------------------------------------------------------------------- pool
def pool_head_html(snap: dict[str, Any]) -> str:
    envs = snap["containers"]
    count = {k: sum(e["state"] == k for e in envs) for k in ("busy", "idle", "initializing", "terminated")}
    live = len(envs) - count["terminated"]
    who = f" of {esc(snap['function_name'])}" if snap.get("function_name") else ""
    mode = f" · isolation: {esc(snap['isolation'])}" if snap.get("isolation") else ""
    return (f'<div class="lw-pool-head">{pool_moment_html(snap)}<b>{live} live execution '
            f'environment{"s" if live != 1 else ""}{who}</b> <span class="lw-muted">· {count["busy"]} busy · '
            f'{count["idle"]} idle · {count["initializing"]} initialising · {count["terminated"]} terminated'
            f'{mode}</span></div>')


def pool_moment_html(snap: dict[str, Any]) -> str:
    """Whether the view follows the pool ("live view") or shows the moment its cell ran."""
    clock = esc(seconds(snap["now"]))
    if snap.get("live"):
        moment = (f'<span class="lw-badge lw-badge-live" title="This view follows the pool as it changes">'
                  f'live view</span> <span class="lw-muted">updates as the pool changes · clock {clock}</span>')
    else:
        moment = (f'<span class="lw-muted" title="Later cells do not change this view">as the pool stood '
                  f'when this cell ran, at clock {clock}</span>')
    return f'<div class="lw-moment">{moment}</div>'


def card_html(env: dict[str, Any], now: float) -> str:
    state = env["state"]
    pc_for = f' for {esc(env["provisioned_for"])}' if env.get("provisioned_for") else ""
    lines = [f'{esc(env["function_name"])} <span class="lw-ver">{esc(version_tag(env["version"]))}</span> · '
             f'{"provisioned" + pc_for if env.get("provisioned") else "on-demand"}',
             "{} served · {}".format(*served_words(env))]
    if state == "terminated":
        life = (env.get("ended_at") or now) - env["created_at"]
        lines.append(f"lived {seconds(life)}")
    else:
        age = f"age {seconds(now - env['created_at'])}"
        if env.get("provisioned"):
            lines.append(f"{age} · provisioned: never reaped")
        elif env.get("reaps_at") is not None:
            left = env["reaps_at"] - now
            lines.append(f"{age} · reaped in {seconds(max(0.0, left))}" if left > 0 else f"{age} · reaping now")
        else:
            lines.append(f"{age} · {'serving an invocation' if state == 'busy' else 'running init'}")
    body = "".join(f"<div>{x}</div>" for x in lines)
    return (f'<div class="lw-pool-card lw-state-{esc(state)}" data-env="{esc(env["id"])}" style="{CARD}">'
            f'<div class="lw-card-id"><span>{esc(env["id"])}</span>{SEP}<span class="lw-state">'
            f'{esc(env_state_words(env))}</span></div>{body}</div>')


def pool_html(snap: dict[str, Any], static: bool = False) -> str:
    """Head line, a card per environment (recent terminated ones too), the timeline.

    ``static``: the timeline as an <img> (for text/html outputs that may be sanitised).
    """
    envs = snap["containers"]
    if not envs:
        return (f'<div class="lw-pool-body"><div class="lw-pool-head">{pool_moment_html(snap)}'
                '<span class="lw-muted">No execution environments yet: the first invocation creates one '
                '(a cold start).</span></div></div>')
    live = [e for e in envs if e["state"] != "terminated"]
    ended = [e for e in envs if e["state"] == "terminated"]
    shown = live + ended[-MAX_ENDED_CARDS:]
    more = len(ended) - min(len(ended), MAX_ENDED_CARDS)
    cards = "".join(card_html(e, snap["now"]) for e in sorted(shown, key=lambda e: int(e["id"].split("-")[1])))
    note = f'<div class="lw-muted">{more} earlier terminated environments not shown as cards.</div>' if more else ""
    rows = pick_rows(envs)
    hidden = len(envs) - len(rows)
    tl_note = f'<div class="lw-muted">Timeline: the {len(rows)} most recent of {len(envs)} environments.</div>' \
        if hidden else ""
    if snap.get("since") is not None:
        tl_note += (f'<div class="lw-muted">Timeline: the last {MAX_TIMELINE_EVENTS:,} lifecycle events, '
                    f'from {esc(seconds(snap["since"]))} on.</div>')
    return (f'<div class="lw-pool-body">{pool_head_html(snap)}<div class="lw-cards">{cards}</div>{note}'
            f'{versions_html(snap.get("versions") or [])}'
            f'{sec("lw-timeline-sec", "Timeline", timeline_html(snap, static) + LEGEND + tl_note)}</div>')


def _aliases_cell(aliases: list[dict[str, Any]]) -> str:
    named = [esc(a["name"]) + (f' <span class="lw-muted">{esc(weight_words(a["weight"]))}</span>'
                               if a["weight"] < 1 else "") for a in aliases]
    return ", ".join(named) or '<span class="lw-muted">-</span>'


def versions_html(rows: list[dict[str, Any]]) -> str:
    """A row per function version: the aliases that send it events (with their weights) and the
    environments that run it. Empty when no function has published versions or aliases."""
    if not rows:
        return ""
    many = len({r["function_name"] for r in rows}) > 1
    body = "".join(
        f'<tr class="lw-version-row" data-version="{esc(r["version"])}">'
        + (f'<td>{esc(r["function_name"])}</td>' if many else "")
        + f'<td><span class="lw-ver">{esc(version_tag(r["version"]))}</span></td><td>{_aliases_cell(r["aliases"])}</td>'
        f'<td class="lw-num">{r["environments"]}</td><td class="lw-num">{r["busy"]}</td>'
        f'<td class="lw-num">{r["provisioned"]}</td><td>{esc(r["description"])}</td></tr>' for r in rows)
    head = ("<th>Function</th>" if many else "") + ("<th>Version</th><th>Aliases</th><th>Environments</th>"
                                                    "<th>Busy</th><th>Provisioned</th><th>Description</th>")
    return sec("lw-versions-sec", "Versions and aliases",
               f'{SCROLL}<table class="lw-versions"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>')


def timeline_html(snap: dict[str, Any], static: bool) -> str:
    svg = render_timeline(snap)
    if not static or not svg:
        return svg
    envs = ", ".join(f'{e["id"]} {env_state_words(e)}' for e in pick_rows(snap["containers"]))
    return svg_img(svg, f"Timeline of the execution environments: {envs}.", "lw-timeline-img")


def pool_page(snap: dict[str, Any]) -> str:
    return root("lw-pool", pool_html(snap, static=True))


# ---------------------------------------------------------------------------- function, history, burst
def function_html(fn: dict[str, Any], stats: dict[str, Any] | None = None,
                  alias: dict[str, Any] | None = None) -> str:
    """A function version's card; ``alias``: the alias it was shown for (named above the facts)."""
    handler = fn["handler"] if "." in fn["handler"] else f"lambda_function.{fn['handler']}"
    reserved = fn.get("reserved_concurrency")
    facts = [("Handler", f"<code>{esc(handler)}</code>"), ("Runtime", esc(runtime_words(fn))
                                                                             + python_note_html(fn)),
             ("Architecture", f'{esc(fn.get("architecture", "x86_64"))} '
                              '<span class="lw-muted">(sets the price only)</span>'),
             ("Timeout", f"{fn['timeout']:g} s"), ("Memory", f"{fn['memory_mb']} MB"),
             ("Idle timeout", esc(seconds(fn["idle_timeout"]))),
             ("Tracked", ", ".join(f"<code>{esc(t)}</code>" for t in fn.get("track", [])) or "none"),
             ("Reserved concurrency", esc(reserved) if reserved is not None else "none (account pool)"),
             ("Provisioned concurrency", esc(fn.get("provisioned_concurrency", 0))),
             ("Tracing", f"on (max {fn.get('max_steps')} steps)" if fn.get("trace", True) else "off"),
             ("CPU", cpu_words(fn))]
    if fn.get("env"):
        facts.append(("Environment variables", ", ".join(f"<code>{esc(k)}</code>" for k in fn["env"])))
    if fn.get("description"):
        facts.insert(0, ("Description", esc(fn["description"])))
    extra = ""
    if stats:
        latest = stats.get("latest_revision")
        newer_note = " · $LATEST has been updated since" \
            if fn["version"] == "$LATEST" and latest and latest != fn.get("revision", latest) else ""
        moment = "Live view: " if stats.get("live") else "When this cell ran: "
        extra = (f'<div class="lw-muted" style="margin-top:6px">{moment}{stats["environments"]} live environment(s),'
                 f' {stats["busy"]} busy · {stats["invocations"]} invocation(s), {stats["cold"]} cold'
                 f'{esc(newer_note)}</div>{versions_html(stats.get("versions") or [])}')
    named = "" if alias is None else (
        f'<div class="lw-alias">Alias <b>{esc(alias["name"])}</b>: {esc(alias_words(alias).split(" -> ", 1)[1])}'
        + (f' <span class="lw-muted">· {esc(alias["description"])}</span>' if alias.get("description") else "")
        + "</div>")
    return (f'<div class="lw-function-card"><div class="lw-title"><span class="lw-fn">{esc(fn["name"])}</span> '
            f'<span class="lw-ver">{esc(version_tag(fn["version"]))}</span>{SEP}<span class="lw-badge">function'
            f'</span></div>{named}{fact_list(facts)}{extra}</div>')


def python_note_html(fn: dict[str, Any]) -> str:
    """Why a function runs on another Python than its runtime names (the machine lacks it)."""
    note = fn.get("python_note")
    return f' <span class="lw-python-note" style="color:#b45309">⚠ {esc(note)}</span>' if note else ""


def cpu_words(fn: dict[str, Any]) -> str:
    """The function's CPU: its share of a vCPU (memory / 1,769 MB) and how it is held."""
    share = fn.get("cpu_share")
    if share is None:
        return "not scaled: the machine's CPUs (cpu_scaling off)"
    how = {"cgroup": "a cgroup CPU quota", "throttle": "a SIGSTOP/SIGCONT throttle"}.get(fn.get("cpu_mode", ""))
    return f"{share:g} vCPU (memory / 1,769 MB){f', held by {how}' if how else ''}"


def function_page(fn: dict[str, Any], stats: dict[str, Any] | None = None,
                  alias: dict[str, Any] | None = None) -> str:
    return root("", function_html(fn, stats, alias))


def start_cell(row: dict[str, Any]) -> str:
    kind = start_kind(row)
    if kind == "none":
        return '<span class="lw-muted">-</span>'
    reason = f' <span class="lw-muted">{esc((row.get("cold_reason") or "").replace("-", " "))}</span>' \
        if kind == "cold" else ""
    return f'<span class="lw-badge lw-badge-{kind}">{kind}</span>{reason}'


def history_html(rows: list[dict[str, Any]], total: int | None = None) -> str:
    """The table of the last ``MAX_HISTORY_ROWS`` rows; ``total``: how many there are in all."""
    if not rows:
        return '<div class="lw-muted">No invocations yet.</div>'
    shown = rows[-MAX_HISTORY_ROWS:]
    total = len(rows) if total is None else total
    body = "".join(
        f'<tr><td class="lw-num">{r["number"]}</td><td>{esc(r["function_name"])}</td>'
        f'<td>{esc(version_tag(r["version"]))}</td>'
        f'<td><span class="lw-badge lw-status-{esc(r["status"])}">{esc(status_words(r["status"]))}</span></td>'
        f'<td>{start_cell(r)}</td><td>{esc(r.get("container_id") or "-")}</td>'
        f'<td class="lw-num">{esc(ms(r.get("duration_ms")))}</td></tr>' for r in shown)
    note = f'<div class="lw-muted">Showing the last {len(shown)} of {total}.</div>' \
        if total > len(shown) else ""
    return (f'{SCROLL}<table class="lw-history"><thead><tr><th>#</th><th>Function</th>'
            f'<th>Version</th><th>Status</th><th>Start</th><th>Environment</th><th>Duration</th></tr></thead>'
            f'<tbody>{body}</tbody></table></div>{note}')


def history_page(rows: list[dict[str, Any]], total: int | None = None) -> str:
    return root("lw-history-view", sec("", "Invocation history", history_html(rows, total)))


def burst_counts(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(label, count) lines: cold by reason, warm, then outcomes; deterministic order."""
    out: list[tuple[str, int]] = []
    reasons: dict[str, int] = {}
    for r in rows:
        if r["cold"] is True:
            key = (r.get("cold_reason") or "unknown").replace("-", " ")
            reasons[key] = reasons.get(key, 0) + 1
    out += [(f"cold: {k}", v) for k, v in sorted(reasons.items())]
    out.append(("warm", sum(r["cold"] is False for r in rows)))
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    out += [(status_words(k), v) for k, v in sorted(statuses.items())]
    return out


def burst_html(rows: list[dict[str, Any]]) -> str:
    done = sum(r["status"] not in ("queued", "running") for r in rows)
    body = "".join(f"<tr><td>{esc(k)}</td><td class='lw-num'>{v}</td></tr>" for k, v in burst_counts(rows))
    return (f'<div class="lw-progress">{done} of {len(rows)} done</div>'
            f'<table class="lw-burst-summary"><thead><tr><th>Summary</th><th>Count</th></tr></thead>'
            f'<tbody>{body}</tbody></table>')
