"""The one stylesheet of every view, scoped to ``.lw-...`` classes, and its colours.

Each view root emits it once (``style_tag()``). Colours come from JupyterLab's theme
variables (``--jp-...``) with fallbacks for pages that have none. Text always takes the
theme's own font colours; states are shown with translucent tints, borders and bars,
which read the same over a light and a dark background. A few elements carry their own
fixed background and text pair (the step number, the current flow node, the logs).

SVG drawings also carry light-theme colours as attributes, so they read right where a
page strips ``<style>`` (and inside an ``<img>``, which sees no page CSS at all); in the
live views the stylesheet overrides them with the theme's.
"""

from __future__ import annotations

# Light-theme colours: the SVG attributes and every var()'s fallback.
PALETTE = {
    "ink": "#1f2328",
    "muted": "#57606a",
    "line": "#d0d7de",
    "soft": "#f6f8fa",
    "paper": "#ffffff",
    "cold": "#0b5cad", "cold_bg": "#e3f0fd", "cold_border": "#9ec5f4",
    "warm": "#9a4d00", "warm_bg": "#fff1df", "warm_border": "#f5c27d",
    "ok": "#1a7f37", "ok_bg": "#e6f6ea", "ok_border": "#9bd3a9",
    "err": "#cf222e", "err_bg": "#ffebe9", "err_ink": "#82071e",
    "grey": "#6e7781", "grey_bg": "#f0f2f4", "grey_border": "#c9d1d9",
    "init": "#6639ba", "init_bg": "#f1ebfd",
    "current_bg": "#fff8c5", "current_border": "#d4a72c",
    "flow_bg": "#f6f8fa", "flow_border": "#afb8c1", "flow_edge": "#8c959f",
    "flow_taken": "#0969da", "flow_taken_bg": "#ddf4ff", "flow_taken_ink": "#0a3069",
    "flow_edge_taken": "#0969da",
}

STATE_COLOURS = {  # environment state: (ink, background, border)
    "initializing": (PALETTE["init"], PALETTE["init_bg"], "#8250df"),
    "busy": (PALETTE["warm"], PALETTE["warm_bg"], "#e8890c"),
    "idle": (PALETTE["ok"], PALETTE["ok_bg"], "#2da44e"),
    "terminated": (PALETTE["grey"], PALETTE["grey_bg"], "#8c959f"),
}

# Translucent tints (r, g, b): they darken a light page and lighten a dark one just enough,
# and the theme's text stays legible on both.
TINTS = {"cold": (9, 105, 218), "warm": (232, 137, 12), "ok": (45, 164, 78), "err": (207, 34, 46),
         "grey": (140, 149, 159), "init": (130, 80, 223), "current": (212, 167, 44)}


def tint(name: str, alpha: float = 0.16) -> str:
    r, g, b = TINTS[name]
    return f"rgba({r}, {g}, {b}, {alpha})"


INK = f"var(--jp-ui-font-color1, {PALETTE['ink']})"
MUTED = f"var(--jp-ui-font-color2, {PALETTE['muted']})"
LINE = f"var(--jp-border-color2, {PALETTE['line']})"
LINE_STRONG = f"var(--jp-border-color1, {PALETTE['grey_border']})"
SOFT = f"var(--jp-layout-color2, {PALETTE['soft']})"
PAPER = f"var(--jp-layout-color1, {PALETTE['paper']})"
CODE_FONT = "var(--jp-code-font-family, Menlo, Consolas, \"DejaVu Sans Mono\", monospace)"
BORDERS = {"cold": "#3b8eea", "warm": "#e8890c", "ok": "#2da44e", "err": "#e5534b", "grey": "#8c959f",
           "init": "#8250df", "current": "#d4a72c"}


def _badge(cls: str, kind: str) -> str:
    return (f".lw-root .{cls} {{ background: {tint(kind, 0.18)}; border-color: {BORDERS[kind]}; "
            f"color: {INK}; }}\n")


