"""The terminal runner: `lambda-widget demo` and `lambda-widget run`, as a user types them."""

from __future__ import annotations

import subprocess
import sys

CLI = [sys.executable, "-m", "lambda_widget.cli"]


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=120, cwd=cwd)


def test_demo_prints_the_seed_table_tracker_and_logs():
    out = run("demo", "--seed", "1", "--times", "2", "--wait", "600")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "| Step | Action" in text
    assert "Create new container (init)" in text and "Reuse warm container" in text
    assert "No new event arrives" in text and "Container terminated after idle timeout" in text
    assert "Variable tracker:" in text and "event['value']" in text
    assert "START RequestId:" in text and "REPORT RequestId:" in text and "Init Duration:" in text
    assert "1 environment(s) reaped" in text
    assert "idle timeout (10 min)" in text or "10 min" in text


def test_demo_output_is_the_same_with_the_same_seed_except_timings():
    first, second = run("demo", "--seed", "7").stdout, run("demo", "--seed", "7").stdout

    def steady(text: str) -> list[str]:
        timed = ("ms", "MB", "[age ")
        return [line for line in text.splitlines() if not any(t in line for t in timed)]

    assert steady(first) == steady(second)


def test_run_a_handler_file(tmp_path):
    handler = tmp_path / "app.py"
    handler.write_text("COUNT = 0\n\ndef main(event, context):\n    global COUNT\n    COUNT += 1\n"
                       "    return {'count': COUNT, 'name': event['name']}\n")
    out = run("run", str(handler), "--handler", "main", "--event", '{"name": "x"}', "--times", "2")
    assert out.returncode == 0, out.stderr
    assert 'Result: {"count": 1, "name": "x"}' in out.stdout
    assert 'Result: {"count": 2, "name": "x"}' in out.stdout


def test_a_failing_handler_exits_1(tmp_path):
    handler = tmp_path / "bad.py"
    handler.write_text("def lambda_handler(event, context):\n    raise ValueError('nope')\n")
    out = run("run", str(handler))
    assert out.returncode == 1
    assert "ValueError" in out.stdout


def test_bad_input_gets_a_clear_message(tmp_path):
    out = run("demo", "--event", '{"value": }')
    assert out.returncode == 2
    assert "--event is not valid JSON" in out.stderr and "column 11" in out.stderr
    out = run("run", str(tmp_path / "missing.py"))
    assert out.returncode == 2 and "cannot read" in out.stderr
    out = run("demo", "--timeout", "0.5")
    assert out.returncode == 2 and "timeout" in out.stderr
