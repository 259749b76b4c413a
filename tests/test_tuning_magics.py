"""``%lambda tune`` and ``%%lambda --architecture`` through IPython's test shell (fixtures of test_magics)."""

from __future__ import annotations

import test_magics
from conftest import COUNTER_SOURCE, SEED_SOURCE
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

import lambda_widget as lw
from lambda_widget.views import TuningView

# test_magics' fixtures: the shell with the extension, a fresh manager per test, what the magics display
ip, fresh, shown, usage = test_magics.ip, test_magics.fresh, test_magics.shown, test_magics.usage


def test_tune_prints_the_table_in_a_terminal(ip, capsys) -> None:
    ip.run_cell_magic("lambda", "double", SEED_SOURCE)
    capsys.readouterr()
    ip.run_line_magic("lambda", 'tune double {"value": 5} --sizes 128,256 512 --num 5 --strategy speed')
    out = capsys.readouterr().out
    assert out.startswith("Power tuning double $LATEST (x86_64, 5 runs per size, strategy speed): best ")
    assert [line.split()[0] for line in out.splitlines()[1:4]] == ["128", "256", "512"]
    mgr = lw.get_manager()
    assert set(mgr.functions) == {"double"} and len(mgr.history) == 15
    assert all(inv.result == 10 for inv in mgr.history)


def test_tune_shows_the_view_in_a_kernel(ip, shown) -> None:
    ip.run_cell_magic("lambda", "count --architecture arm64", COUNTER_SOURCE)
    assert lw.get_manager().function("count").architecture == "arm64"
    shown.clear()
    ip.run_line_magic("lambda", "tune count --sizes 128 1024 --num 5 --strategy balanced --weight 0.3")
    note, view = shown                           # the progress line, then the result in its place
    assert repr(note) == "Power tuning: starting" and isinstance(view, TuningView)
    assert view.result.architecture == "arm64" and view.result.strategy == "balanced"
    assert view.result.balanced_weight == 0.3 and [r.memory_mb for r in view.result.rows] == [128, 1024]
    assert "strategy balanced, weight 0.3" in view.plain_text()


def test_tune_defaults(ip) -> None:
    ip.run_cell_magic("lambda", "count", COUNTER_SOURCE)
    ip.run_line_magic("lambda", "tune count --num 5")
    tuned = [i.memory_size_mb for i in lw.get_manager().history]
    assert sorted(set(tuned)) == [128, 256, 512, 1024, 1769, 3008] and len(tuned) == 30


def test_tune_bad_input_gets_a_clear_message(ip) -> None:
    run = ip.run_line_magic
    assert "no function named 'nope' (none registered yet" in usage(run, "lambda", "tune nope")
    ip.run_cell_magic("lambda", "count", COUNTER_SOURCE)
    assert "no function named 'nope' (registered: count)" in usage(run, "lambda", "tune nope")
    message = usage(run, "lambda", "tune count --num 4")
    assert "num must be a whole number from 5 to 1000" in message and "usage: %lambda tune" in message
    assert "from 128 to 10240" in usage(run, "lambda", "tune count --sizes 64 128")
    assert "--sizes expects whole numbers of MB, got '1GB'" in usage(run, "lambda", "tune count --sizes 1GB")
    assert "invalid choice: 'cheap'" in usage(run, "lambda", "tune count --strategy cheap")
    assert "balanced_weight must be a number from 0" in usage(run, "lambda", "tune count --weight 2")
    assert "EVENT is not valid JSON" in usage(run, "lambda", "tune count {oops")
    assert lw.get_manager().history == []


def test_tune_reports_a_failing_function_without_the_usage_line(ip) -> None:
    ip.run_cell_magic("lambda", "boom", "def lambda_handler(event, context):\n    return 1 / 0\n")
    message = usage(ip.run_line_magic, "lambda", "tune boom --num 5")
    assert message.startswith("power tuning stopped: run 1 of boom at 128 MB failed: ZeroDivisionError")
    assert "usage:" not in message and set(lw.get_manager().functions) == {"boom"}


def test_architecture_option_on_the_cell(ip, capsys) -> None:
    ip.run_cell_magic("lambda", "arm --architecture arm64", COUNTER_SOURCE)
    assert "arm64 (price only)" in capsys.readouterr().out
    assert "invalid choice: 'sparc'" in usage(ip.run_cell_magic, "lambda", "x --architecture sparc", COUNTER_SOURCE)
    assert "x" not in lw.get_manager().functions


def test_tune_is_in_the_help(ip, capsys) -> None:
    ip.run_line_magic("lambda", "help tune")
    out = capsys.readouterr().out
    assert "%lambda tune" in out and "--strategy {cost,speed,balanced}" in out and "--sizes MB [MB ...]" in out


def test_tune_in_a_real_kernel_leaves_the_result_in_place_of_its_progress() -> None:
    nb = new_notebook(cells=[
        new_code_cell("%load_ext lambda_widget"),
        new_code_cell("%%lambda double\n" + SEED_SOURCE),
        new_code_cell('%lambda tune double {"value": 1} --sizes 128 256 --num 5'),
        new_code_cell("%lambda tune double --num 5 --sizes 99"),
    ])
    NotebookClient(nb, timeout=180, kernel_name="python3", allow_errors=True).execute()
    (shown,) = [o for o in nb.cells[2].outputs if o.output_type == "display_data"]
    assert "application/vnd.jupyter.widget-view+json" in shown.data       # the view replaced "n of 10 runs"
    assert shown.data["text/plain"].startswith("Power tuning double $LATEST (x86_64, 5 runs per size")
    assert '<img src="data:image/svg+xml;base64,' in shown.data["text/html"]
    bad = nb.cells[3].outputs
    assert not [o for o in bad if o.output_type in ("display_data", "error")]  # refused before any display
    assert "Invalid memory size 99" in "".join(o.get("text", "") for o in bad)
