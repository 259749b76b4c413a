"""The traffic lab's charts in JupyterLab, light and dark: real SVG text whose colour follows the theme."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .uiharness import NotebookPage, write_notebook

pytestmark = pytest.mark.ui

CELLS = [
    "import lambda_widget as lw\nfrom lambda_widget import traffic",
    "lw.simulate(traffic.poisson(0.5), '6h', warm_ms=1972.6, cold_ms=2310.1, seed=1)",
    "lw.keep_alive_sweep(traffic.poisson(0.01), '1d', timeouts=[0, 60, 600, 3600], provisioned=[1],\n"
    "                    warm_ms=1972.6, cold_ms=2310.1)",
]
SIM, SWEEP = 1, 2

# The computed fill of the first axis label of a chart, and the page's --jp-ui-font-color1.
COLOURS_JS = """(svg) => {
    const text = svg.querySelector('text');
    const probe = document.createElement('span');
    probe.style.color = 'var(--jp-ui-font-color1)';
    document.body.appendChild(probe);
    const theme = getComputedStyle(probe).color;
    probe.remove();
    return {fill: getComputedStyle(text).fill, theme: theme};
}"""


def _theme(lab: NotebookPage, name: str) -> None:
    lab.page.evaluate(f"() => window.jupyterapp.commands.execute('apputils:change-theme', {{theme: '{name}'}})")
    lab.page.wait_for_function(f"() => document.body.dataset.jpThemeName === '{name}'", timeout=30_000)
    lab.page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=30_000)  # the switch's overlay


def test_traffic_charts_follow_the_theme(lab: NotebookPage) -> None:
    lab.open(write_notebook(lab.server.root, "traffic.ipynb", CELLS))
    lab.run_all()

    sim, sweep = lab.outputs(SIM), lab.outputs(SWEEP)
    expect(sim.locator(".lw-traffic svg")).to_have_count(2)
    expect(sim.locator(".lw-traffic svg").first).to_be_visible()
    expect(sim.locator("svg text", has_text="environments").first).to_be_attached()
    expect(sweep.locator(".lw-traffic-sweep svg")).to_have_count(1)
    expect(sweep.locator("table.lw-sweep tbody tr")).to_have_count(6)

    seen = {}
    for theme in ("JupyterLab Light", "JupyterLab Dark"):
        _theme(lab, theme)
        colours = sim.locator(".lw-traffic svg").first.evaluate(COLOURS_JS)
        assert colours["fill"] == colours["theme"], (theme, colours)
        seen[theme] = colours["fill"]
        lab.screenshot(theme.split()[-1].lower(), sim.first)
        lab.screenshot(f"sweep-{theme.split()[-1].lower()}", sweep.first)
    assert seen["JupyterLab Light"] != seen["JupyterLab Dark"]
    _theme(lab, "JupyterLab Light")

    assert lab.blocked_requests == []
    assert lab.unexpected_console_errors() == []
