"""The pool timeline: a row per environment with init, invocations, idle gaps and its end (SVG).

Long quiet stretches are compressed (logarithmically) so a ten-minute idle timeout and
a five-millisecond invocation both stay visible. A compressed gap is not to scale, and it says
so: the rows are cut by a dashed line, the axis by a break mark (//), and the axis names the
gap's real length where there is room (every gap has it in its tooltip).
"""

from __future__ import annotations

import bisect
import math
from html import escape
from itertools import pairwise
from typing import Any

from lambda_widget.views.snapshot import MAX_TIMELINE_ROWS
from lambda_widget.views.style import PALETTE, STATE_COLOURS
from lambda_widget.views.words import END_REASONS, env_state_words, seconds

LABEL_W, TRACK_W, STATE_W, ROW_H, BAR_H, AXIS_H = 64, 700, 190, 22, 12, 30
WIDTH = LABEL_W + TRACK_W + STATE_W
MIN_SQUASH = 2.0  # seconds: shorter quiet gaps stay to scale
BAD = ("failed", "timed-out", "crashed", "out-of-memory", "cancelled")


def segments(env: dict[str, Any], events: list[dict[str, Any]], outcomes: dict[str, str],
             now: float) -> tuple[list[dict[str, Any]], list[tuple[float, str]]]:
    """(segments [{kind, start, end, ...}], markers [(time, kind)]) of one environment."""
    segs: list[dict[str, Any]] = []
    marks: list[tuple[float, str]] = []
    open_seg: dict[str, Any] | None = None

    def close(t: float) -> None:
        nonlocal open_seg
        if open_seg is not None:
            open_seg["end"] = t
            segs.append(open_seg)
            open_seg = None

    def start(kind: str, t: float, **extra: Any) -> None:
        nonlocal open_seg
        close(t)
        open_seg = {"kind": kind, "start": t, "end": None, **extra}

    for ev in events:
        t, kind = ev["time"], ev["kind"]
        if kind == "create":
            marks.append((t, "create"))
        elif kind == "init-start":
            start("init", t)
        elif kind == "init-error":
            if open_seg is not None:
                open_seg["kind"] = "init-error"
            close(t)
        elif kind == "init-done":
            close(t)
        elif kind == "thaw":
            close(t)
        elif kind == "invoke":
            rid = ev.get("request_id", "")
            start("invoke", t, request_id=rid, status=outcomes.get(rid, "running"))
        elif kind == "reset":
            close(t)
            marks.append((t, "reset"))
        elif kind == "idle":
            start("idle", t)
        elif kind == "terminate":
            close(t)
            marks.append((t, "terminate"))
        elif kind == "shutdown":  # the Shutdown phase ran (extensions had their budget)
            marks.append((t, "shutdown:" + ev.get("reason", "")))
    if open_seg is not None:
        close(env.get("ended_at") or now)
    return segs, marks


class _Scale:
    """Clock time -> x. Busy stretches are linear; a quiet gap (nothing initialising or running)
    longer than ``knee`` is squashed logarithmically, so it stays visible without taking the row."""

    def __init__(self, times: list[float], busy: list[tuple[float, float]], width: float) -> None:
        self.times = sorted(set(times)) or [0.0]
        gaps = [b - a for a, b in pairwise(self.times)]
        quiet = _quiet_flags(self.times, _union(busy))
        active = sum(g for g, q in zip(gaps, quiet, strict=True) if not q)
        self.knee = max(active, 0.01) / 6
        self.quiet = [q and g > max(4 * self.knee, MIN_SQUASH) for g, q in zip(gaps, quiet, strict=True)]
        self.cum = [0.0]
        for g, q in zip(gaps, self.quiet, strict=True):
            self.cum.append(self.cum[-1] + (self._squash(g) if q else g))
        self.factor = width / (self.cum[-1] or 1.0)

    def _squash(self, dt: float) -> float:
        return self.knee * (1 + 0.35 * math.log(dt / self.knee)) if dt > self.knee else dt

    def x(self, t: float) -> float:
        ts = self.times
        if t <= ts[0]:
            return 0.0
        if t >= ts[-1]:
            return self.cum[-1] * self.factor
        hi = bisect.bisect_right(ts, t)
        lo = hi - 1
        dt = ts[hi] - ts[lo]
        frac = (t - ts[lo]) / dt if dt else 0.0
        return (self.cum[lo] + frac * (self.cum[hi] - self.cum[lo])) * self.factor

    def breaks(self) -> list[tuple[float, float]]:
        """(x, seconds) at the middle of every squashed gap."""
        return [((self.cum[i] + self.cum[i + 1]) / 2 * self.factor, self.times[i + 1] - self.times[i])
                for i, q in enumerate(self.quiet) if q]


