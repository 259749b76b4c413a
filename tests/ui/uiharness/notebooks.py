"""Put notebooks into a server's root: generated with nbformat, or copied from the repo."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_notebook

REPO = Path(__file__).resolve().parents[3]
LESSONS = REPO / "notebooks"
# Without a kernelspec JupyterLab opens a "Select Kernel" dialog and nothing runs.
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
# Lesson 01's views (flow, step table, tracker) from a notebook of their own, for tests that need them
# outside the lesson: each lesson runs once in the browser (the `lessons` fixture).
SEED_CELLS = [
    "%load_ext lambda_widget\n%lambda reset --seed 1 --virtual-clock",
    "%%lambda double --track \"event['value']\" --invoke '{\"value\": 5}'\n"
    "def lambda_handler(event, context):\n"
    "    print('Start')\n"
    "    result = event['value'] * 2\n"
    "    print('End')\n"
    "    return result",
]


def write_notebook(root: Path, name: str, cells: list[str | NotebookNode]) -> str:
    """Write a notebook into `root` (a str is a code cell) and return its path relative to `root`."""
    nb = new_notebook(metadata={"kernelspec": KERNELSPEC})
    nb.cells = [new_code_cell(c) if isinstance(c, str) else c for c in cells]
    nbformat.write(nb, root / name)
    return name


def copy_lessons(root: Path, folder: str = "notebooks") -> Path:
    """Copy the repo's `notebooks/` folder (with any files a lesson reads) into `root/<folder>`.

    The session's lesson pages (the `lessons` fixture) run in `notebooks/` of the JupyterLab server:
    other tests on that server copy the lessons into another folder."""
    target = root / folder
    shutil.copytree(LESSONS, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return target


def find_lesson(pattern: str) -> Path | None:
    """The first lesson in the repo's `notebooks/` whose name matches `pattern`, if any."""
    matches = sorted(LESSONS.glob(pattern)) if LESSONS.is_dir() else []
    return matches[0] if matches else None


def lesson_page(lessons: dict, prefix: str):
    """From the session's `lessons` fixture: the page of the lesson whose file name starts with
    `prefix` ("01"); the test is skipped if there is no such lesson."""
    import pytest

    name = next((n for n in lessons if n.startswith(prefix)), None)
    if name is None:
        pytest.skip(f"notebooks/{prefix}_*.ipynb does not exist")
    return lessons[name]
