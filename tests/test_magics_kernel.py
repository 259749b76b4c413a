"""The magics in a real Jupyter kernel (nbclient): widgets are shown, and saved outputs hold the outcome."""

from __future__ import annotations

import nbformat
import pytest
from conftest import SEED_SOURCE as SEED
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def executed() -> nbformat.NotebookNode:
    nb = new_notebook(cells=[
        new_code_cell("%load_ext lambda_widget"),
        new_code_cell("%%lambda double --invoke '{\"value\": 5}' --track \"event['value']\"\n" + SEED),
        new_code_cell('%lambda burst double 3 {"value": 1}'),
        new_code_cell("%lambda containers"),
        new_code_cell('import lambda_widget as lw\nview = lw.invoke("double", {"value": 2})\nview'),
        new_code_cell("view.result, view.cold, type(view.invocation).__name__"),
        new_code_cell("%lambda invok double"),
    ])
    client = NotebookClient(nb, timeout=180, kernel_name="python3", allow_errors=True)
    client.execute()
    return nb


def displays(cell: nbformat.NotebookNode) -> list[dict]:
    return [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]


def test_cell_magic_shows_card_and_finished_invocation(executed) -> None:
    card, invocation = displays(executed.cells[1])
    assert WIDGET in card.data and "Function double $LATEST" in card.data["text/plain"]
    assert WIDGET in invocation.data
    assert "Result: 10" in invocation.data["text/plain"]  # updated in place once the run finished
    assert "lw-invocation" in invocation.data["text/html"]


def test_burst_output_holds_the_final_progress(executed) -> None:
    (burst,) = displays(executed.cells[2])
    assert WIDGET in burst.data and "Burst: 3 of 3 done" in burst.data["text/plain"]


def test_pool_and_api_views_are_widgets(executed) -> None:
    (pool,) = displays(executed.cells[3])
    assert WIDGET in pool.data and "lw-pool" in pool.data["text/html"]
    (view,) = displays(executed.cells[4])
    assert view.output_type == "execute_result" and WIDGET in view.data
    (fallthrough,) = displays(executed.cells[5])
    assert fallthrough.data["text/plain"] == "(4, False, 'Invocation')"


def test_usage_error_is_a_clean_message(executed) -> None:
    outputs = executed.cells[6].outputs
    assert not [o for o in outputs if o.output_type == "error"]  # IPython prints it: no traceback
    text = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stderr")
    assert "UsageError: unknown subcommand 'invok'. Did you mean 'invoke'?" in text
    assert "usage: %lambda SUBCOMMAND" in text
