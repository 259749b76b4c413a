"""Binder, minus Docker: build the lessons' environment the way repo2docker does, then run the lessons
there under nbval. This is the suite's one nbval run of the lessons (the browser tests run each once more).

repo2docker copies the repository, creates a virtualenv with the Python of ``binder/runtime.txt`` and
runs ``pip install -r binder/requirements.txt`` from the repository root. This test does the same in a
temporary directory (pip uses the machine's own index configuration). Then, for each lesson, nbval
(from this environment) runs it top to bottom in a kernel of that virtualenv, as Binder runs it: as a
normal user, so in the portable isolation mode (``LAMBDA_WIDGET_ISOLATION=process``; the browser tests
run the lessons in the default mode). A lesson's assert cells check what it teaches, and cells marked
``# NBVAL_CHECK_OUTPUT`` must print what the stored notebook shows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
KERNEL = "binder"
# Not part of a clone that repo2docker would see.
NOT_IN_A_CLONE = shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "*.egg-info",
                                        "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules",
                                        ".ipynb_checkpoints", "artifacts")


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


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-6000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory) -> tuple[Path, Path]:
    """(copy of the repository, virtualenv python) built as repo2docker would build it."""
    base = tmp_path_factory.mktemp("binder")
    repo = base / "repo"
    shutil.copytree(ROOT, repo, ignore=NOT_IN_A_CLONE)
    run([pinned_python(), "-m", "venv", str(base / "venv")], cwd=base)
    python = base / "venv" / "bin" / "python"
    # --no-compile: the same packages, without byte-compiling every module of them up front (about a
    # fifth of the install's CPU time: 10 of 47 CPU-s); the lessons' kernels compile what they import.
    run([str(python), "-m", "pip", "install", "--no-compile", "--disable-pip-version-check", "-r",
         "binder/requirements.txt"], cwd=repo, timeout=900)
    return repo, python


@pytest.fixture(scope="module")
def binder_kernel(binder_env, tmp_path_factory) -> dict[str, str]:
    """The environment in which nbval finds (and starts) a kernel of the Binder virtualenv, as Binder runs it."""
    _repo, python = binder_env
    data = tmp_path_factory.mktemp("jupyter")
    spec = data / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Binder venv", "language": "python"}))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JUPYTER_PATH")}
    env.update(JUPYTER_PATH=str(data), VIRTUAL_ENV=str(python.parent.parent),
               PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}",
               LAMBDA_WIDGET_ISOLATION="process")  # Binder runs as a normal user
    return env


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


def test_there_are_lessons():
    assert LESSONS, "no lessons in notebooks/"


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs_in_binder_and_prints_what_it_stores(lesson: Path, binder_env, binder_kernel):
    """nbval (lax: only the checked cells compare their output) in a kernel of the Binder virtualenv."""
    repo, _python = binder_env
    out = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
               "--nbval-lax", f"--nbval-kernel-name={KERNEL}", "--nbval-cell-timeout=300",
               f"notebooks/{lesson.name}"], cwd=repo, env=binder_kernel, timeout=1100)
    assert " passed" in out and " failed" not in out, out[-4000:]
