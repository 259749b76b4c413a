"""The lessons in ``notebooks/`` as they are stored: executed, error-free, with assert cells, a quiz,
and checked cells free of machine-specific text.

Running them is done once per suite under nbval, in the Binder environment (``tests/test_binder.py``:
its assert cells check what it teaches, and cells marked ``# NBVAL_CHECK_OUTPUT`` must print what the
stored notebook shows), and once in JupyterLab (``tests/ui/``). ``pytest notebooks/NN_name.ipynb``
runs one under nbval in this environment.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
EXPECTED = ["01_execution_model", "02_cold_and_warm", "03_idle_time", "04_concurrency",
            "05_failures", "06_cost", "07_traffic", "08_keep_alive", "09_your_own_function",
            "10_versions_snapstart", "11_queues"]
CHECK = "# NBVAL_CHECK_OUTPUT"
# What must never appear in a stored output: machine paths, request ids, memory addresses.
UNSTABLE = re.compile(r"/tmp/|/work/|/home/|[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-|\bat 0x[0-9a-f]+")


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
