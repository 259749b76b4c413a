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
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from .uiharness import JupyterServer, NotebookPage, copy_lessons, jupyter_server
from .uiharness.notebooks import LESSONS

CHROMIUM = os.environ.get("UI_CHROMIUM", "/usr/bin/chromium")
LESSON_NAMES = sorted(p.name for p in LESSONS.glob("[0-9][0-9]_*.ipynb"))
# Lessons run two at a time: their kernels mostly sleep, but lesson 05's memory watchdog samples
# every 20 ms, and six kernels on a 2-CPU machine starve it.
LESSONS_AT_ONCE = 2
LESSON_TIMEOUT = 420  # seconds for one lesson's Run All (lesson 11 had 480 s in a test of its own)
# Started first, so that the last lesson to start is a short one (numbers of the slowest Run Alls).
LONGEST_LESSONS = ("11", "05", "06", "10")
ARTIFACTS = Path(os.environ.get("UI_ARTIFACTS_DIR") or Path(__file__).parent / "artifacts")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--disable-extensions", "--mute-audio"]
# Everything that is not the local server is aborted and recorded: no CDN, news feed or telemetry.
NOT_LOCAL = re.compile(r"^(https?|wss?)://(?!127\.0\.0\.1[:/])")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ui: browser test (JupyterLab/Notebook 7 in headless Chromium)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The test that runs every lesson (the session's `lessons` fixture) goes first among those that
    use it, so that run counts against its own timeout, not another test's."""
    first = [i for i in items if i.originalname == "test_every_lesson_runs_in_jupyterlab"]
    users = [i for i in items if "lessons" in getattr(i, "fixturenames", ())]
    if first and users and users[0] is not first[0]:
        items.remove(first[0])
        items.insert(items.index(users[0]), first[0])


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


# Session scope, so that every lesson runs once in the browser (`lessons`) for all the modules that
# look at it. While Playwright's sync API is alive its event loop counts as "running" in this thread,
# so no browser test may use asyncio itself (nbclient, ...): run notebooks in the browser, or in a
# subprocess (nbconvert). tests/ui runs after every other test module, in a pytest of its own on CI.
@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _server(kind: str, tmp_path_factory: pytest.TempPathFactory, artifacts: Path,
            label: str | None = None) -> Iterator[JupyterServer]:
    label = label or kind
    home = tmp_path_factory.mktemp(f"{label}-home")
    root = tmp_path_factory.mktemp(f"{label}-root")
    try:
        with jupyter_server(kind, home, root) as server:
            yield server
    finally:
        for log in home.glob("*.log"):
            shutil.copy(log, artifacts / f"{label}-{log.name}" if label != kind else artifacts / log.name)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[JupyterServer]:
    """A JupyterLab 4 server (no auth, offline settings) over an empty temporary root."""
    yield from _server("lab", tmp_path_factory, artifacts_dir)


@pytest.fixture(scope="session")
def notebook7_server(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[JupyterServer]:
    """A Notebook 7 server (no auth, offline settings) over an empty temporary root."""
    yield from _server("notebook7", tmp_path_factory, artifacts_dir)


def _block_non_local(context: BrowserContext) -> list[str]:
    """Abort every request of ``context`` that is not for the local server; returns the list they go in."""
    blocked: list[str] = []

    def _abort(route) -> None:
        blocked.append(route.request.url)
        route.abort()

    context.route(NOT_LOCAL, _abort)
    return blocked


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context and page; non-local requests are aborted (see `page.blocked`)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    blocked = _block_non_local(context)
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
        # Best effort: the server's teardown stops any kernel that is left. Only this page's own
        # kernels: the session's lesson pages share the server.
        with contextlib.suppress(OSError):
            nb.shutdown_own_kernels()


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


class LessonPages(dict):
    """The `lessons` fixture's pages by lesson file name; a lesson whose Run All failed fails the
    tests that look at it (with the reason), and only those."""

    def __init__(self, pages: dict[str, NotebookPage], failed: dict[str, str]) -> None:
        super().__init__(pages)
        self.failed = failed

    def __getitem__(self, name: str) -> NotebookPage:
        if name in self.failed:
            pytest.fail(f"{name} did not run to the end in JupyterLab: {self.failed[name]}")
        return super().__getitem__(name)


@pytest.fixture(scope="session")
def lessons(browser: Browser, lab_server: JupyterServer, artifacts_dir: Path) -> Iterator[dict[str, NotebookPage]]:
    """Every lesson (by file name), run to the end with Run All in its own JupyterLab page (1,000 px wide):
    the suite's one browser run of each lesson, shared by every test that looks at one.

    The lessons run on the `lab` server, in `notebooks/`, LESSONS_AT_ONCE at a time: the next starts
    when one ends (the longest first). Other tests on that server stop only their own kernels and
    never open `notebooks/` there. A test that changes a page (a stepper moved, a theme set) puts it
    back as it found it: steppers on their last step, the light theme."""
    copy_lessons(lab_server.root)
    context = browser.new_context(viewport={"width": 1000, "height": 1000})
    context.set_default_timeout(30_000)
    blocked = _block_non_local(context)
    pages: dict[str, NotebookPage] = {}
    failed: dict[str, str] = {}
    waiting = sorted(LESSON_NAMES, key=lambda n: (n[:2] not in LONGEST_LESSONS, n))
    running: dict[str, float] = {}  # lesson -> when its Run All must have ended

    def settle(name: str, nb: NotebookPage) -> None:
        try:
            nb.wait_ran(timeout=5_000)
            nb.wait_widgets()
        except (AssertionError, PlaywrightError) as exc:  # that lesson's tests fail, not all
            failed[name] = str(exc)

    try:
        while waiting or running:
            while waiting and len(running) < LESSONS_AT_ONCE:
                name = waiting.pop(0)
                nb = NotebookPage(context.new_page(), lab_server, artifacts_dir, f"lesson-{name[:2]}")
                nb.blocked_requests = blocked  # the context's: any lesson's page may add to it
                pages[name] = nb
                try:
                    nb.open(f"notebooks/{name}")
                    nb.start_run_all()
                except (AssertionError, PlaywrightError) as exc:
                    failed[name] = str(exc)
                    continue
                running[name] = time.monotonic() + LESSON_TIMEOUT
            for name, deadline in list(running.items()):
                nb = pages[name]
                try:
                    ended = nb.ran()
                except PlaywrightError as exc:
                    failed[name], ended = str(exc), None
                if ended is None or ended or time.monotonic() > deadline:
                    del running[name]
                    if ended is not None:
                        settle(name, nb)
            if running:
                pages[next(iter(running))].page.wait_for_timeout(250)
        yield LessonPages(pages, failed)
    finally:
        with contextlib.suppress(OSError):
            lab_server.shutdown_sessions({nb.path for nb in pages.values()})
        context.close()
