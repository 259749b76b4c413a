"""Charts with matplotlib, drawn in JupyterLab's theme colours.

A figure is drawn with sentinel colours, saved as SVG with real ``<text>``, and the sentinels are then
replaced by ``var(--jp-…, fallback)`` in the SVG's style attributes, so one chart reads in light, dark and
high-contrast themes. Where CSS variables cannot reach (an ``<img>``, a sanitised page), :func:`svg_image`
gives the same chart with the fallback colours on a background the image carries with it (dark text on
a transparent image would vanish in a dark theme).

:func:`place_labels` puts point labels where they collide with no other label, point or legend.

Usage::

    with figure(6, 3) as (fig, ax):
        ax.plot(xs, ys, color=SERIES[0])
    html = inline_svg(fig)
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import matplotlib

matplotlib.use("svg", force=False)
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Annotation, Text  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from lambda_widget.views.html import PAPER, with_background  # noqa: E402

__all__ = ["PAPER", "SERIES", "Chart", "figure", "inline_svg", "place_labels", "svg_image", "with_background"]

#: Sentinel colour -> the CSS it becomes (a JupyterLab variable with a light-theme fallback).
_THEME = {
    "#010101": ("--jp-ui-font-color1", "#212121"),   # text, axes, ticks
    "#020202": ("--jp-ui-font-color2", "#616161"),   # secondary text
    "#030303": ("--jp-border-color2", "#e0e0e0"),    # grid lines
    "#0a0a01": ("--jp-brand-color1", "#1976d2"),     # series 1
    "#0a0a02": ("--jp-warn-color1", "#f57c00"),      # series 2
    "#0a0a03": ("--jp-success-color1", "#388e3c"),   # series 3
    "#0a0a04": ("--jp-error-color1", "#d32f2f"),     # series 4
    "#0a0a05": ("--jp-ui-font-color2", "#616161"),   # series 5 (neutral)
}
TEXT, MUTED, GRID = "#010101", "#020202", "#030303"
#: Colours for data series, in order: brand blue, warning orange, success green, error red, neutral.
SERIES = ("#0a0a01", "#0a0a02", "#0a0a03", "#0a0a04", "#0a0a05")

_RC = {
    "svg.fonttype": "none",          # real <text>, selectable and themable
    "svg.hashsalt": "lambda_widget",  # deterministic ids
    "font.size": 10,
    "text.color": TEXT,
    "axes.edgecolor": MUTED,
    "axes.labelcolor": TEXT,
    "axes.titlecolor": TEXT,
    "axes.facecolor": "none",
    "axes.grid": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "grid.color": GRID,
    "grid.linewidth": 0.8,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "xtick.labelcolor": TEXT,
    "ytick.labelcolor": TEXT,
    "legend.frameon": False,
    "legend.labelcolor": TEXT,
    "figure.facecolor": "none",
    "savefig.facecolor": "none",
    "savefig.transparent": True,
}

_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


@contextmanager
def figure(width: float = 6.4, height: float = 3.2, ncols: int = 1) -> Iterator[tuple[Figure, object]]:
    """A themed figure and its axes; the figure is closed (pyplot forgets it) on exit."""
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(1, ncols, figsize=(width, height), layout="constrained")
        try:
            yield fig, ax
        finally:
            plt.close(fig)


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    with plt.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def inline_svg(fig: Figure, label: str = "chart") -> str:
    """The figure as inline SVG whose colours follow JupyterLab's theme; it scales to its box."""
    svg = _svg(fig)

    def theme(match: re.Match) -> str:
        var = _THEME.get(match.group(0).lower())
        return f"var({var[0]}, {var[1]})" if var else match.group(0)

    svg = _COLOUR.sub(theme, svg)
    svg = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"',
                 rf'<svg \1width="100%" role="img" aria-label="{_escape(label)}" '
                 r'style="max-width: 100%; height: auto"', svg, count=1)
    return svg


def svg_image(fig: Figure, label: str = "chart") -> str:
    """The figure as an ``<img>`` with a data URI, the light-theme colours and its own white
    background: survives sanitisers, and reads the same in a dark theme."""
    svg = _COLOUR.sub(lambda m: _THEME.get(m.group(0).lower(), (None, m.group(0)))[1], _svg(fig))
    data = base64.b64encode(with_background(svg).encode()).decode()
    return (f'<img src="data:image/svg+xml;base64,{data}" alt="{_escape(label)}" '
            f'style="max-width: 100%; height: auto">')


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


# Where a label may go around its point, in order of preference: (dx, dy) in points, alignment.
# The far spots draw a thin leader line to their point.
_SPOTS = ((5, 4, "left", "bottom"), (5, -4, "left", "top"), (-5, 4, "right", "bottom"),
          (-5, -4, "right", "top"), (0, 7, "center", "bottom"), (0, -7, "center", "top"),
          (9, 0, "left", "center"), (-9, 0, "right", "center"),
          (16, 16, "left", "bottom"), (16, -16, "left", "top"), (-16, 16, "right", "bottom"),
          (-16, -16, "right", "top"), (0, 22, "center", "bottom"), (0, -22, "center", "top"),
          (26, 0, "left", "center"), (-26, 0, "right", "center"))