def _union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _quiet_flags(times: list[float], busy: list[tuple[float, float]]) -> list[bool]:
    """For each interval between consecutive times: does no busy span overlap it?"""
    flags, j = [], 0
    for a, b in pairwise(times):
        while j < len(busy) and busy[j][1] <= a:
            j += 1
        flags.append(not (j < len(busy) and busy[j][0] < b))
    return flags


def pick_rows(containers: list[dict[str, Any]], limit: int = MAX_TIMELINE_ROWS) -> list[dict[str, Any]]:
    """Every live environment, then the most recent terminated ones, up to ``limit`` rows."""
    if len(containers) <= limit:
        return list(containers)
    live = [c for c in containers if c["state"] != "terminated"][:limit]
    ended = [c for c in containers if c["state"] == "terminated"]
    room = limit - len(live)
    keep = {c["id"] for c in live} | {c["id"] for c in ended[len(ended) - room:]} if room else \
        {c["id"] for c in live}
    return [c for c in containers if c["id"] in keep]


def render_timeline(snapshot: dict[str, Any]) -> str:
    """The timeline SVG for a pool snapshot (see ``snapshot.pool_snapshot``)."""
    rows = pick_rows(snapshot["containers"])
    if not rows:
        return ""
    now = snapshot["now"]
    by_env: dict[str, list[dict[str, Any]]] = {}
    for ev in snapshot["events"]:
        by_env.setdefault(ev["container_id"], []).append(ev)
    drawn = {c["id"]: segments(c, sorted(by_env.get(c["id"], []), key=lambda e: e["time"]),
                               snapshot.get("outcomes", {}), now) for c in rows}
    times = [now] + [ev["time"] for c in rows for ev in by_env.get(c["id"], [])]
    since = snapshot.get("since")  # set when earlier events were left out: the axis starts there
    times += [c["created_at"] if since is None else max(c["created_at"], since) for c in rows]
    busy = [(seg["start"], seg["end"]) for segs, _ in drawn.values() for seg in segs if seg["kind"] != "idle"]
    scale = _Scale(times, busy, TRACK_W - 8)
    pal = PALETTE
    height = len(rows) * ROW_H + AXIS_H
    out = [f'<svg class="lw-timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
           f'width="{WIDTH}" height="{height}" role="img" aria-label="Execution environment timeline">']
    for x, gap in scale.breaks():
        gx = LABEL_W + x
        out.append(f'<line class="lw-tl-break" x1="{gx:.1f}" y1="0" x2="{gx:.1f}" y2="{len(rows) * ROW_H}" '
                   f'stroke="{pal["line"]}" stroke-dasharray="3,3"><title>compressed: {escape(seconds(gap))} '
                   f'with nothing running, not drawn to scale</title></line>')
    for i, env in enumerate(rows):
        y = i * ROW_H
        mid = y + ROW_H / 2
        ink = STATE_COLOURS.get(env["state"], STATE_COLOURS["terminated"])[0]
        if i % 2 == 0:
            out.append(f'<rect class="lw-tl-stripe" x="0" y="{y}" width="{WIDTH}" height="{ROW_H}" '
                       f'fill="{pal["soft"]}"/>')
        out.append(f'<text x="4" y="{mid + 4:.1f}" font-size="11.5" font-weight="600" fill="{ink}">'
                   f'{escape(env["id"])}</text>')
        segs, marks = drawn[env["id"]]
        out += [_bar(bar, y, env["id"]) for bar in _merge(segs, scale)]
        for t, kind in marks:
            x = LABEL_W + scale.x(t)
            if kind == "terminate":
                out.append(f'<line x1="{x:.1f}" y1="{y + 3}" x2="{x:.1f}" y2="{y + ROW_H - 3}" '
                           f'stroke="{pal["grey"]}" stroke-width="2.5"><title>{escape(env["id"])} terminated'
                           f' ({escape(END_REASONS.get(env.get("end_reason") or "", env.get("end_reason") or ""))})'
                           f'</title></line>')
            elif kind == "reset":
                out.append(f'<text class="lw-tl-reset" x="{x:.1f}" y="{mid + 4:.1f}" font-size="12" font-weight="700" '
                           f'text-anchor="middle" fill="{pal["err"]}">×<title>reset</title></text>')
            elif kind == "create":
                out.append(f'<circle cx="{x:.1f}" cy="{mid:.1f}" r="2.5" fill="{pal["init"]}"/>')
            elif kind.startswith("shutdown:"):
                out.append(f'<text class="lw-tl-shutdown" x="{x:.1f}" y="{mid + 4:.1f}" font-size="11" '
                           f'font-weight="700" text-anchor="end" fill="{pal["grey"]}">⏻<title>Shutdown phase '
                           f'({escape(kind[9:])}): SHUTDOWN to the extensions, then the environment ends'
                           f'</title></text>')
        out.append(f'<text x="{LABEL_W + TRACK_W + 4}" y="{mid + 4:.1f}" font-size="11" fill="{ink}">'
                   f'{escape(env_state_words(env))}</text>')
    axis_y = len(rows) * ROW_H
    out.append(f'<line class="lw-tl-axis-line" x1="{LABEL_W}" y1="{axis_y + 4}" x2="{LABEL_W + TRACK_W - 8}" y2="{axis_y + 4}" '
               f'stroke="{pal["grey_border"]}"/>')
    start = scale.times[0]
    out.append(f'<text class="lw-tl-axis" x="{LABEL_W}" y="{axis_y + 18}" font-size="10.5" fill="{pal["muted"]}">'
               f'{escape(seconds(start))}</text>')
    out.append(f'<text class="lw-tl-axis" x="{LABEL_W + TRACK_W - 8}" y="{axis_y + 18}" font-size="10.5" text-anchor="end" '
               f'fill="{pal["muted"]}">now {escape(seconds(now))}</text>')
    taken = [(LABEL_W, LABEL_W + 8 + 6 * len(seconds(start))),
             (LABEL_W + TRACK_W - 8 - 6 * len(f"now {seconds(now)}") - 8, LABEL_W + TRACK_W)]
    for x, gap in scale.breaks():
        gx = LABEL_W + x
        # The axis is cut where time is compressed: a gap in the line and a break mark over it.
        out.append(f'<rect class="lw-tl-gap" x="{gx - 4:.1f}" y="{axis_y}" width="8" height="8" fill="{pal["paper"]}"/>'
                   f'<path class="lw-tl-breakmark" d="M{gx - 6:.1f},{axis_y + 9} l4,-10 M{gx + 2:.1f},{axis_y + 9} l4,-10" '
                   f'stroke="{pal["muted"]}" stroke-width="1.2"><title>compressed gap</title></path>')
        label = f"// {seconds(gap)} //"
        half = 3.2 * len(label) + 4
        # Centred under the break, or moved aside (up to 80 px) to clear its neighbours; never overlapping.
        for cx in [gx] + [edge for a, b in taken for edge in (a - half - 1, b + half + 1)]:
            if abs(cx - gx) <= 80 and all(cx + half < a or cx - half > b for a, b in taken):
                taken.append((cx - half, cx + half))
                out.append(f'<text class="lw-tl-axis" x="{cx:.1f}" y="{axis_y + 18}" font-size="10.5" text-anchor="middle" '
                           f'fill="{pal["muted"]}">{escape(label)}<title>{escape(seconds(gap))} compressed: '
                           f'not to scale</title></text>')
                break
    out.append("</svg>")
    return "".join(out)


