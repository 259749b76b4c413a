"""Browser tests: JupyterLab 4 / Notebook 7 in the system's headless Chromium, offline.

Setup: `bash .ci/ui-setup.sh` (Chromium from apt, playwright from pip; never `playwright install`).
Run:   `python -m pytest tests/ui -m ui`. Screenshots and server logs go to tests/ui/artifacts/
(or $UI_ARTIFACTS_DIR; `.ci/run` keeps them in .ci/artifacts/ui): every lesson in the light and the
dark theme in lessons/. Set $UI_CHROMIUM to use another Chromium binary.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from .uiharness import JupyterServer, NotebookPage, jupyter_server

CHROMIUM = os.environ.get("UI_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("UI_ARTIFACTS_DIR") or Path(__file__).parent / "artifacts")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--disable-extensions", "--mute-audio"]
# Everything that is not the local server is aborted and recorded: no CDN, news feed or telemetry.
NOT_LOCAL = re.compile(r"^(https?|wss?)://(?!127\.0\.0\.1[:/])")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ui: browser test (JupyterLab/Notebook 7 in headless Chromium)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("ui") and not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"browser test needs Chromium at {CHROMIUM}: run `bash .ci/ui-setup.sh` "
                    "(apt-get install chromium) or set UI_CHROMIUM")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    setattr(item, f"rep_{report.when}", report)  # the page fixture screenshots failed tests
    return report


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# Module scope, not session: while Playwright's sync API is alive its event loop counts as
# "running" in this thread, which would break asyncio users (nbclient, ...) in later test modules.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _server(kind: str, tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[JupyterServer]:
    home = tmp_path_factory.mktemp(f"{kind}-home")
    root = tmp_path_factory.mktemp(f"{kind}-root")
    try:
        with jupyter_server(kind, home, root) as server:
            yield server
    finally:
        for log in home.glob("*.log"):
            shutil.copy(log, artifacts / log.name)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[JupyterServer]:
    """A JupyterLab 4 server (no auth, offline settings) over an empty temporary root."""
    yield from _server("lab", tmp_path_factory, artifacts_dir)


@pytest.fixture(scope="session")
def notebook7_server(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[JupyterServer]:
    """A Notebook 7 server (no auth, offline settings) over an empty temporary root."""
    yield from _server("notebook7", tmp_path_factory, artifacts_dir)


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context and page; non-local requests are aborted (see `page.blocked`)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    blocked: list[str] = []

    def _abort(route) -> None:
        blocked.append(route.request.url)
        route.abort()

    context.route(NOT_LOCAL, _abort)
    page = context.new_page()
    page.blocked = blocked  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()


def _notebook_page(page: Page, server: JupyterServer, request: pytest.FixtureRequest,
                   artifacts: Path) -> Iterator[NotebookPage]:
    name = re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")
    nb = NotebookPage(page, server, artifacts, name)
    nb.blocked_requests = page.blocked  # type: ignore[attr-defined]
    try:
        yield nb
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            page.screenshot(path=str(artifacts / f"{name}-FAILED.png"))
            (artifacts / f"{name}-console.txt").write_text("\n".join(nb.console_errors))
        if nb.path:
            # Best effort: the server's teardown stops any kernel that is left.
            with contextlib.suppress(PlaywrightError):
                nb.shutdown_kernels()


@pytest.fixture
def lab(page: Page, lab_server: JupyterServer, request: pytest.FixtureRequest,
        artifacts_dir: Path) -> Iterator[NotebookPage]:
    """A NotebookPage on the JupyterLab server; put notebooks into `lab.server.root`, then `open`."""
    yield from _notebook_page(page, lab_server, request, artifacts_dir)


@pytest.fixture
def notebook7(page: Page, notebook7_server: JupyterServer, request: pytest.FixtureRequest,
              artifacts_dir: Path) -> Iterator[NotebookPage]:
    """A NotebookPage on the Notebook 7 server; put notebooks into `notebook7.server.root`, then `open`."""
    yield from _notebook_page(page, notebook7_server, request, artifacts_dir)