_FAR = 14  # points: from here on a label gets a leader line
_CLEAR = 8.0  # pixels: a label is this much nearer its own point than any other
_MARKER_PX = 5.0  # half the side of the box kept clear around every point


def place_labels(ax: object, points: Sequence[tuple[float, float]], texts: Sequence[str],
                 fontsize: float = 8, avoid: Sequence[object] = ()) -> list[Annotation]:
    """Label each point where its text overlaps no other label, no point, no artist in ``avoid``
    (e.g. the legend) and stays inside the axes; where no spot is free, the one with the fewest
    overlaps. Call it after everything else is drawn on ``ax``."""
    fig = ax.figure  # type: ignore[attr-defined]
    fig.draw_without_rendering()  # the layout settles first: boxes are measured where they end up
    renderer = fig._get_renderer()
    frame = ax.get_window_extent(renderer)  # type: ignore[attr-defined]
    to_px = ax.transData  # type: ignore[attr-defined]
    dots = [Bbox.from_bounds(px - _MARKER_PX, py - _MARKER_PX, 2 * _MARKER_PX, 2 * _MARKER_PX)
            for px, py in (to_px.transform(p) for p in points)]
    taken: list[Bbox] = [a.get_window_extent(renderer) for a in avoid]  # type: ignore[attr-defined]
    placed: list[Annotation] = []
    for index, (point, text) in enumerate(zip(points, texts, strict=True)):
        best: tuple[tuple[float, ...], tuple] | None = None
        for spot in _SPOTS:
            box = _label_box(ax, point, text, spot, fontsize, renderer)
            others = [d for i, d in enumerate(dots) if i != index]
            own = _distance(box, dots[index])
            # In order: never over another label (or the legend), then not over a point or out of
            # the axes, then not nearer to another point than to its own (it would read as theirs).
            score = (sum(_overlap(box, b) for b in taken),
                     sum(_overlap(box, d) for d in others) + _outside(box, frame),
                     sum(1.0 for d in others if _distance(box, d) < own + _CLEAR))
            if best is None or score < best[0]:
                best = (score, spot)
            if not any(score):
                break
        assert best is not None
        dx, dy, ha, va = best[1]
        leader = {"arrowprops": {"arrowstyle": "-", "color": MUTED, "linewidth": 0.6, "shrinkA": 1,
                                 "shrinkB": 4}} if max(abs(dx), abs(dy)) >= _FAR else {}
        note = ax.annotate(text, point, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,  # type: ignore[attr-defined]
                           fontsize=fontsize, annotation_clip=False, **leader)
        note.set_in_layout(False)
        placed.append(note)
        taken.append(_text_box(note, renderer))
    return placed


def _label_box(ax: object, point: tuple[float, float], text: str, spot: tuple, fontsize: float,
               renderer: object) -> Bbox:
    dx, dy, ha, va = spot
    probe = ax.annotate(text, point, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,  # type: ignore[attr-defined]
                        fontsize=fontsize, annotation_clip=False)
    try:
        box = _text_box(probe, renderer)
    finally:
        probe.remove()
    return box.padded(2)  # browsers' fonts differ a little from matplotlib's metrics


def _text_box(note: Text, renderer: object) -> Bbox:
    """Where a label's words are drawn (an annotation's own extent also covers its leader line)."""
    if isinstance(note, Annotation):
        note.update_positions(renderer)
    return Text.get_window_extent(note, renderer)


def _overlap(a: Bbox, b: Bbox) -> float:
    """The overlapping area of two display boxes, in square pixels (0 when apart)."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _distance(box: Bbox, dot: Bbox) -> float:
    """How far the centre of ``dot`` is from ``box``, in pixels (0 inside it)."""
    x, y = (dot.x0 + dot.x1) / 2, (dot.y0 + dot.y1) / 2
    dx = max(box.x0 - x, 0.0, x - box.x1)
    dy = max(box.y0 - y, 0.0, y - box.y1)
    return (dx * dx + dy * dy) ** 0.5


def _outside(box: Bbox, frame: Bbox) -> float:
    """The area of ``box`` outside ``frame``."""
    return box.width * box.height - _overlap(box, frame)


def label_boxes(fig: Figure) -> list[Bbox]:
    """The display boxes of every annotation in ``fig`` (for checking that labels never collide)."""
    fig.draw_without_rendering()
    renderer = fig._get_renderer()
    return [_text_box(t, renderer) for ax in fig.axes for t in ax.texts]


def collisions(boxes: Sequence[Bbox]) -> list[tuple[int, int]]:
    """The pairs of ``boxes`` that overlap."""
    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if _overlap(boxes[i], boxes[j]) > 0]


class Chart:
    """A chart to display: HTML with inline SVG in the theme's colours (a stored lesson keeps it as
    an image with its own background, see ``static_outputs``), and a one-line text rendering."""

    def __init__(self, html: str, text: str) -> None:
        self.html = html
        self.text = text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text
