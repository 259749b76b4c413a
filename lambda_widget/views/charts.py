"""Charts with matplotlib, drawn in JupyterLab's theme colours.

A figure is drawn with sentinel colours, saved as SVG with real ``<text>``, and the sentinels are then
replaced by ``var(--jp-…, fallback)`` in the SVG's style attributes, so one chart reads in light, dark and
high-contrast themes. Where CSS variables cannot reach (an ``<img>``, a sanitised page), :func:`svg_image`
gives the same chart with the fallback colours.

Usage::

    with figure(6, 3) as (fig, ax):
        ax.plot(xs, ys, color=SERIES[0])
    html = inline_svg(fig)
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib

matplotlib.use("svg", force=False)
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.figure import Figure  # noqa: E402

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
    """The figure as an ``<img>`` with a data URI and the light-theme colours: survives sanitisers."""
    svg = _COLOUR.sub(lambda m: _THEME.get(m.group(0).lower(), (None, m.group(0)))[1], _svg(fig))
    data = base64.b64encode(svg.encode()).decode()
    return (f'<img src="data:image/svg+xml;base64,{data}" alt="{_escape(label)}" '
            f'style="max-width: 100%; height: auto">')


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
