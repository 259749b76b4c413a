"""The traffic lab's views: a simulation's numbers and charts, and a keep-alive sweep's Pareto chart.

Charts come from :mod:`lambda_widget.views.charts` (matplotlib, JupyterLab theme colours). The live
rendering inlines the SVG so it follows the theme; the static one (``_repr_html_``, sanitised pages)
embeds it as an image in the light theme's colours.
"""

from __future__ import annotations

import math
from typing import Any

import ipywidgets as widgets
from matplotlib.ticker import FuncFormatter

from lambda_widget.views.base import ViewMixin, html_widget
from lambda_widget.views.charts import SERIES, Chart, figure, inline_svg, place_labels, svg_image
from lambda_widget.views.html import esc, fact_list, root, sec


def _time_axis(series: dict[str, Any]) -> tuple[list[float], str, float]:
    t = series["t"]
    span = (t[-1] + series["bin_s"]) if t else 0.0
    if span >= 2 * 3600:
        return [x / 3600 for x in t], "hours", 3600.0
    if span >= 120:
        return [x / 60 for x in t], "minutes", 60.0
    return list(t), "seconds", 1.0


def _render(fig: Any, label: str, static: bool) -> str:
    chart = svg_image(fig, label) if static else inline_svg(fig, label)
    return f'<div style="max-width: 760px">{chart}</div>'


# The sweep's table, in theme colours (the shared stylesheet's table headers assume a light theme).
_TABLE_CSS = """<style>
.lw-root table.lw-sweep th { background: var(--jp-layout-color2, #f6f8fa); color: var(--jp-ui-font-color1, #1f2328);
  border-bottom: 1px solid var(--jp-border-color2, #d8dee4); }
.lw-root table.lw-sweep td { border-bottom: 1px solid var(--jp-border-color2, #d8dee4); text-align: right; }
.lw-root table.lw-sweep td:first-child, .lw-root table.lw-sweep th:first-child { text-align: left; }
</style>"""


def concurrency_chart(series: dict[str, Any], static: bool = False) -> str:
    """Environments (total and busy) averaged over each interval."""
    x, unit, _ = _time_axis(series)
    with figure(6.4, 2.6) as (fig, ax):
        ax.step(x, series["environments"], where="post", color=SERIES[0], label="environments")
        ax.step(x, series["busy"], where="post", color=SERIES[1], label="busy")
        ax.fill_between(x, series["busy"], series["environments"], step="post", color=SERIES[2], alpha=0.2,
                        label="idle")
        ax.set_xlabel(f"time ({unit})")
        ax.set_ylabel("environments")
        ax.set_ylim(0, max(series["environments"], default=0) * 1.3 + 0.1)  # room for the legend
        ax.legend(loc="upper right", ncols=3)
        return _render(fig, "Environments over time", static)


def cold_chart(series: dict[str, Any], static: bool = False) -> str:
    """Cold starts (and throttles) per interval."""
    x, unit, _ = _time_axis(series)
    width = (x[1] - x[0]) if len(x) > 1 else 1.0
    with figure(6.4, 2.2) as (fig, ax):
        ax.bar(x, series["cold_starts"], width=width, align="edge", color=SERIES[0], label="cold starts")
        if any(series["throttled"]):
            ax.bar(x, series["throttled"], width=width, align="edge", bottom=series["cold_starts"],
                   color=SERIES[3], label="throttled")
        ax.set_xlabel(f"time ({unit})")
        ax.set_ylabel(f"per {series['bin_s']:g} s")
        tallest = max((c + x for c, x in zip(series["cold_starts"], series["throttled"], strict=True)), default=0)
        ax.set_ylim(0, tallest * 1.3 + 1)
        ax.legend(loc="upper right", ncols=2)
        return _render(fig, "Cold starts over time", static)


