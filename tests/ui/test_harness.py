"""The harness itself, on plain ipywidgets in Lab and Notebook 7: render, and a click that runs a kernel callback."""

from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell
from playwright.sync_api import expect

from .uiharness import NotebookPage, write_notebook

pytestmark = pytest.mark.ui

CELLS = [
    "import ipywidgets as w",
    "slider = w.IntSlider(3, description='n')\n"
    "probe = w.HTML('<b>before</b>')\n"
    "button = w.Button(description='Change')\n"
    "button.add_class('probe-button')\n"
    "probe.add_class('probe-html')\n"
    "button.on_click(lambda _: setattr(probe, 'value', f'<b>clicked at n={slider.value}</b>'))\n"
    "w.VBox([slider, button, probe])",
]


@pytest.mark.parametrize("app", ["lab", "notebook7"])
def test_ipywidgets_render_and_callback(app: str, request: pytest.FixtureRequest) -> None:
    lab: NotebookPage = request.getfixturevalue(app)
    path = write_notebook(lab.server.root, "harness.ipynb", CELLS)
    lab.open(path)
    state = lab.run_all()
    assert state["executed"] == state["total"] == 2
    lab.wait_widgets()
    out = lab.outputs(1)
    expect(out.locator(".widget-slider")).to_be_visible()
    expect(out.locator(".widget-readout")).to_have_text("3")
    expect(out.locator(".probe-html")).to_have_text("before")
    lab.screenshot("rendered", out)

    out.locator(".probe-button").click()  # the kernel's on_click handler sets the HTML's value
    expect(out.locator(".probe-html")).to_have_text("clicked at n=3")
    lab.screenshot("clicked", out)
    assert lab.blocked_requests == []
    assert lab.unexpected_console_errors() == []


def test_failing_cell_is_reported(lab: NotebookPage) -> None:
    """run_all stops at a failing cell and names it; a cell tagged raises-exception may fail."""
    expected_failure = new_code_cell("1 / 0", metadata={"tags": ["raises-exception"]})
    path = write_notebook(lab.server.root, "failing.ipynb", ["x = 1", expected_failure, "1 / 0", "x"])
    lab.open(path)
    with pytest.raises(AssertionError, match=r"cells failed: \['cell 2: ZeroDivisionError"):
        lab.run_all(timeout=60_000)
    lab.screenshot("failed-cell", lab.cell(2))
