"""Binder, minus Docker: build the lessons' environment the way repo2docker does, then run them.

repo2docker copies the repository, creates a virtualenv with the Python of
``binder/runtime.txt`` and runs ``pip install -r binder/requirements.txt`` from the
repository root. This test does the same in a temporary directory (pip uses the machine's
own index configuration) and executes every lesson with a kernel from that virtualenv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# Not part of a clone that repo2docker would see.
NOT_IN_A_CLONE = shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "*.egg-info",
                                        "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules",
                                        ".ipynb_checkpoints")


def pinned_python() -> str:
    """An interpreter of the version ``binder/runtime.txt`` pins (``python-3.11`` -> 3.11)."""
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert runtime.startswith("python-3."), f"runtime.txt must pin a Python 3 version, not {runtime!r}"
    version = runtime.removeprefix("python-")
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    found = shutil.which(f"python{version}")
    if found is None:
        pytest.skip(f"binder/runtime.txt pins Python {version}, which is not installed here")
    return found


def run(cmd: list[str], cwd: Path) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory) -> tuple[Path, Path]:
    """(copy of the repository, virtualenv python) built as repo2docker would build it."""
    base = tmp_path_factory.mktemp("binder")
    repo = base / "repo"
    shutil.copytree(ROOT, repo, ignore=NOT_IN_A_CLONE)
    run([pinned_python(), "-m", "venv", str(base / "venv")], cwd=base)
    python = base / "venv" / "bin" / "python"
    run([str(python), "-m", "pip", "install", "-r", "binder/requirements.txt"], cwd=repo)
    return repo, python


@pytest.mark.timeout(1200)
def test_binder_requirements_install_the_package_and_the_widget_extension(binder_env):
    repo, python = binder_env
    venv = python.parent.parent
    where = run([str(python), "-c", "import lambda_widget, ipywidgets, ipykernel; "
                 "print(lambda_widget.__file__)"], cwd=venv)
    # Installed into the environment, not imported from the checkout next to it.
    assert Path(where.strip()).is_relative_to(venv), where
    # ipywidgets 8 ships the JupyterLab 4 / Notebook 7 widget manager as a prebuilt extension.
    assert (venv / "share" / "jupyter" / "labextensions" / "@jupyter-widgets" / "jupyterlab-manager"
            / "package.json").is_file()


@pytest.mark.timeout(1200)
def test_every_lesson_runs_in_the_binder_environment(binder_env, tmp_path, monkeypatch):
    repo, python = binder_env
    spec = tmp_path / "kernels" / "binder"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Binder venv", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    # The kernel must not see the test environment's packages.
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setenv("VIRTUAL_ENV", str(python.parent.parent))
    monkeypatch.setenv("PATH", f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    assert LESSONS, "no lessons found"
    for lesson in LESSONS:
        path = repo / "notebooks" / lesson.name
        nb = nbformat.read(path, as_version=4)
        # Raises CellExecutionError, naming the cell, on the first cell that fails.
        NotebookClient(nb, kernel_name="binder", timeout=120, startup_timeout=120,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                  if o.output_type == "error"]
        assert not errors, f"{lesson.name}: {errors}"
