"""The queue panel: an SQS event source mapping (or a simulated queue) as numbers, charts and its batches.

Messages visible, in flight and in the dead-letter queue over time; the concurrent batches the pollers
allowed and ran; the age of the oldest message; batch sizes; the last batches with their invocations.
A snapshot by default (the moment the view was made), live when asked, like the pool view; every
rendering also exists as static HTML (charts as images) and short text.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import ipywidgets as widgets

from lambda_widget.views.base import ViewMixin, html_widget, set_html
from lambda_widget.views.charts import SERIES, figure, inline_svg, svg_image
from lambda_widget.views.coalesce import Coalescer
from lambda_widget.views.html import esc, fact_list, root, sec

RECENT_BATCHES = 8
_TABLE_CSS = """<style>
.lw-root table.lw-batches { border-collapse: collapse; font-size: 12px; }
.lw-root table.lw-batches th { text-align: left; padding: 2px 8px; color: var(--jp-ui-font-color1, #1f2328);
  background: var(--jp-layout-color2, #f6f8fa); border-bottom: 1px solid var(--jp-border-color2, #d8dee4); }
.lw-root table.lw-batches td { padding: 2px 8px; border-bottom: 1px solid var(--jp-border-color2, #d8dee4); }
</style>"""


def mapping_snapshot(mapping: Any) -> dict[str, Any]:
    """The plain data the panel shows, from a mapping (``EventSourceMapping.to_dict()``) at this moment."""
    data = mapping.to_dict()
    data["kind"] = "mapping"
    data["clock"] = mapping.service.mgr.clock.now()
    return data


def _axis(t: list[float]) -> tuple[list[float], str]:
    span = (max(t) - min(t)) if t else 0.0
    if span >= 2 * 3600:
        return [x / 3600 for x in t], "hours"
    if span >= 120:
        return [x / 60 for x in t], "minutes"
    return list(t), "seconds"


def _chart(fig: Any, label: str, static: bool) -> str:
    chart = svg_image(fig, label) if static else inline_svg(fig, label)
    return f'<div style="max-width: 760px">{chart}</div>'


def messages_chart(series: list[dict[str, Any]], static: bool = False) -> str:
    """Messages visible, in flight and in the dead-letter queue."""
    x, unit = _axis([p["t"] for p in series])
    with figure(6.4, 2.4) as (fig, ax):
        ax.step(x, [p["visible"] for p in series], where="post", color=SERIES[0], label="visible")
        ax.step(x, [p["in_flight"] for p in series], where="post", color=SERIES[1], label="in flight")
        ax.step(x, [p["dead_letter"] for p in series], where="post", color=SERIES[3], label="dead-letter queue")
        tallest = max((max(p["visible"], p["in_flight"], p["dead_letter"]) for p in series), default=0)
        ax.set_ylim(0, tallest * 1.3 + 1)
        ax.set_xlabel(f"time ({unit})")
        ax.set_ylabel("messages")
        ax.legend(loc="upper right", ncols=3)
        return _chart(fig, "Messages over time", static)


def pollers_chart(series: list[dict[str, Any]], static: bool = False) -> str:
    """Concurrent batches the pollers allow, the batches running, and the oldest message's age."""
    x, unit = _axis([p["t"] for p in series])
    with figure(6.4, 2.4) as (fig, ax):
        ax.step(x, [p["pollers"] for p in series], where="post", color=SERIES[0], label="concurrent batches allowed")
        ax.step(x, [p["batches"] for p in series], where="post", color=SERIES[2], label="batches running")
        ax.set_ylim(0, max((p["pollers"] for p in series), default=0) * 1.35 + 1)
        ax.set_xlabel(f"time ({unit})")
        ax.set_ylabel("batches")
        ages = [p.get("oldest_age_s") or 0.0 for p in series]
        if any(ages):
            age = ax.twinx()
            age.step(x, ages, where="post", color=SERIES[1], linestyle="--", label="oldest message age (s)")
            age.set_ylabel("age (s)")
            age.set_ylim(0, max(ages) * 1.35 + 1)
            age.grid(False)
            age.legend(loc="upper left")
        ax.legend(loc="upper right")
        return _chart(fig, "Pollers and the oldest message over time", static)


def batch_sizes(batches: list[dict[str, Any]]) -> str:
    """``10 × 98, 5 × 1`` (most common first)."""
    counts = Counter(b["size"] for b in batches)
    return ", ".join(f"{size} × {n}" for size, n in sorted(counts.items(), key=lambda kv: (-kv[1], -kv[0])))


def batches_table(batches: list[dict[str, Any]]) -> str:
    rows = "".join(
        f'<tr><td>{b["batch"]}</td><td>{b["size"]}</td><td>{esc(b["closed"])}</td><td>{esc(b["status"])}</td>'
        f'<td>{"#" + str(b["invocation"]) if b["invocation"] is not None else "-"}</td>'
        f'<td>{b["deleted"]}</td><td>{b["returned"]}</td><td>{esc(b["note"])}</td></tr>'
        for b in batches[-RECENT_BATCHES:])
    return (_TABLE_CSS + '<div class="lw-scroll" style="overflow-x:auto;max-width:100%">'
            '<table class="lw-batches"><thead><tr><th>Batch</th><th>Messages</th><th>Sent because</th>'
            '<th>Outcome</th><th>Invocation</th><th>Deleted</th><th>Back to queue</th><th>Note</th></tr>'
            f'</thead><tbody>{rows}</tbody></table></div>')


def queue_html(snap: dict[str, Any], static: bool = False) -> str:
    c = snap["counters"]
    last = snap["series"][-1] if snap["series"] else {}
    config = [("Queue", esc(snap["queue"]) + (" (FIFO)" if snap["fifo"] else "")),
              ("Function", esc(snap["function"])), ("Batch size", snap["batch_size"]),
              ("Window", f'{snap["batching_window"]} s'),
              ("Maximum concurrency", snap["maximum_concurrency"] or "none"),
              ("Partial batch response", "on" if snap["report_batch_item_failures"] else "off")]
    if snap["filters"]:
        config.append(("Filters", esc("; ".join(snap["filters"]))))
    counts = [("Received", f'{c["received"]:,}'), ("Batches", f'{c["batches"]:,}'),
              ("Invocations", f'{c["invocations"]:,}'), ("Deleted", f'{c["deleted"]:,}'),
              ("Back to the queue", f'{c["returned"]:,}'), ("Filtered out", f'{c["filtered"]:,}'),
              ("Throttles", f'{c["throttles"]:,}')]
    now = [("Visible", last.get("visible", "-")), ("In flight", last.get("in_flight", "-")),
           ("Dead-letter queue", last.get("dead_letter", "-")),
           ("Concurrent batches allowed", snap["scaling"]["concurrent_batches"]),
           ("Oldest message", f'{last["oldest_age_s"]:.0f} s' if last.get("oldest_age_s") is not None else "-")]
    state = "enabled" if snap["enabled"] else "disabled"
    moment = "live view" if snap.get("live") else f'as it stood at clock {snap["clock"]:g} s'
    head = (f'<div class="lw-title"><b>SQS event source mapping</b> <span class="lw-muted">{esc(state)} · '
            f'{esc(moment)}</span></div>{fact_list(config)}{fact_list(counts)}{fact_list(now)}')
    if snap.get("problem"):
        head += f'<div class="lw-muted">Problem: {esc(snap["problem"])}</div>'
    parts = sec("lw-header", "", head)
    times = {p["t"] for p in snap["series"]}
    if len(times) > 1:
        parts += sec("lw-chart", "Messages over time", messages_chart(snap["series"], static))
        parts += sec("lw-chart", "Pollers over time", pollers_chart(snap["series"], static))
    if snap["batches"]:
        parts += sec("lw-table", f"Batches (the last {min(RECENT_BATCHES, len(snap['batches']))}; sizes: "
                     f"{batch_sizes(snap['batches'])})", batches_table(snap["batches"]))
    return root("lw-queue", parts)


def simulation_html(result: Any, static: bool = False) -> str:
    """A simulated queue (``traffic.simulate_queue``): its numbers and the same charts as the panel's."""
    drain = result.drain_words()
    c = result.config
    config = [("Batch size", c["batch_size"]), ("Window", f'{c["batching_window"]} s'),
              ("Maximum concurrency", c["maximum_concurrency"] or "none"),
              ("Visibility timeout", f'{c["visibility_timeout"]:g} s'),
              ("maxReceiveCount", c["max_receive_count"] or "none")]
    counts = [("Messages", f"{result.messages:,}"), ("Deleted", f"{result.deleted:,}"),
              ("Dead-letter queue", f"{result.dead_lettered:,}"), ("Time to drain", drain),
              ("Batches", f"{result.batches:,}"), ("Invocations", f"{result.invocations:,}"),
              ("Throttles", f"{result.throttles:,}"), ("Cold starts", f"{result.cold_starts:,}"),
              ("Oldest message", f"{result.max_oldest_age_s:,.1f} s at most")]
    head = (f'<div class="lw-title"><b>Queue simulation</b> <span class="lw-muted">'
            f'{esc(c["workload"].get("kind", ""))}</span></div>{fact_list(config)}{fact_list(counts)}')
    parts = sec("lw-header", "", head)
    if len({p["t"] for p in result.series}) > 1:
        parts += sec("lw-chart", "Messages over time", messages_chart(result.series, static))
        parts += sec("lw-chart", "Pollers over time", pollers_chart(result.series, static))
    return root("lw-queue-sim", parts)


def queue_text(snap: dict[str, Any]) -> str:
    c = snap["counters"]
    last = snap["series"][-1] if snap["series"] else {}
    lines = [f'SQS {snap["queue"]} -> {snap["function"]}: batch size {snap["batch_size"]}, window '
             f'{snap["batching_window"]} s, {"enabled" if snap["enabled"] else "disabled"}',
             f'received {c["received"]}, {c["invocations"]} invocations in {c["batches"]} batches, deleted '
             f'{c["deleted"]}, back to the queue {c["returned"]}, filtered out {c["filtered"]}, '
             f'throttles {c["throttles"]}']
    if last:
        lines.append(f'now: {last["visible"]} visible, {last["in_flight"]} in flight, {last["dead_letter"]} in '
                     f'the dead-letter queue; {snap["scaling"]["concurrent_batches"]} concurrent batches allowed')
    if snap["batches"]:
        lines.append(f'batch sizes: {batch_sizes(snap["batches"])}')
    return "\n".join(lines)


class QueueView(ViewMixin, widgets.VBox):
    """The panel of one event source mapping. A snapshot unless ``live=True`` (then it follows the
    mapping, rendering at most once per ``interval`` seconds; ``freeze()`` stops it)."""

    def __init__(self, mapping: Any, *, live: bool = False, interval: float = 0.25) -> None:
        self.mapping = mapping
        self.live = live
        self.renders = 0
        self.body = html_widget()
        super().__init__(children=[self.body], layout=widgets.Layout(width="100%", min_width="0"))
        self.add_class("lw-root")
        self._snap = self._take()
        if live:
            self._watch(mapping.service, "revision", Coalescer(self.refresh, interval))
        self._render()

    @property
    def snapshot(self) -> dict[str, Any]:
        return self._snap

    def _take(self) -> dict[str, Any]:
        return {**mapping_snapshot(self.mapping), "live": self.live}

    def refresh(self) -> None:
        self._snap = self._take()
        self._render()

    def _render(self) -> None:
        self.renders += 1
        set_html(self.body, queue_html(self._snap))

    def static_html(self) -> str:
        return queue_html(self._snap, static=True)

    def plain_text(self) -> str:
        return queue_text(self._snap)
