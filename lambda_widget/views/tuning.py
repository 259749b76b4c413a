"""TuningView: a power-tuning result as a chart of duration and cost against memory, and a table.

The renderers read ``PowerTuneResult.to_dict()`` only. The widget draws the chart as inline SVG in the
theme's colours; the static HTML (``text/html``, for GitHub and nbconvert) carries the same chart as an
``<img>`` that survives sanitising.
"""

from __future__ import annotations

import math
from typing import Any

import ipywidgets as widgets

from lambda_widget.views.base import ViewMixin, html_widget, set_html
from lambda_widget.views.charts import MUTED, SERIES, TEXT, figure, inline_svg, svg_image
from lambda_widget.views.html import NO_TEX, SEP, esc, root, sec
from lambda_widget.views.style import style_tag
from lambda_widget.views.words import version_tag

PER = 1_000_000  # costs are easier to read per million invocations
LABEL = {"cost": "cheapest", "speed": "fastest", "balanced": "balanced"}


def _best(d: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in d["rows"] if r["memory_mb"] == d["best"])


def _strategy(d: dict[str, Any]) -> str:
    return f"balanced, weight {d['balanced_weight']:g}" if d["strategy"] == "balanced" else d["strategy"]


def _trim_words(d: dict[str, Any]) -> str:
    k = int(d["num"] * d["discard"])
    return (f"mean of the middle {d['num'] - 2 * k} of {d['num']} runs (the {k} fastest and {k} slowest "
            f"dropped, as Power Tuning does)") if k else f"mean of all {d['num']} runs"


def tuning_chart(d: dict[str, Any], *, static: bool = False) -> str:
    """Duration (left axis) and cost per million invocations (right axis) against memory; best marked."""
    rows = sorted(d["rows"], key=lambda r: r["memory_mb"])
    xs = list(range(len(rows)))
    durations = [r["duration_ms"] for r in rows]
    costs = [r["cost_usd"] * PER for r in rows]
    at = next(i for i, r in enumerate(rows) if r["memory_mb"] == d["best"])
    label = f"{d['function_name']}: duration and cost against memory"
    with figure(6.4, 3.0) as (fig, ax):
        right = ax.twinx()
        right.spines["right"].set_visible(True)
        right.grid(False)
        ax.axvline(at, color=SERIES[2], linewidth=6, alpha=0.25, zorder=0)
        ax.plot(xs, durations, color=SERIES[0], marker="o", label="duration (ms)")
        right.plot(xs, costs, color=SERIES[1], marker="s", label="$ per 1M invocations")
        ax.set_xticks(xs, [f"{r['memory_mb']}\n{LABEL[d['strategy']]}" if i == at else str(r["memory_mb"])
                           for i, r in enumerate(rows)])
        best_tick = ax.get_xticklabels()[at]
        best_tick.set_color(SERIES[2])
        best_tick.set_fontweight("bold")
        ax.set_xlabel("memory (MB)")
        # Labels in the text colour: an orange label on white is below WCAG's 4.5:1 (the legend
        # and the markers tell the two lines apart).
        ax.set_ylabel("duration (ms)", color=TEXT)
        right.set_ylabel("$ per 1M invocations", color=TEXT)
        ax.set_ylim(bottom=0, top=max(durations) * 1.2 or 1)
        right.set_ylim(bottom=0, top=max(costs) * 1.2 or 1)
        right.tick_params(axis="y", colors=MUTED)
        handles = ax.get_lines()[1:] + right.get_lines()
        ax.legend(handles, [h.get_label() for h in handles], loc="upper center", ncols=2,
                  bbox_to_anchor=(0.5, 1.16))
        return svg_image(fig, label) if static else inline_svg(fig, label)