def _category(seg: dict[str, Any]) -> str:
    if seg["kind"] != "invoke":
        return seg["kind"]
    return "invoke-bad" if seg.get("status") in BAD else \
        "invoke-running" if seg.get("status") == "running" else "invoke"


def _merge(segs: list[dict[str, Any]], scale: _Scale) -> list[dict[str, Any]]:
    """Bars in pixels; neighbours of one kind closer than a pixel become one bar (with a count),
    so a thousand invocations stay a few hundred shapes."""
    bars: list[dict[str, Any]] = []
    for seg in segs:
        x1, x2 = LABEL_W + scale.x(seg["start"]), LABEL_W + scale.x(seg["end"])
        cat = _category(seg)
        if cat == "idle" and x2 - x1 < 1.0:
            continue
        last = bars[-1] if bars else None
        if last is not None and last["cat"] == cat and x1 - last["x2"] < 1.0:
            last["x2"], last["end"], last["count"] = max(last["x2"], x2), seg["end"], last["count"] + 1
            continue
        bars.append({"cat": cat, "x1": x1, "x2": x2, "start": seg["start"], "end": seg["end"], "count": 1,
                     "request_id": seg.get("request_id", ""), "status": seg.get("status", "")})
    return bars


_FILL = {"idle": PALETTE["ok_border"], "init": PALETTE["init"], "init-error": PALETTE["err"],
         "invoke": "#e8890c", "invoke-bad": PALETTE["err"], "invoke-running": PALETTE["warm_border"]}