CSS = f"""
.lw-root {{ font-family: var(--jp-ui-font-family, -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto,
  Helvetica, Arial, sans-serif); font-size: 13px; color: {INK};
  line-height: 1.45; box-sizing: border-box; padding: 2px 4px; max-width: 100%; min-width: 0; }}
.lw-root * {{ box-sizing: border-box; }}
.lw-root .lw-root {{ padding: 0; }}
.lw-root .widget-html, .lw-root .jupyter-widget-html {{ max-width: 100%; min-width: 0; }}
.lw-root .widget-html-content, .lw-root .jupyter-widget-html-content {{ line-height: 1.45;
  white-space: normal; max-width: 100%; min-width: 0; overflow: visible; }}
.lw-root .lw-sec {{ line-height: 1.45; margin: 0 0 10px 0; min-width: 0; max-width: 100%; }}
.lw-root .lw-h {{ font-size: 11px; font-weight: 700; letter-spacing: .04em; text-transform: uppercase;
  color: {MUTED}; margin: 0 0 4px 0; }}
.lw-root .lw-muted {{ color: {MUTED}; }}
.lw-root code, .lw-root .lw-mono {{ font-family: {CODE_FONT}; font-size: 12px; color: {INK};
  background: transparent; }}
.lw-root table {{ border-collapse: collapse; font-size: 12.5px; color: {INK}; }}
.lw-root th {{ text-align: left; font-weight: 600; background: {tint('grey', 0.06)}; color: {INK};
  border-bottom: 1px solid {LINE_STRONG}; padding: 4px 8px; white-space: nowrap; }}
.lw-root td {{ padding: 3px 8px; border-bottom: 1px solid {LINE}; vertical-align: top; color: {INK};
  background: transparent; }}
.lw-root tbody tr:nth-child(odd) {{ background: transparent; }}
.lw-root .lw-scroll {{ overflow-x: auto; max-width: 100%; }}
.lw-root .lw-sep {{ display: none; }}
.lw-root .lw-code .lw-sep {{ display: inline; }}

.lw-root .lw-header {{ border: 1px solid {LINE}; border-radius: 8px; padding: 8px 12px; background: {PAPER}; }}
.lw-root .lw-title {{ font-size: 15px; font-weight: 600; display: flex; flex-wrap: wrap; gap: 8px;
  align-items: center; }}
.lw-root .lw-title .lw-ver {{ color: {MUTED}; font-weight: 500; }}
.lw-root .lw-why {{ margin: 4px 0 6px 0; }}
.lw-root .lw-facts {{ display: flex; flex-wrap: wrap; gap: 2px 18px; margin: 0; font-size: 12px; }}
.lw-root .lw-fact {{ white-space: nowrap; max-width: 100%; overflow: hidden; text-overflow: ellipsis; }}
.lw-root .lw-fact .lw-k {{ color: {MUTED}; }}
.lw-root .lw-fact .lw-v {{ font-weight: 500; }}

.lw-root .lw-badge {{ display: inline-block; padding: 0 9px; border-radius: 999px; font-size: 11.5px;
  font-weight: 600; border: 1px solid {BORDERS['grey']}; background: {tint('grey')}; color: {INK}; }}
""" + _badge("lw-badge-cold", "cold") + _badge("lw-badge-warm", "warm") + _badge("lw-status-succeeded", "ok") + \
    _badge("lw-badge-live", "ok") + "".join(_badge(f"lw-status-{s}", "err") for s in (
        "failed", "timed-out", "crashed", "throttled", "cancelled", "out-of-memory", "dropped")) + \
    _badge("lw-status-running", "current") + _badge("lw-status-queued", "current") + f"""
.lw-root .lw-caption {{ font-weight: 600; margin: 2px 0 6px 0; }}
.lw-root .lw-caption .lw-step-no {{ display: inline-block; min-width: 22px; text-align: center;
  background: {PALETTE['flow_taken']}; color: #ffffff; border-radius: 4px; padding: 0 6px; margin-right: 2px; }}
.lw-root .lw-late {{ font-weight: 600; color: {INK}; background: {tint('current', 0.25)}; border-radius: 4px;
  padding: 0 4px; }}
.lw-root small.lw-late {{ font-size: 11px; }}
.lw-root svg.lw-flow {{ width: 100%; max-width: 990px; height: auto; display: block; }}
.lw-root svg.lw-flow text {{ font-family: inherit; }}
.lw-root svg.lw-flow .lw-flow-bg {{ fill: transparent; }}
.lw-root svg.lw-flow .lw-flow-node rect {{ fill: {PAPER}; stroke: {LINE_STRONG}; }}
.lw-root svg.lw-flow .lw-flow-node text {{ fill: {MUTED}; }}
.lw-root svg.lw-flow .lw-flow-node.lw-flow-taken rect {{ fill: {tint('cold', 0.16)}; stroke: {BORDERS['cold']}; }}
.lw-root svg.lw-flow .lw-flow-node.lw-flow-taken text {{ fill: {INK}; }}
.lw-root svg.lw-flow .lw-flow-node.lw-flow-taken.lw-flow-error rect {{ fill: {tint('err', 0.16)};
  stroke: {BORDERS['err']}; }}
.lw-root svg.lw-flow .lw-flow-node.lw-flow-current rect {{ fill: {PALETTE['flow_taken']}; stroke: {INK}; }}
.lw-root svg.lw-flow .lw-flow-node.lw-flow-current.lw-flow-error rect {{ fill: {PALETTE['err']}; }}
.lw-root svg.lw-flow .lw-flow-node.lw-flow-current text {{ fill: #ffffff; }}
.lw-root svg.lw-flow .lw-flow-edge {{ stroke: {MUTED}; }}
.lw-root svg.lw-flow .lw-flow-edge.lw-flow-taken {{ stroke: {BORDERS['cold']}; }}
.lw-root svg.lw-flow .lw-flow-label {{ fill: {MUTED}; }}
.lw-root .lw-flow-path {{ font-size: 12px; color: {MUTED}; margin-top: 2px; }}
.lw-root .lw-pair {{ display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; max-width: 100%; }}
.lw-root .lw-pair > .lw-sec {{ flex: 1 1 360px; min-width: 0; }}
.lw-root .lw-pair > .lw-sec.lw-narrow {{ flex: 1 1 300px; max-width: 100%; }}
.lw-root .lw-pair > .lw-sec.lw-steps {{ flex: 1 1 540px; }}

.lw-root table.lw-step-table td:first-child {{ text-align: right; color: {MUTED}; }}
.lw-root table.lw-step-table td.lw-exec {{ font-family: {CODE_FONT}; font-size: 12px; white-space: pre-wrap;
  overflow-wrap: anywhere; min-width: 12ch; max-width: 44ch; }}
.lw-root table.lw-step-table td.lw-out {{ white-space: pre-wrap; overflow-wrap: anywhere; font-family: {CODE_FONT};
  font-size: 12px; max-width: 30ch; }}
.lw-root tr.lw-current td {{ background: {tint("current", 0.18)}; color: {INK}; }}
.lw-root tr.lw-current td:first-child {{ box-shadow: inset 3px 0 0 {BORDERS['current']}; color: {INK};
  font-weight: 700; }}
.lw-root tr.lw-kind-error td:nth-child(2), .lw-root tr.lw-kind-stop td:nth-child(2),
.lw-root tr.lw-kind-throttle td:nth-child(2) {{ box-shadow: inset 3px 0 0 {BORDERS['err']}; font-weight: 600; }}
.lw-root tr.lw-kind-end td {{ color: {MUTED}; }}
.lw-root tr.lw-kind-end.lw-current td {{ color: {INK}; }}

.lw-root table.lw-tracker td, .lw-root table.lw-tracker th {{ text-align: center; min-width: 28px;
  max-width: 160px; overflow-wrap: anywhere; }}
.lw-root table.lw-tracker td {{ font-family: {CODE_FONT}; font-size: 11.5px; white-space: nowrap; }}
.lw-root table.lw-tracker td.lw-long {{ white-space: normal; }}
.lw-root table.lw-tracker td.lw-var {{ text-align: left; font-weight: 600; white-space: nowrap;
  position: sticky; left: 0; background: {PAPER}; z-index: 1; }}
.lw-root table.lw-tracker td.lw-undef {{ color: {MUTED}; font-style: italic; }}
.lw-root table.lw-tracker td.lw-changed {{ font-weight: 700; }}
.lw-root table.lw-tracker .lw-current {{ background: {tint('current', 0.18)}; }}
.lw-root table.lw-tracker td.lw-current {{ color: {INK}; }}
.lw-root table.lw-tracker tr.lw-frame th {{ text-align: left; font-weight: 600; padding-top: 6px; }}
.lw-root table.lw-tracker .lw-frame-label {{ position: sticky; left: 8px; max-width: 720px;
  white-space: normal; }}
.lw-root table.lw-tracker th.lw-current {{ box-shadow: inset 0 -2px 0 {BORDERS['current']}; }}

.lw-root .lw-code {{ font-family: {CODE_FONT}; font-size: 12px;
  background: var(--jp-cell-editor-background, {PALETTE['soft']}); border: 1px solid {LINE};
  border-radius: 6px; padding: 6px 0; overflow-x: auto; color: {INK}; }}
.lw-root .lw-code .lw-line {{ white-space: pre-wrap; overflow-wrap: anywhere; padding: 0 10px 0 44px;
  text-indent: -44px; line-height: 1.55; }}
.lw-root .lw-code .lw-ln {{ display: inline-block; width: 34px; margin-right: 10px; text-align: right;
  text-indent: 0; color: {INK}; font-weight: 400; user-select: none; }}
.lw-root .lw-code .lw-ran .lw-ln {{ font-weight: 700; text-decoration: underline; }}
.lw-root .lw-code .lw-line.lw-current {{ background: {tint('current', 0.18)};
  box-shadow: inset 3px 0 0 {BORDERS['current']}; }}

.lw-root .lw-logs {{ font-family: {CODE_FONT}; font-size: 11.5px;
  background: #0d1117; color: #e6edf3; border-radius: 6px; padding: 8px 10px; max-height: 260px;
  overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; tab-size: 4; margin: 0; }}
.lw-root .lw-logs .lw-log-platform {{ color: #9ea7b3; }}
.lw-root .lw-logs .lw-log-error {{ color: #ff9492; }}
.lw-root .lw-result {{ border-radius: 6px; padding: 6px 10px; border: 1px solid {BORDERS['ok']};
  border-left-width: 4px; background: {tint('ok', 0.10)}; color: {INK}; overflow-wrap: anywhere; }}
.lw-root .lw-result pre {{ margin: 2px 0 0 0; white-space: pre-wrap; overflow-wrap: anywhere;
  font-family: {CODE_FONT}; font-size: 12px; color: {INK}; background: transparent; max-height: 320px;
  overflow: auto; }}
.lw-root .lw-result.lw-error {{ border-color: {BORDERS['err']}; background: {tint('err', 0.10)}; }}
.lw-root .lw-key-moments ul {{ margin: 0; padding-left: 20px; }}
.lw-root .lw-key-moments li {{ margin: 2px 0; }}

.lw-root .lw-pool-head {{ margin-bottom: 6px; }}
.lw-root .lw-cards {{ display: flex; flex-wrap: wrap; gap: 0; margin-bottom: 0; }}
.lw-root .lw-pool-card {{ border-color: {LINE} !important; border-left-width: 4px; border-radius: 6px;
  min-width: 170px; max-width: 100%; font-size: 12px; background: {PAPER}; color: {INK}; }}
.lw-root .lw-pool-card .lw-card-id {{ font-weight: 600; font-size: 13px; display: flex; gap: 8px;
  justify-content: space-between; }}
.lw-root .lw-state {{ color: {INK}; border-radius: 4px; padding: 0 6px; font-size: 11.5px; font-weight: 600; }}
""" + "".join(
    f".lw-root .lw-pool-card.lw-state-{state} {{ border-left-color: {b} !important; }}\n"
    f".lw-root .lw-state-{state} .lw-state {{ background: {tint(kind, 0.2)}; }}\n"
    for state, (_ink, _bg, b), kind in zip(STATE_COLOURS, STATE_COLOURS.values(),
                                           ("init", "warm", "ok", "grey"), strict=True)) + f"""
.lw-root .lw-pool-card.lw-state-terminated {{ color: {MUTED}; border-style: dashed; border-left-style: solid; }}
.lw-root svg.lw-timeline {{ width: 100%; height: auto; display: block; }}
.lw-root svg.lw-timeline text {{ font-family: inherit; fill: {INK}; }}
.lw-root svg.lw-timeline text.lw-tl-axis {{ fill: {MUTED}; }}
.lw-root svg.lw-timeline text.lw-tl-reset {{ fill: {BORDERS['err']}; }}
.lw-root svg.lw-timeline .lw-tl-stripe {{ fill: {tint('grey', 0.08)}; }}
.lw-root svg.lw-timeline .lw-tl-axis-line, .lw-root svg.lw-timeline .lw-tl-break {{ stroke: {LINE_STRONG}; }}
.lw-root svg.lw-timeline .lw-tl-gap {{ fill: {PAPER}; }}
.lw-root svg.lw-timeline .lw-tl-breakmark {{ stroke: {MUTED}; }}
.lw-root .lw-legend {{ font-size: 11.5px; color: {MUTED}; display: flex; gap: 14px; flex-wrap: wrap; }}
.lw-root .lw-legend .lw-tl-reset-key {{ color: {INK}; }}
.lw-root .lw-legend i {{ display: inline-block; width: 12px; height: 9px; border-radius: 2px;
  margin-right: 4px; vertical-align: middle; }}

.lw-root.lw-function-card, .lw-root .lw-function-card {{ border: 1px solid {LINE}; border-radius: 8px;
  padding: 8px 12px; }}
.lw-root .lw-function-card .lw-title {{ margin-bottom: 6px; }}
.lw-root table.lw-history td.lw-num {{ text-align: right; color: {MUTED}; }}
.lw-root .lw-progress {{ font-weight: 600; }}
.lw-root .lw-stepper {{ align-items: center; max-width: 100%; }}
.lw-root .lw-stepper .widget-slider {{ max-width: 100%; min-width: 0; }}
.lw-root .widget-button, .lw-root .jupyter-button {{ color: var(--jp-ui-font-color1, {PALETTE['ink']});
  background-color: var(--jp-layout-color2, #eeeeee); }}
"""


def style_tag() -> str:
    """The ``<style>`` block, once per view root."""
    return f"<style>{CSS}</style>"
