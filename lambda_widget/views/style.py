"""The one stylesheet of every view, scoped to ``.lw-...`` classes, and its colours.

Each view root emits it once (``style_tag()``). SVG drawings also carry the colours as
attributes, so they read right where a page strips ``<style>``.
"""

from __future__ import annotations

PALETTE = {
    "ink": "#1f2328",
    "muted": "#6e7781",
    "line": "#d8dee4",
    "soft": "#f6f8fa",
    "cold": "#0b5cad", "cold_bg": "#e3f0fd", "cold_border": "#9ec5f4",
    "warm": "#b35900", "warm_bg": "#fff1df", "warm_border": "#f5c27d",
    "ok": "#1a7f37", "ok_bg": "#e6f6ea", "ok_border": "#9bd3a9",
    "err": "#cf222e", "err_bg": "#ffebe9", "err_ink": "#82071e",
    "grey": "#6e7781", "grey_bg": "#f0f2f4", "grey_border": "#c9d1d9",
    "init": "#6639ba", "init_bg": "#f1ebfd",
    "current_bg": "#fff8c5", "current_border": "#d4a72c",
    "flow_bg": "#f6f8fa", "flow_border": "#c9d1d9", "flow_edge": "#b6bfc9",
    "flow_taken": "#0969da", "flow_taken_bg": "#ddf4ff", "flow_taken_ink": "#0a3069",
    "flow_edge_taken": "#0969da",
}

STATE_COLOURS = {  # environment state: (ink, background, border)
    "initializing": (PALETTE["init"], PALETTE["init_bg"], "#c8b3f5"),
    "busy": (PALETTE["warm"], PALETTE["warm_bg"], PALETTE["warm_border"]),
    "idle": (PALETTE["ok"], PALETTE["ok_bg"], PALETTE["ok_border"]),
    "terminated": (PALETTE["grey"], PALETTE["grey_bg"], PALETTE["grey_border"]),
}

