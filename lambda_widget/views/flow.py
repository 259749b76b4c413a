"""The process flow: which nodes an invocation's steps pass through, drawn as inline SVG.

event -> Lambda service -> check for a container -> reuse | create (init) -> run handler
-> return response | error -> kept warm | terminated.
"""

from __future__ import annotations

from html import escape
from itertools import pairwise
from typing import Any

from lambda_widget.views.style import PALETTE
from lambda_widget.views.words import RESET_STATUSES

# name: (column, row, label lines); rows: 0 top, 1 middle, 2 bottom
NODES: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "event": (0, 1, ("Event", "triggers Lambda")),
    "service": (1, 1, ("Lambda service", "receives event")),
    "check": (2, 1, ("Check for a", "warm container")),
    "reuse": (3, 0, ("Reuse warm", "container")),
    "throttle": (3, 1, ("Throttled", "(429, no container)")),
    "create": (3, 2, ("Create container", "(init)")),
    "run": (4, 1, ("Run handler", "code")),
    "return": (5, 0, ("Return", "response")),
    "error": (5, 2, ("Return", "error")),
    "warm": (6, 0, ("Kept warm", "(idle, frozen)")),
    "terminated": (6, 2, ("Terminated", "or reset")),
}
EDGES: tuple[tuple[str, str, str], ...] = (
    ("event", "service", ""), ("service", "check", ""), ("check", "reuse", ""),
    ("check", "create", ""), ("check", "throttle", ""), ("reuse", "run", ""),
    ("create", "run", ""), ("create", "error", "init failed"), ("run", "return", ""),
    ("run", "error", ""), ("return", "warm", ""), ("error", "warm", ""),
    ("error", "terminated", "reset"), ("warm", "terminated", "idle timeout"),
)
ERROR_NODES = {"error", "throttle"}

_W, _H, _PITCH_X, _ROWS = 112, 42, 146, (8, 64, 120)
WIDTH = 6 * _PITCH_X + _W + 2
HEIGHT = _ROWS[2] + _H + 8


def step_nodes(step: dict[str, Any], previous: str | None) -> list[str]:
    """The flow nodes one step passes through, in order."""
    kind = step.get("kind")
    if kind == "event":
        return ["event", "service", "check"]
    if kind == "init":
        return ["create"]
    if kind == "reuse":
        return ["reuse"]
    if kind in ("line", "truncated"):
        return ["run"]
    if kind == "return":
        return ["run", "return"]
    if kind == "error":
        return ["error"] if previous == "create" else ["run", "error"]
    if kind == "warm":
        return ["warm"]
    if kind == "stop":
        return ["error", "terminated"] if previous == "create" else ["run", "error", "terminated"]
    if kind == "throttle":
        return ["throttle"]
    if kind == "end":
        # "Container reused by the next invocation": it stayed warm; otherwise it ended.
        return ["warm"] if "reused" in step.get("container_state", "") else ["terminated"]
    return []


def live_nodes(inv: dict[str, Any]) -> list[str]:
    """Where a queued or running invocation is, before its steps are recorded."""
    if inv.get("status") == "queued":
        return ["event"]
    if inv.get("status") != "running":  # ended without steps: dry run, cancelled before it ran
        return []
    path = ["event", "service", "check"]
    if inv.get("cold") is True:
        path.append("create")
    elif inv.get("cold") is False:
        path.append("reuse")
    return path


def path(inv: dict[str, Any], upto: int | None = None) -> tuple[list[str], list[str | None]]:
    """(ordered nodes visited, the node each step ends on). ``upto`` limits the steps used."""
    steps = inv.get("steps") or []
    if not steps:
        nodes = live_nodes(inv)
        return nodes, []
    visited: list[str] = []
    ends: list[str | None] = []
    for i, step in enumerate(steps):
        nodes = step_nodes(step, visited[-1] if visited else None)
        if upto is None or i < upto:
            for node in nodes:
                if not visited or visited[-1] != node:
                    visited.append(node)
        ends.append(nodes[-1] if nodes else (ends[-1] if ends else None))
    return visited, ends


def current_node(inv: dict[str, Any], step: int | None) -> str | None:
    """The node of step number ``step`` (1-based); the live position if there are no steps."""
    steps = inv.get("steps") or []
    if not steps:
        nodes = live_nodes(inv)
        return nodes[-1] if inv.get("status") in ("queued", "running") else None
    _, ends = path(inv)
    if step is None or not 1 <= step <= len(ends):
        return None
    node = ends[step - 1]
    if steps[step - 1].get("kind") == "event":
        return "event"
    return node


def node_words(node: str) -> str:
    return " ".join(NODES[node][2])


def flow_summary(inv: dict[str, Any], step: int | None = None) -> str:
    """The flow in words: the path taken and where the current step is (alt text, static pages)."""
    visited, _ = path(inv)
    if not visited:
        return "Lambda process flow: nothing ran yet."
    text = "Path taken: " + " → ".join(node_words(n) for n in visited) + "."
    current = current_node(inv, step)
    if current is not None:
        text += f" Current step: {node_words(current)}."
    return text