def pareto_chart(points: list[dict[str, Any]], front: list[dict[str, Any]], static: bool = False) -> str:
    """Cold-start % against idle memory time, one point per policy, the frontier joined."""
    def kind(p: dict[str, Any]) -> str:
        if p["provisioned"]:
            return "provisioned"
        return "hybrid" if p["keep_alive"]["policy"] == "hybrid-histogram" else "fixed"

    styles = {"fixed": (SERIES[0], "o", "fixed keep-alive"), "hybrid": (SERIES[1], "D", "hybrid histogram"),
              "provisioned": (SERIES[2], "s", "with provisioned concurrency")}
    with figure(6.4, 3.4) as (fig, ax):
        ax.plot([p["idle_gb_seconds"] / 3600 for p in front], [p["cold_start_pct"] for p in front],
                color=SERIES[4], linestyle="--", linewidth=1, label="Pareto front")
        for name, (colour, marker, label) in styles.items():
            mine = [p for p in points if kind(p) == name]
            if mine:
                ax.scatter([p["idle_gb_seconds"] / 3600 for p in mine], [p["cold_start_pct"] for p in mine],
                           color=colour, marker=marker, zorder=3, label=label)
        labels: dict[tuple[float, float], list[str]] = {}  # policies that land on the same point share a label
        for p in points:
            labels.setdefault((round(p["idle_gb_seconds"] / 3600, 6), round(p["cold_start_pct"], 6)),
                              []).append(p["label"])
        ax.set_yscale("symlog", linthresh=0.1, linscale=0.5)  # 100 % and 0.5 % both readable
        ax.set_xlabel("idle memory time (GB-hours)")
        ax.set_ylabel("cold starts (%)")
        ax.set_ylim(bottom=0, top=150)
        ax.set_yticks([0, 0.1, 1, 10, 100], ["0", "0.1", "1", "10", "100"])
        right = max((x for x, _ in labels), default=0.0)
        ax.set_xlim(left=0, right=right * 1.12 + 0.01)  # room for the rightmost label
        legend = ax.legend(loc="lower left", fontsize=8)
        place_labels(ax, list(labels), [", ".join(names) for names in labels.values()], avoid=[legend])
        return _render(fig, "Keep-alive trade-off: cold starts against idle memory", static)


