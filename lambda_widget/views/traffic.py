"""The traffic lab's views: a simulation's numbers and charts, and a keep-alive sweep's Pareto chart.

Charts come from :mod:`lambda_widget.views.charts` (matplotlib, JupyterLab theme colours). The live
rendering inlines the SVG so it follows the theme; the static one (``_repr_html_``, sanitised pages)
embeds it as an image in the light theme's colours.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from lambda_widget.views.base import ViewMixin, html_widget
from lambda_widget.views.charts import SERIES, figure, inline_svg, svg_image
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
    return svg_image(fig, label) if static else inline_svg(fig, label)


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
        ax.set_ylim(bottom=0)
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
        ax.legend(loc="upper right", ncols=2)
        return _render(fig, "Cold starts over time", static)


def pareto_chart(points: list[dict[str, Any]], front: list[dict[str, Any]], static: bool = False) -> str:
    """Cold-start % against idle memory time, one point per policy, the frontier joined."""
    with figure(6.4, 3.2) as (fig, ax):
        fixed = [p for p in points if not p["provisioned"] and p["keep_alive"]["policy"] != "hybrid-histogram"]
        others = [p for p in points if p not in fixed]
        ax.plot([p["idle_gb_seconds"] / 3600 for p in front], [p["cold_start_pct"] for p in front],
                color=SERIES[4], linestyle="--", linewidth=1, label="Pareto front")
        ax.scatter([p["idle_gb_seconds"] / 3600 for p in fixed], [p["cold_start_pct"] for p in fixed],
                   color=SERIES[0], zorder=3, label="fixed keep-alive")
        for p in others:
            colour = SERIES[1] if p["keep_alive"]["policy"] == "hybrid-histogram" else SERIES[2]
            ax.scatter([p["idle_gb_seconds"] / 3600], [p["cold_start_pct"]], color=colour, marker="D", zorder=3)
        for p in points:
            ax.annotate(p["label"], (p["idle_gb_seconds"] / 3600, p["cold_start_pct"]), fontsize=8,
                        xytext=(4, 3), textcoords="offset points")
        ax.set_xlabel("idle memory time (GB-hours)")
        ax.set_ylabel("cold starts (%)")
        ax.set_ylim(bottom=0)
        ax.set_xlim(left=0)
        ax.legend(loc="upper right")
        return _render(fig, "Keep-alive trade-off: cold starts against idle memory", static)


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
    table = ('<table class="lw-step-table"><thead><tr><th>Keep-alive</th><th>Cold starts</th>'
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