def tuning_table_html(d: dict[str, Any]) -> str:
    cpu = any(r.get("cpu_share") is not None for r in d["rows"])
    head = ("<tr><th>Memory</th>" + ("<th>CPU (vCPU)</th>" if cpu else "") + "<th>Duration (ms)</th>"
            "<th>Billed (ms)</th><th>$ per invocation</th><th>$ per 1M</th><th>Cold runs</th></tr>")
    body = []
    for r in d["rows"]:
        best = r["memory_mb"] == d["best"]
        mark = ' <span class="lw-badge lw-status-succeeded">best</span>' if best else ""
        style = ' style="font-weight:600"' if best else ""
        share = f"<td>{_share(r.get('cpu_share'))}</td>" if cpu else ""
        body.append(f"<tr{style}><td>{r['memory_mb']} MB{mark}</td>{share}<td>{r['duration_ms']:.2f}</td>"
                    f"<td>{_billed(r['billed_ms'])}</td><td>{r['cost_usd']:.3g}</td>"
                    f"<td>{r['cost_usd'] * PER:.4f}</td><td>{sum(r['cold'])} of {len(r['cold'])}</td></tr>")
    return f'<div class="lw-scroll"><table class="lw-tuning">{head}{"".join(body)}</table></div>'


def _billed(mean_ms: float) -> int:
    """What Power Tuning prices: the trimmed mean of Billed Duration, rounded up to a whole ms."""
    return math.ceil(round(mean_ms, 6))


def _share(share: float | None) -> str:
    return "not scaled" if share is None else f"{share:.2f}"


def _notes(d: dict[str, Any]) -> str:
    return (f"Duration: {_trim_words(d)}, init included. Billed: the same mean of Billed Duration, "
            f"rounded up to the millisecond. Cost: billed ms × "
            f"${d['base_cost_per_ms']:.2g} per ms at 128 MB × memory / 128 on {d['architecture']}, without "
            f"the $0.20 per 1M request fee. The architecture changes only the price here, not the speed.")


def tuning_html(d: dict[str, Any], chart: str) -> str:
    best = _best(d)
    # Spaces and a separator between the parts, as the function card has: a sanitiser strips the styles
    # and the words must not run together ("checkoutv1power tuning").
    title = (f'<div class="lw-title"><span class="lw-fn">{esc(d["function_name"])}</span> '
             f'<span class="lw-ver">{esc(version_tag(d["version"]))}</span>{SEP}<span class="lw-badge">power tuning</span></div>')
    why = (f'<div class="lw-why">Best by {esc(_strategy(d))}: <b>{best["memory_mb"]} MB</b>, '
           f'{best["duration_ms"]:.1f} ms, ${best["cost_usd"] * PER:.4f} per 1M invocations '
           f'({len(d["rows"])} sizes × {d["num"]} runs).</div>')
    return (f'<div class="lw-tuning-view {NO_TEX}">{title}{why}<div class="lw-chart" style="max-width:720px">{chart}</div>'
            f'{sec("", "Per memory size", tuning_table_html(d))}'
            f'<div class="lw-muted" style="font-size:11.5px">{esc(_notes(d))}</div></div>')


def tuning_page(d: dict[str, Any]) -> str:
    """Static HTML: the chart as a sanitiser-proof image, the table and the notes."""
    return root("lw-tuning", tuning_html(d, tuning_chart(d, static=True)))


def tuning_text(d: dict[str, Any]) -> str:
    """A few lines: the pick, then one line per size."""
    best = _best(d)
    lines = [f"Power tuning {d['function_name']} {version_tag(d['version'])} ({d['architecture']}, {d['num']} runs per size, "
             f"strategy {_strategy(d)}): best {best['memory_mb']} MB"]
    for r in d["rows"]:
        mark = "  <- best" if r["memory_mb"] == d["best"] else ""
        cpu = f"  {r['cpu_share']:.2f} vCPU" if r.get("cpu_share") is not None else ""
        lines.append(f"  {r['memory_mb']:>5} MB{cpu}  {r['duration_ms']:>9.1f} ms  "
                     f"${r['cost_usd'] * PER:>9.4f} per 1M{mark}")
    return "\n".join(lines)


class TuningView(ViewMixin, widgets.VBox):
    """A finished power-tuning run (``lw.power_tune``): chart, table and how the numbers were made."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.body = html_widget()
        super().__init__(children=[self.body], layout=widgets.Layout(width="100%"))
        self.add_class("lw-root")
        self.refresh()

    def refresh(self) -> None:
        self._data = self.result.to_dict()
        set_html(self.body, style_tag() + tuning_html(self._data, tuning_chart(self._data)))

    def static_html(self) -> str:
        return tuning_page(self._data)

    def plain_text(self) -> str:
        return tuning_text(self._data)