def _center(node: str) -> tuple[float, float]:
    col, row, _ = NODES[node]
    return col * _PITCH_X + 1 + _W / 2, _ROWS[row] + _H / 2


def _edge_points(a: str, b: str) -> tuple[float, float, float, float]:
    (ax, ay), (bx, by) = _center(a), _center(b)
    if NODES[a][0] == NODES[b][0]:  # same column: vertical
        return ax, ay + _H / 2, bx, by - _H / 2
    return ax + _W / 2, ay, bx - _W / 2 - 3, by


def _marker(ident: str, colour: str) -> str:
    return (f'<marker id="{ident}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
            f'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>')


def render_flow(inv: dict[str, Any], step: int | None = None) -> str:
    """The flow as inline SVG: the path taken highlighted, the current step's node marked."""
    visited, _ = path(inv)
    taken = set(visited)
    pairs = set(pairwise(visited))
    current = current_node(inv, step)
    pal = PALETTE
    show = [n for n in NODES if n != "throttle" or "throttle" in taken]
    label = escape(flow_summary(inv, step), quote=True)
    out = [f'<svg class="lw-flow" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
           f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{label}">',
           "<defs>" + _marker("lw-arrow", PALETTE["flow_edge"]) +
           _marker("lw-arrow-on", PALETTE["flow_edge_taken"]) + "</defs>",
           # Its own paper: drawn inside an <img> (static pages) the SVG sees no page colours.
           f'<rect class="lw-flow-bg" x="0" y="0" width="{WIDTH}" height="{HEIGHT}" rx="6" fill="{pal["paper"]}"/>']
    for a, b, label in EDGES:
        if a not in show or b not in show:
            continue
        on = (a, b) in pairs
        x1, y1, x2, y2 = _edge_points(a, b)
        colour = pal["flow_edge_taken"] if on else pal["flow_edge"]
        cls = "lw-flow-edge lw-flow-taken" if on else "lw-flow-edge"
        marker = "lw-arrow-on" if on else "lw-arrow"
        if (a, b) == ("create", "error"):  # under the "run" node
            d = f"M{x1:.0f},{y1:.0f} C{x1 + 40:.0f},{y1 + 20:.0f} {x2 - 40:.0f},{y2 + 20:.0f} {x2:.0f},{y2:.0f}"
        else:
            d = f"M{x1:.0f},{y1:.0f} L{x2:.0f},{y2:.0f}"
        out.append(f'<path class="{cls}" d="{d}" fill="none" stroke="{colour}" '
                   f'stroke-width="{2.2 if on else 1.2}" marker-end="url(#{marker})"/>')
        if label:
            lx, ly = (x1 + x2) / 2, (y1 + y2) / 2
            if (a, b) == ("create", "error"):
                ly += 22
            if NODES[a][0] == NODES[b][0]:  # vertical: label to the left
                anchor, lx = "end", lx - 5
            elif NODES[a][1] != NODES[b][1] and (a, b) != ("create", "error"):  # diagonal: label on the left
                anchor, lx = "end", lx - 5
            else:
                anchor, ly = "middle", ly - 4
            out.append(f'<text class="lw-flow-label" x="{lx:.0f}" y="{ly - 3:.0f}" text-anchor="{anchor}" '
                       f'font-size="9.5" fill="{pal["muted"]}">{escape(label)}</text>')
    for name in show:
        col, row, lines = NODES[name]
        if name == "create" and inv.get("restored"):  # SnapStart: no init, the snapshot is restored
            lines = ("Restore", "snapshot")
        x, y = col * _PITCH_X + 1, _ROWS[row]
        classes = ["lw-flow-node"]
        err = name in ERROR_NODES or (name == "terminated" and inv.get("status") in RESET_STATUSES)
        if err:
            classes.append("lw-flow-error")
        if name in taken:
            classes.append("lw-flow-taken")
            fill, stroke, ink = (pal["err_bg"], pal["err"], pal["err_ink"]) if err else \
                (pal["flow_taken_bg"], pal["flow_taken"], pal["flow_taken_ink"])
        else:
            fill, stroke, ink = pal["flow_bg"], pal["flow_border"], pal["muted"]
        width = 1.2
        if name == current:
            classes.append("lw-flow-current")
            fill, ink, width = (pal["err"] if err else pal["flow_taken"]), "#ffffff", 2.5
            stroke = pal["err_ink"] if err else pal["flow_taken_ink"]
        out.append(f'<g class="{" ".join(classes)}" data-node="{name}">'
                   f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="7" fill="{fill}" '
                   f'stroke="{stroke}" stroke-width="{width}"/>')
        weight = ' font-weight="600"' if name == current or name in taken else ""
        for i, text in enumerate(lines):
            ty = y + _H / 2 + (i - (len(lines) - 1) / 2) * 13 + 4
            out.append(f'<text x="{x + _W / 2:.0f}" y="{ty:.0f}" text-anchor="middle" font-size="11"'
                       f'{weight} fill="{ink}">{escape(text)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)