_P = PALETTE
CSS = f"""
.lw-root {{ font-family: var(--jp-ui-font-family, -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto,
  Helvetica, Arial, sans-serif); font-size: 13px; color: var(--jp-ui-font-color1, {_P['ink']});
  line-height: 1.45; box-sizing: border-box; padding: 2px 4px; }}
.lw-root .lw-root {{ padding: 0; }}
.lw-root .widget-html-content, .lw-root .jupyter-widget-html-content {{ line-height: 1.45; }}
.lw-root .lw-sec {{ line-height: 1.45; margin: 0 0 10px 0; }}
.lw-root .lw-h {{ font-size: 11px; font-weight: 600; letter-spacing: .04em; text-transform: uppercase;
  color: var(--jp-ui-font-color2, {_P['muted']}); margin: 0 0 4px 0; }}
.lw-root .lw-muted {{ color: var(--jp-ui-font-color2, {_P['muted']}); }}
.lw-root code, .lw-root .lw-mono {{ font-family: var(--jp-code-font-family, Menlo, Consolas,
  "DejaVu Sans Mono", monospace); font-size: 12px; }}
.lw-root table {{ border-collapse: collapse; font-size: 12.5px; }}
.lw-root th {{ text-align: left; font-weight: 600; background: {_P['soft']};
  border-bottom: 1px solid {_P['line']}; padding: 4px 8px; white-space: nowrap; }}
.lw-root td {{ padding: 3px 8px; border-bottom: 1px solid {_P['line']}; vertical-align: top; }}
.lw-root .lw-scroll {{ overflow-x: auto; max-width: 100%; }}

.lw-root .lw-header {{ border: 1px solid {_P['line']}; border-radius: 8px; padding: 8px 12px;
  background: var(--jp-layout-color1, #fff); }}
.lw-root .lw-title {{ font-size: 15px; font-weight: 600; display: flex; flex-wrap: wrap; gap: 8px;
  align-items: center; }}
.lw-root .lw-title .lw-ver {{ color: {_P['muted']}; font-weight: 500; }}
.lw-root .lw-why {{ margin: 4px 0 6px 0; }}
.lw-root .lw-facts {{ display: flex; flex-wrap: wrap; gap: 2px 18px; margin: 0; font-size: 12px; }}
.lw-root .lw-fact {{ white-space: nowrap; }}
.lw-root .lw-fact .lw-k {{ color: {_P['muted']}; }}
.lw-root .lw-fact .lw-v {{ font-weight: 500; }}

.lw-root .lw-badge {{ display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 11.5px;
  font-weight: 600; border: 1px solid {_P['grey_border']}; background: {_P['grey_bg']}; color: {_P['grey']}; }}
.lw-root .lw-badge-cold {{ background: {_P['cold_bg']}; color: {_P['cold']}; border-color: {_P['cold_border']}; }}
.lw-root .lw-badge-warm {{ background: {_P['warm_bg']}; color: {_P['warm']}; border-color: {_P['warm_border']}; }}
.lw-root .lw-status-succeeded {{ background: {_P['ok_bg']}; color: {_P['ok']}; border-color: {_P['ok_border']}; }}
.lw-root .lw-status-failed, .lw-root .lw-status-timed-out, .lw-root .lw-status-crashed,
.lw-root .lw-status-throttled, .lw-root .lw-status-cancelled, .lw-root .lw-status-out-of-memory,
.lw-root .lw-status-dropped {{ background: {_P['err_bg']};
  color: {_P['err']}; border-color: #ffaba8; }}
.lw-root .lw-status-running, .lw-root .lw-status-queued {{ background: {_P['current_bg']};
  color: #7d4e00; border-color: {_P['current_border']}; }}

.lw-root .lw-caption {{ font-weight: 600; margin: 2px 0 6px 0; }}
.lw-root .lw-caption .lw-step-no {{ display: inline-block; min-width: 22px; text-align: center;
  background: {_P['flow_taken']}; color: #fff; border-radius: 4px; padding: 0 6px; margin-right: 6px; }}
.lw-root svg.lw-flow {{ width: 100%; max-width: 990px; height: auto; display: block; }}
.lw-root svg.lw-flow text {{ font-family: inherit; }}
.lw-root .lw-pair {{ display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }}
.lw-root .lw-pair > .lw-sec {{ flex: 1 1 360px; min-width: 0; }}
.lw-root .lw-pair > .lw-sec.lw-narrow {{ flex: 0 1 340px; }}

.lw-root table.lw-step-table td:first-child {{ text-align: right; color: {_P['muted']}; }}
.lw-root table.lw-step-table td.lw-exec {{ font-family: var(--jp-code-font-family, Menlo, Consolas, monospace);
  font-size: 12px; white-space: pre; }}
.lw-root table.lw-step-table td.lw-out {{ white-space: pre-wrap; font-family: var(--jp-code-font-family,
  Menlo, Consolas, monospace); font-size: 12px; }}
.lw-root tr.lw-current td {{ background: {_P['current_bg']}; }}
.lw-root tr.lw-current td:first-child {{ box-shadow: inset 3px 0 0 {_P['current_border']}; color: {_P['ink']};
  font-weight: 600; }}
.lw-root tr.lw-kind-error td, .lw-root tr.lw-kind-stop td, .lw-root tr.lw-kind-throttle td {{ color: {_P['err_ink']}; }}
.lw-root tr.lw-kind-end td {{ color: {_P['muted']}; }}

.lw-root table.lw-tracker td, .lw-root table.lw-tracker th {{ text-align: center; min-width: 28px;
  max-width: 160px; overflow-wrap: break-word; }}
.lw-root table.lw-tracker td {{ font-family: var(--jp-code-font-family, Menlo, Consolas, monospace);
  font-size: 11.5px; white-space: nowrap; }}
.lw-root table.lw-tracker td.lw-long {{ white-space: normal; }}
.lw-root table.lw-tracker td.lw-var {{ text-align: left; font-weight: 600; white-space: nowrap; }}
.lw-root table.lw-tracker td.lw-undef {{ color: #afb8c1; font-style: italic; }}
.lw-root table.lw-tracker td.lw-changed {{ font-weight: 600; }}
.lw-root table.lw-tracker .lw-current {{ background: {_P['current_bg']}; }}
.lw-root table.lw-tracker th.lw-current {{ box-shadow: inset 0 -2px 0 {_P['current_border']}; }}
.lw-root table.lw-tracker tr.lw-frame th {{ text-align: left; font-weight: 600; padding-top: 6px; }}
.lw-root table.lw-tracker .lw-frame-label {{ position: sticky; left: 8px; max-width: 720px;
  white-space: normal; }}

.lw-root .lw-code {{ font-family: var(--jp-code-font-family, Menlo, Consolas, monospace); font-size: 12px;
  background: var(--jp-cell-editor-background, {_P['soft']}); border: 1px solid {_P['line']};
  border-radius: 6px; padding: 6px 0; overflow-x: auto; }}
.lw-root .lw-code .lw-line {{ white-space: pre; padding: 0 10px 0 0; line-height: 1.55; }}
.lw-root .lw-code .lw-ln {{ display: inline-block; width: 34px; padding-right: 10px; text-align: right;
  color: #afb8c1; user-select: none; }}
.lw-root .lw-code .lw-ran .lw-ln {{ color: {_P['flow_taken']}; }}
.lw-root .lw-code .lw-line.lw-current {{ background: {_P['current_bg']};
  box-shadow: inset 3px 0 0 {_P['current_border']}; }}

.lw-root .lw-logs {{ font-family: var(--jp-code-font-family, Menlo, Consolas, monospace); font-size: 11.5px;
  background: #0d1117; color: #e6edf3; border-radius: 6px; padding: 8px 10px; max-height: 260px;
  overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; tab-size: 4; margin: 0; }}
.lw-root .lw-logs .lw-log-platform {{ color: #8b949e; }}
.lw-root .lw-logs .lw-log-error {{ color: #ff7b72; }}
.lw-root .lw-result {{ border-radius: 6px; padding: 6px 10px; border: 1px solid {_P['ok_border']};
  background: {_P['ok_bg']}; }}
.lw-root .lw-result pre {{ margin: 2px 0 0 0; white-space: pre-wrap; font-family: var(--jp-code-font-family,
  Menlo, Consolas, monospace); font-size: 12px; }}
.lw-root .lw-result.lw-error {{ border-color: #ffaba8; background: {_P['err_bg']}; color: {_P['err_ink']}; }}
.lw-root .lw-key-moments ul {{ margin: 0; padding-left: 20px; }}
.lw-root .lw-key-moments li {{ margin: 2px 0; }}

.lw-root .lw-pool-head {{ margin-bottom: 6px; }}
.lw-root .lw-cards {{ display: flex; flex-wrap: wrap; gap: 8px; margin-bottom: 8px; }}
.lw-root .lw-pool-card {{ border: 1px solid {_P['line']}; border-left-width: 4px; border-radius: 6px;
  padding: 5px 10px; min-width: 170px; font-size: 12px; background: var(--jp-layout-color1, #fff); }}
.lw-root .lw-pool-card .lw-card-id {{ font-weight: 600; font-size: 13px; display: flex; gap: 8px;
  justify-content: space-between; }}
""" + "".join(
    f".lw-root .lw-state-{state} {{ border-left-color: {b}; }}\n"
    f".lw-root .lw-state-{state} .lw-state {{ color: {ink}; background: {bg}; border-radius: 4px; "
    f"padding: 0 6px; font-size: 11.5px; font-weight: 600; }}\n"
    for state, (ink, bg, b) in STATE_COLOURS.items()) + f"""
.lw-root .lw-state-terminated {{ color: {_P['muted']}; background: {_P['soft']}; }}
.lw-root svg.lw-timeline {{ width: 100%; height: auto; display: block; }}
.lw-root svg.lw-timeline text {{ font-family: inherit; }}
.lw-root .lw-legend {{ font-size: 11.5px; color: {_P['muted']}; display: flex; gap: 14px; flex-wrap: wrap; }}
.lw-root .lw-legend i {{ display: inline-block; width: 12px; height: 9px; border-radius: 2px;
  margin-right: 4px; vertical-align: middle; }}

.lw-root.lw-function-card, .lw-root .lw-function-card {{ border: 1px solid {_P['line']}; border-radius: 8px;
  padding: 8px 12px; }}
.lw-root .lw-function-card .lw-title {{ margin-bottom: 6px; }}
.lw-root table.lw-history td.lw-num {{ text-align: right; color: {_P['muted']}; }}
.lw-root .lw-progress {{ font-weight: 600; }}
.lw-root .lw-stepper {{ align-items: center; }}
"""


def style_tag() -> str:
    """The ``<style>`` block, once per view root."""
    return f"<style>{CSS}</style>"