def cold_share_chart(rates: list[float], simulated: list[float], keep_alive: float,
                     measured: list[float] | None = None, measured_se: list[float] | None = None,
                     static: bool = False) -> str:
    """Cold-start share against arrival rate on log scales: the simulated shares, the measured ones
    (with bars of ±3 standard errors) and the closed form e^(−λT) for random arrivals, where it is
    above 0.01 %. Shares are fractions (0.05 is 5 %)."""
    with figure(6.4, 3.4) as (fig, ax):
        if measured is not None:
            se = measured_se or [0.0] * len(measured)
            low = [min(3 * s, 0.999 * m) * 100 for m, s in zip(measured, se, strict=True)]  # a log axis has no 0
            ax.errorbar(rates, [100 * m for m in measured], yerr=[low, [300 * s for s in se]], fmt="o",
                        color=SERIES[1], markersize=5, capsize=2, label="AWS (measured, ±3 SE)", zorder=3)
        shown = [(r, s) for r, s in zip(rates, simulated, strict=True) if s > 0]
        ax.plot([r for r, _ in shown], [100 * s for _, s in shown], color=SERIES[0], marker=".",
                label="simulated", zorder=2)
        top = max(rates)
        grid = [min(rates) * (top / min(rates)) ** (i / 200) for i in range(201)]
        closed = [(r, 100 * math.exp(-r * keep_alive)) for r in grid if math.exp(-r * keep_alive) > 1e-4]
        ax.plot([r for r, _ in closed], [p for _, p in closed], color=SERIES[4], linestyle="--",
                label=f"e^(−λT), T = {_span_words(keep_alive)}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain = FuncFormatter(lambda v, _: f"{v:g}")  # 0.01, 0.1, 1, 10 rather than powers of ten
        ax.xaxis.set_major_formatter(plain)
        ax.yaxis.set_major_formatter(plain)
        ax.set_xlabel("arrival rate λ (requests per second)")
        ax.set_ylabel("cold starts (%)")
        ax.legend(loc="lower left", fontsize=8)
        return _render(fig, "Cold-start share against arrival rate", static)


def cold_share_view(rates: list[float], simulated: list[float], keep_alive: float,
                    measured: list[float] | None = None, measured_se: list[float] | None = None) -> Chart:
    """:func:`cold_share_chart` to display: themed live, an image with its own background when stored."""
    text = (f"Cold-start share against arrival rate: {len(rates)} rates, "
            f"{min(rates):g} to {max(rates):g} per second, keep-alive {_span_words(keep_alive)}")
    return Chart(cold_share_chart(rates, simulated, keep_alive, measured, measured_se), text)


def _money(x: float) -> str:
    return f"${x:,.2f}" if x >= 1 else f"${x:,.4f}"


def simulation_html(result: Any, static: bool = False) -> str:
    lat = result.latency_ms
    facts = [("Invocations", f"{result.invocations:,}"), ("Cold starts", f"{result.cold_starts:,}"),
             ("Cold-start ratio", f"{result.cold_start_ratio:.3%}"), ("Throttled", f"{result.throttled:,}"),
             ("Environments (mean)", f"{result.mean_environments:.2f}"),
             ("busy / idle", f"{result.mean_busy:.2f} / {result.mean_idle:.2f}"),
             ("Peak", f"{result.peak_environments}"), ("GB-s", f"{result.gb_seconds:,.1f}"),
             ("Cost", _money(result.cost_usd))]
    if lat:
        facts += [("p50", f"{lat['p50']:.0f} ms"), ("p99", f"{lat['p99']:.0f} ms"),
                  ("max", f"{lat['max']:.0f} ms")]
    reasons = ", ".join(f"{k} {v:,}" for k, v in result.cold_reasons.items()) or "none"
    head = (f'<div class="lw-title"><b>Traffic simulation</b> <span class="lw-muted">'
            f'{esc(result.config.get("workload", {}).get("kind", ""))} · {esc(_span_words(result.duration))} · '
            f'{result.memory_mb} MB · {esc(_keep_words(result.keep_alive))}</span></div>'
            f'{fact_list((k, esc(v)) for k, v in facts)}'
            f'<div class="lw-muted">Why cold: {esc(reasons)}</div>')
    charts = (sec("lw-chart", "Environments over time", concurrency_chart(result.series, static))
              + sec("lw-chart", "Cold starts over time", cold_chart(result.series, static)))
    return root("lw-traffic", sec("lw-header", "", head) + charts)


def sweep_html(sweep: Any, static: bool = False) -> str:
    front = sweep.pareto()
    names = {p["label"] for p in front}
    rows = "".join(f'<tr><td>{esc(p["label"])}{" ★" if p["label"] in names else ""}</td>'
                   f'<td>{p["cold_start_pct"]:.2f} %</td><td>{p["idle_gb_seconds"] / 3600:,.2f}</td>'
                   f'<td>{p["mean_environments"]:.2f}</td><td>{_money(p["cost_usd"])}</td></tr>'
                   for p in sweep.points)
    table = (_TABLE_CSS + '<table class="lw-sweep"><thead><tr><th>Keep-alive</th><th>Cold starts</th>'
             '<th>Idle GB-hours</th><th>Environments</th><th>Cost</th></tr></thead>'
             f'<tbody>{rows}</tbody></table>')
    return root("lw-traffic-sweep",
                sec("lw-chart", "Keep-alive sweep: cold starts against idle memory (★ on the Pareto front)",
                    pareto_chart(sweep.points, front, static)) + sec("lw-table", "", table))


def _span_words(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:g} d"
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _keep_words(policy: dict[str, Any]) -> str:
    if policy.get("policy") == "fixed":
        return f"idle timeout {_span_words(policy['idle_timeout'])}"
    return "no keep-alive" if policy.get("policy") == "none" else "hybrid histogram keep-alive"


class TrafficView(ViewMixin, widgets.VBox):
    """A simulation result (or keep-alive sweep) as a widget: the same HTML, themed live."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.panel = html_widget()
        super().__init__(children=[self.panel], layout=widgets.Layout(width="100%"))
        self.add_class("lw-root")
        self.refresh()

    def _html(self, static: bool) -> str:
        render = sweep_html if hasattr(self.result, "pareto") else simulation_html
        return render(self.result, static)

    def refresh(self) -> None:
        with self.panel.hold_sync():
            self.panel.value = self._html(static=False)

    def static_html(self) -> str:
        return self._html(static=True)

    def plain_text(self) -> str:
        lines = self.result.lines() if hasattr(self.result, "lines") else self.result.summary_lines()
        return "\n".join(lines)