def _bar(bar: dict[str, Any], y: float, env_id: str) -> str:
    cat, span = bar["cat"], seconds(bar["end"] - bar["start"])
    if bar["count"] > 1:
        tip = f"{bar['count']} {'invocations' if cat.startswith('invoke') else cat} over {span}"
    elif cat == "idle":
        tip = f"idle {span}"
    elif cat.startswith("init"):
        tip = f"init {span}" if cat == "init" else f"init failed after {span}"
    else:
        tip = f"invocation {bar['request_id'][:8]} {bar['status']} {span}"
    h = 4 if cat == "idle" else BAR_H
    width = max(bar["x2"] - bar["x1"], 0.0 if cat == "idle" else 2.0)
    kind = "invoke" if cat.startswith("invoke") else cat
    return (f'<rect class="lw-tl-{kind}" x="{bar["x1"]:.1f}" y="{y + (ROW_H - h) / 2:.1f}" width="{width:.1f}" '
            f'height="{h}" rx="2" fill="{_FILL[cat]}"><title>{escape(env_id)}: {escape(tip)}</title></rect>')


# The separators show only where the stylesheet is stripped (the legend is a flex row otherwise).
LEGEND = ('<div class="lw-legend"><span><i style="background:{init}"></i> init</span>{sep}'
          '<span><i style="background:#e8890c"></i> invocation</span>{sep}'
          '<span><i style="background:{err}"></i> failed / timed out</span>{sep}'
          '<span><i style="background:{idle};height:4px"></i> idle (frozen)</span>{sep}'
          '<span><i style="background:{grey};width:3px"></i> terminated</span>{sep}'
          '<span><b class="lw-tl-reset-key">×</b> reset</span>{sep}'
          '<span>// compressed gap (not to scale)</span></div>').format(sep='<span class="lw-sep"> · </span>',
    init=PALETTE["init"], err=PALETTE["err"], idle=PALETTE["ok_border"], grey=PALETTE["grey"])
