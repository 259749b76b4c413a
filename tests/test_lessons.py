"""The lessons in ``notebooks/``: each runs top to bottom in a fresh kernel of this environment.

A lesson's assert cells check what it teaches, so running it is the test. Cells marked
``# NBVAL_CHECK_OUTPUT`` must print what the stored notebook shows (what
``pytest --nbval-lax notebooks/`` compares), and the stored notebooks must be executed,
error-free and free of machine-specific text.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
EXPECTED = ["01_execution_model", "02_cold_and_warm", "03_idle_time", "04_concurrency",
            "05_failures", "06_cost", "07_traffic", "08_keep_alive", "09_your_own_function",
            "10_versions_snapstart", "11_queues"]
CHECK = "# NBVAL_CHECK_OUTPUT"
KERNEL = "lambda-widget-lesson"
# What must never appear in a stored output: machine paths, request ids, memory addresses.
UNSTABLE = re.compile(r"/tmp/|/work/|/home/|[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-|\bat 0x[0-9a-f]+")


def write_kernelspec(root: Path, python: str, name: str = KERNEL) -> Path:
    """A kernelspec named ``name`` that starts ``python -m ipykernel_launcher``; returns its data dir."""
    spec = root / "kernels" / name
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"lambda_widget lessons ({name})",
        "language": "python",
    }))
    return root


def execute(path: Path, kernel_name: str, cwd: Path) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel; nbclient raises ``CellExecutionError`` on the first error."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name=kernel_name, timeout=120, startup_timeout=120,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def checked_text(cell: nbformat.NotebookNode) -> list[str]:
    """The text a checked cell shows: streams and ``text/plain`` results, in order.

    Consecutive writes to one stream are joined, as the notebook shows them: the kernel
    flushes a stream in as many messages as timing makes it.
    """
    out: list[str] = []
    last_stream = None
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            if last_stream == output.name:
                out[-1] += output.text
            else:
                out.append(f"{output.name}: {output.text}")
            last_stream = output.name
            continue
        last_stream = None
        if output.output_type in ("execute_result", "display_data"):
            out.append(str(output.get("data", {}).get("text/plain", "")))
    return out


def checked_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code" and CHECK in c.source]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory, monkeypatch_module) -> str:
    data = write_kernelspec(tmp_path_factory.mktemp("jupyter"), sys.executable)
    monkeypatch_module.setenv("JUPYTER_PATH", str(data))
    return KERNEL


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_the_lessons_exist():
    assert [p.stem for p in LESSONS] == EXPECTED


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_stored_lesson_is_complete(path: Path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), "store the lesson executed (outputs included)"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"], "a stored cell failed"
    assert sum(c.source.lstrip().startswith("# ASSERT") for c in code) >= 2, "a lesson checks what it teaches"
    assert any("quiz" in c.source.lower() for c in code[-3:]), "a lesson ends with a quiz"
    assert checked_cells(nb), "a lesson has deterministic outputs that nbval compares"
    for cell in checked_cells(nb):
        for text in checked_text(cell):
            assert not UNSTABLE.search(text), f"unstable text in a checked output: {text!r}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs_and_prints_what_it_stores(path: Path, kernel: str):
    stored = nbformat.read(path, as_version=4)
    fresh = execute(path, kernel, NOTEBOOKS)
    assert [checked_text(c) for c in checked_cells(fresh)] == \
        [checked_text(c) for c in checked_cells(stored)]
