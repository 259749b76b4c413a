"""Drive one notebook in JupyterLab 4 or Notebook 7 through Playwright (sync API)."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .servers import JupyterServer

NOT_RENDERED = re.compile(r"Loading widget|Error displaying widget")  # what the front end shows instead of a widget
# Console errors the Jupyter frontends raise by themselves (seen with a plain `1+1` notebook too).
KNOWN_CONSOLE_NOISE: dict[str, list[re.Pattern[str]]] = {
    # Notebook 7.6.5's keyboard-shortcuts settings plugin, on page load.
    "notebook7": [re.compile(r"^pageerror: Cannot read properties of undefined \(reading 'schema'\)$")],
}
# Any server: jupyter_server answers its kernel list (which the page polls) with a 500 when the poll
# falls while another kernel is starting (kernel_model reads the new kernel's last_activity before
# it is set). The lessons run side by side on one server, so a page sees this now and then.
SERVER_RACE_NOISE = [re.compile(r"^Failed to load resource: the server responded with a status of 500 .*"
                                r"\[https?://127\.0\.0\.1:\d+/api/kernels\?\d+\]$")]


def _console_text(message) -> str:
    """A console message, with the URL of a resource that failed to load (its text does not say)."""
    url = (message.location or {}).get("url", "")
    return f"{message.text} [{url}]" if message.text.startswith("Failed to load resource") and url else message.text

# True once `path` is the current notebook and its kernel is *connected* and idle. The toolbar's
# execution indicator reads "idle" before the kernel websocket opens; "Run All" then runs nothing.
KERNEL_READY_JS = """(path) => {
  const app = window.jupyterapp;
  const nb = app && app.shell.currentWidget;
  const k = nb && nb.sessionContext && nb.sessionContext.session && nb.sessionContext.session.kernel;
  return !!k && nb.context.path === path && k.connectionStatus === 'connected' && k.status === 'idle'
         && app.commands.hasCommand('notebook:run-all-cells');
}"""

# True once `path` is the current notebook and its content (with the stored outputs) is loaded.
DOCUMENT_READY_JS = """(path) => {
  const app = window.jupyterapp;
  const nb = app && app.shell.currentWidget;
  return !!nb && !!nb.context && nb.context.path === path && nb.context.isReady;
}"""

# The current notebook's kernel (if any) is connected, or there is none to wait for.
KERNEL_SETTLED_JS = """() => {
  const nb = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const ctx = nb && nb.sessionContext;
  if (!ctx) return true;
  if (!ctx.isReady) return false;
  const kernel = ctx.session && ctx.session.kernel;
  return !kernel || kernel.connectionStatus === 'connected';
}"""

# Execution state of the current notebook, read from its model (not from prompt text).
RUN_STATE_JS = """(path) => {
  const nb = window.jupyterapp.shell.currentWidget;
  if (!nb || !nb.context || nb.context.path !== path) return null;
  const kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;
  const state = {total: 0, executed: 0, errors: [], widgets: 0, kernel: kernel ? kernel.status : 'none'};
  const cells = nb.content.model.cells;
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code' || !c.sharedModel.getSource().trim()) continue;
    state.total++;
    if (c.executionCount !== null && c.executionCount !== undefined) state.executed++;
    const tags = c.getMetadata('tags') || [];
    for (let j = 0; j < c.outputs.length; j++) {
      const o = c.outputs.get(j).toJSON();
      if (o.output_type === 'error' && !tags.includes('raises-exception')) {
        state.errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
      }
      if (o.data && o.data['application/vnd.jupyter.widget-view+json']) state.widgets++;
    }
  }
  return state;
}"""

# True once Run All has ended in the current notebook `path`: every code cell ran, or one failed,
# and the kernel is idle.
RAN_JS = f"""(path) => {{ const s = ({RUN_STATE_JS})(path);
    return !!s && s.kernel === 'idle' && (s.errors.length > 0 || s.executed === s.total); }}"""

# Top-level cell outputs that hold a rendered widget view, not "Loading widget" or "Error displaying widget".
RENDERED_WIDGETS_JS = """() => {
  const nb = window.jupyterapp.shell.currentWidget;
  const outs = nb.content.node.querySelectorAll(
    '.jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output');
  return [...outs].filter(o => o.querySelector('.jupyter-widgets')
                               && !/Loading widget|Error displaying widget/.test(o.textContent)).length;
}"""


class NotebookPage:
    """One browser page showing one notebook on `server`; collects console errors and blocked URLs."""

    def __init__(self, page: Page, server: JupyterServer, artifacts: Path, name: str) -> None:
        self.page = page
        self.server = server
        self.artifacts = artifacts
        self.name = name  # prefix of screenshot files, and the Lab workspace
        self.path = ""
        self.opened: set[str] = set()  # every notebook this page opened (each has a session on the server)
        self.console_errors: list[str] = []
        self.blocked_requests: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(_console_text(m)))
        page.on("pageerror", lambda e: self.console_errors.append(f"pageerror: {e}"))

    # ------------------------------------------------------------------ open and run
    def open(self, path: str, timeout: float = 180_000, kernel: bool = True) -> NotebookPage:
        """Open `path` (relative to the server root) and wait for a connected, idle kernel
        (`kernel=False`: only for the notebook and its stored outputs)."""
        self.path = path
        self.opened.add(path)
        self.page.goto(self.server.notebook_url(path, workspace=self.name))
        self.page.wait_for_function(KERNEL_READY_JS if kernel else DOCUMENT_READY_JS, arg=path, timeout=timeout)
        if self.server.kind == "lab":  # more room for outputs (and screenshots) without the file browser
            self.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        return self

    def open_in_app(self, path: str, timeout: float = 180_000) -> NotebookPage:
        """Close what this JupyterLab page shows and open `path` in the same app, without loading the
        page again; for the notebook and its stored outputs, as `open(path, kernel=False)`."""
        self.path = path
        self.opened.add(path)
        # Closing a notebook whose kernel is still connecting races the server (a 500 on the kernel's
        # channels, which the page logs as a console error): let it connect first.
        with contextlib.suppress(PlaywrightTimeoutError):
            self.page.wait_for_function(KERNEL_SETTLED_JS, timeout=30_000)
        self.page.evaluate("""(path) => { const app = window.jupyterapp;
            app.shell.closeAll();
            app.commands.execute('docmanager:open', {path}); }""", path)
        self.page.wait_for_function(DOCUMENT_READY_JS, arg=path, timeout=timeout)
        return self

    def run_all(self, timeout: float = 120_000) -> dict:
        """Clear all outputs, Run All, and wait until every code cell ran and the kernel is idle.

        Raises AssertionError naming the cell if a cell (not tagged raises-exception) fails.
        """
        self.start_run_all()
        return self.wait_ran(timeout)

    def start_run_all(self) -> None:
        """Clear all outputs and start Run All (several notebooks can run at once in their pages)."""
        # Cleared execution counts make "every cell has a count" mean "ran in this kernel".
        # evaluate() has no timeout, so never await a command that needs the kernel in it.
        self.page.evaluate("""() => Promise.race([
            window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs'),
            new Promise(r => setTimeout(r, 10000))])""")
        self.page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")

    def wait_ran(self, timeout: float = 120_000) -> dict:
        """Wait until every code cell ran and the kernel is idle; AssertionError names a failed cell."""
        self.page.wait_for_function(RAN_JS, arg=self.path, timeout=timeout, polling=250)
        state = self.run_state()
        assert not state["errors"], f"{self.path}: cells failed: {state['errors']}"
        return state

    def ran(self) -> bool:
        """Whether Run All has ended: every code cell ran (or one failed) and the kernel is idle."""
        return self.page.evaluate(RAN_JS, self.path)

    def run_state(self) -> dict:
        """{total, executed, errors, widgets, kernel} of the current notebook, read from its model."""
        return self.page.evaluate(RUN_STATE_JS, self.path)

    def wait_widgets(self, timeout: float = 60_000) -> None:
        """Wait until every widget output in the notebook is rendered (none still "Loading widget")."""
        expected = self.run_state()["widgets"]
        try:
            self.page.wait_for_function(
                f"(n) => ({RENDERED_WIDGETS_JS})() >= n", arg=expected, timeout=timeout, polling=250)
        except PlaywrightTimeoutError:
            rendered = self.page.evaluate(RENDERED_WIDGETS_JS)
            texts = self.outputs().filter(has_not=self.page.locator(".jupyter-widgets")).all_inner_texts()
            raise AssertionError(f"{self.path}: {rendered} of {expected} widget outputs rendered; "
                                 f"other outputs: {[t[:200] for t in texts]}") from None
        expect(self.outputs().filter(has_text=NOT_RENDERED)).to_have_count(0)

    # ------------------------------------------------------------------ locate
    def cell_with(self, source_start: str) -> int:
        """Index of the first cell whose source starts with `source_start`."""
        index = self.page.evaluate("""([path, start]) => {
            const nb = window.jupyterapp.shell.currentWidget;
            const cells = nb.content.model.cells;
            for (let i = 0; i < cells.length; i++) {
              if (cells.get(i).sharedModel.getSource().startsWith(start)) return i;
            }
            return -1; }""", [self.path, source_start])
        assert index >= 0, f"{self.path}: no cell starts with {source_start!r}"
        return index

    def cells(self) -> Locator:
        """All cells of the notebook, in order."""
        return self.page.locator(".jp-Notebook .jp-Cell")

    def cell(self, index: int) -> Locator:
        """Cell number `index` (0-based, markdown cells included)."""
        return self.cells().nth(index)

    def outputs(self, index: int | None = None) -> Locator:
        """Output areas of one cell, or of the whole notebook."""
        scope = self.cell(index) if index is not None else self.page.locator(".jp-Notebook")
        return scope.locator(".jp-OutputArea-output")

    # ------------------------------------------------------------------ record
    def unexpected_console_errors(self) -> list[str]:
        """Browser console errors and uncaught page errors, minus the frontend's known noise."""
        noise = KNOWN_CONSOLE_NOISE.get(self.server.kind, []) + SERVER_RACE_NOISE
        return [e for e in self.console_errors if not any(p.search(e) for p in noise)]

    def screenshot(self, label: str, target: Locator | None = None) -> Path:
        """Save `<name>-<label>.png` in the artifacts dir: the viewport, scrolled to `target` if given."""
        path = self.artifacts / f"{self.name}-{label}.png"
        if target is not None:  # one atomic call: a live view may swap its nodes while Playwright waits
            target.evaluate("e => e.scrollIntoView({block: 'start'})")
        self.page.screenshot(path=str(path))
        return path

    def shutdown_own_kernels(self) -> None:
        """Shut down the kernels of the notebooks this page opened, and no other on the server."""
        if self.opened:
            self.server.shutdown_sessions(self.opened)

    def shutdown_kernels(self) -> None:
        """Shut down every kernel of this server (at most 15 s), so tests don't pile up kernels."""
        self.page.evaluate("""() => Promise.race([
            window.jupyterapp.serviceManager.sessions.shutdownAll(),
            new Promise(r => setTimeout(r, 15000))])""")
