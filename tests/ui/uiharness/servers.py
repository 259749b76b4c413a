"""Start and stop an isolated, offline JupyterLab 4 or Notebook 7 server for browser tests."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

# Frontend settings written into the isolated JUPYTERLAB_SETTINGS_DIR (read by Lab and Notebook 7).
FRONTEND_SETTINGS: dict[str, dict] = {
    # No "Would you like to get notified about official Jupyter news?" toast, no update check.
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # Every cell stays in the DOM, so cells below the fold are rendered and can be located.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    # The copies in the temporary root are never written back.
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}

# Server-side config shared by both apps: no auth, no port hopping, nothing fetched from the internet.
SERVER_CONFIG: dict[str, dict] = {
    "ServerApp": {"ip": "127.0.0.1", "open_browser": False, "port_retries": 0, "allow_root": True,
                  # the harness's own REST calls (shutdown_sessions) carry no XSRF cookie
                  "disable_check_xsrf": True},
    "IdentityProvider": {"token": ""},
    "LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
               "extension_manager": "readonly", "expose_app_in_browser": True},
    "JupyterNotebookApp": {"expose_app_in_browser": True},
}

PR_SET_PDEATHSIG = 1
APP_MODULES = {"lab": "jupyterlab", "notebook7": "notebook"}


@dataclass
class JupyterServer:
    """A running server: its base URL, the notebook root directory and its log file."""

    kind: str  # "lab" | "notebook7"
    url: str
    root: Path
    log: Path
    pid: int

    def notebook_url(self, path: str, workspace: str | None = None) -> str:
        """URL that opens `path` (relative to root); Lab gets its own workspace per test."""
        if self.kind == "lab":
            ws = workspace or "default"
            return f"{self.url}/lab/workspaces/{ws}/tree/{path}"
        return f"{self.url}/notebooks/{path}"

    def shutdown_sessions(self, paths: set[str], timeout: float = 15) -> None:
        """Shut down the sessions (and their kernels) of these notebook paths, and no other: tests
        that share the server (the session's lesson pages) keep theirs."""
        with urllib.request.urlopen(f"{self.url}/api/sessions", timeout=timeout) as response:
            sessions = json.load(response)
        for session in sessions:
            if session.get("path") in paths:
                request = urllib.request.Request(f"{self.url}/api/sessions/{session['id']}", method="DELETE")
                with contextlib.suppress(urllib.error.HTTPError):  # already gone
                    urllib.request.urlopen(request, timeout=timeout).close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(home: Path) -> dict[str, str]:
    """Environment that keeps the user's Jupyter/IPython config, kernelspecs and settings out."""
    settings_dir = home / "lab-settings"
    for plugin, values in FRONTEND_SETTINGS.items():
        package, name = plugin.rsplit("/", 1)
        target = settings_dir / package / f"{name}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    config_dir = home / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(SERVER_CONFIG, indent=1))
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
        JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        JUPYTER_PLATFORM_DIRS="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def _term_with_parent() -> None:
    """In the child: get SIGTERM if pytest itself dies (even by SIGKILL), so no server outlives it."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_ready(proc: subprocess.Popen, port: int, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    status_url = f"http://127.0.0.1:{port}/api/status"
    while True:
        if proc.poll() is not None:
            text = log.read_text()
            error = PortTaken if f"The port {port} is already in use" in text else RuntimeError
            raise error(f"Jupyter server exited with {proc.returncode}:\n{text}")
        try:
            urllib.request.urlopen(status_url, timeout=5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Jupyter server not ready in {timeout}s:\n{log.read_text()}") from None
            time.sleep(0.25)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server (it shuts its kernels down), then kill whatever of its tree survived."""
    # Kernels run in their own session, so the process group would miss them: remember the tree.
    try:
        tree = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    alive = _wait_gone(tree, timeout=10)
    for p in alive:  # psutil checks the create time, so a recycled PID is never hit
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    _wait_gone(alive, timeout=10)


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait for these processes to end; those still running after `timeout`."""
    try:
        return psutil.wait_procs(procs, timeout=timeout)[1]
    except (psutil.Error, OSError):  # a process left /proc while psutil read it (seen with the kernels' sandboxes)
        alive = []
        for p in procs:
            with contextlib.suppress(psutil.Error, OSError):
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
        return alive


class PortTaken(RuntimeError):
    """The free port was taken by another process before the server could bind it."""


@contextlib.contextmanager
def jupyter_server(kind: str, home: Path, root: Path, timeout: float = 90) -> Iterator[JupyterServer]:
    """Run `python -m jupyterlab` (kind "lab") or `python -m notebook` ("notebook7") until exit.

    A port found free can be taken by another process before the server binds it (environments,
    other test runs): then the server starts again on another one."""
    log = home / f"{kind}-server.log"
    for attempt in range(5):
        port = free_port()
        cmd = [sys.executable, "-m", APP_MODULES[kind], f"--port={port}", f"--ServerApp.root_dir={root}"]
        with open(log, "w") as log_file:
            proc = subprocess.Popen(cmd, cwd=root, env=isolated_env(home), stdout=log_file,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    preexec_fn=_term_with_parent)
        try:
            try:
                _wait_ready(proc, port, log, timeout)
            except PortTaken:
                if attempt == 4:
                    raise
                continue
            yield JupyterServer(kind=kind, url=f"http://127.0.0.1:{port}", root=root, log=log, pid=proc.pid)
            return
        finally:
            _stop(proc)
