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
    assert "=== 10 min later: 1 environment reaped ===" in text
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


def test_wait_prints_only_what_changed():
    text = run("demo", "--seed", "1", "--times", "2", "--wait", "600").stdout
    before, after = text.split("=== 10 min later: 1 environment reaped ===")
    assert before.count("| Step | Action") == 2 and "Logs:" not in after, "no invocation is printed again"
    assert "env-1    double $LATEST  reaped after 10 min idle (idle timeout 10 min); it served 2 invocations" in after
    assert "Invocation #2 (double $LATEST): step added" in after
    added = [line for line in after.splitlines() if line.startswith("|    ")]
    assert len(added) == 1 and "No new event arrives" in added[0] and added[0].startswith("|    8 |")
    quiet = run("demo", "--seed", "1", "--wait", "5").stdout.split("=== 5 s later")[1]
    assert "0 environments reaped" in quiet and "nothing changed" in quiet


def test_init_failures_in_the_terminal(tmp_path):
    handler = tmp_path / "broken.py"
    handler.write_text("import module_that_is_not_there\n\ndef lambda_handler(event, context):\n    return 1\n")
    out = run("run", str(handler), "--times", "3", "--seed", "1")
    assert out.returncode == 1
    tables = [line for line in out.stdout.splitlines() if line.startswith("|")]
    assert tables and not any("\t" in line or "\x1b" in line for line in tables), "no raw control characters"
    assert any("[WARNING] 20" in line for line in tables), "the init's log line, with its tab as a space"
    assert "memory 0 of" not in out.stdout
    memory = [line for line in out.stdout.splitlines() if line.startswith("Request ")]
    assert len(memory) == 3 and all(" of 128 MB" in line or "use not measured" in line for line in memory)
    assert "3 requests (0 reached the handler), 4 inits" in out.stdout


def test_help_shows_defaults_and_examples():
    top = run("--help").stdout
    assert "examples:" in top and "lambda-widget demo --times 2 --wait 600" in top
    sub = run("run", "--help").stdout
    for default in ("(default: lambda_handler)", "(default: {})", "(default: 1)", "(default: 3 s)",
                    "(default: 128 MB)", "(default: 600 s)", "lambda-widget run app.py"):
        assert default in " ".join(sub.split()), default
    assert "(default: {\"value\": 5})" in run("demo", "--help").stdout
