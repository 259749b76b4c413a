"""Extensions and the Shutdown phase, in both isolation modes, with real extension processes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import psutil
import pytest
from conftest import SEED_SOURCE, is_dead, report_fields, wait_for

import lambda_widget as lw
from lambda_widget.engine import shutdown

EXTENSIONS = Path(__file__).parent / "data" / "extensions"
SAMPLE = Path(__file__).parent / "data" / "aws-samples-python-example-extension"

SLOW_SOURCE = """import time


def lambda_handler(event, context):
    time.sleep(event.get('sleep', 0))
    return 'done'
"""


def register(mgr, name="f", source=SEED_SOURCE, **env):
    return mgr.register(name, source, extensions=str(EXTENSIONS), idle_timeout=60,
                        env={k: str(v) for k, v in env.items()}, timeout=5)


@pytest.fixture
def vmgr(isolation):
    with lw.ContainerManager(seed=3, virtual_clock=True) as manager:
        yield manager


def test_an_extension_gets_invoke_and_a_spindown_shutdown(vmgr):
    register(vmgr)
    first = vmgr.invoke("f", {"value": 1})
    second = vmgr.invoke("f", {"value": 2})
    assert (first.status, second.status) == ("succeeded", "succeeded")
    assert "[telemetry] registered" in first.logs  # Extension init is part of Init
    env = vmgr.containers[0]
    assert env.to_dict()["extensions"] == [{"name": "telemetry", "events": ["INVOKE", "SHUTDOWN"],
                                           "internal": False, "state": "waiting", "error_type": ""}]
    assert shutdown.budget(env) == (2000, "external extensions")

    vmgr.advance(60)  # the idle timeout: Shutdown, reason SPINDOWN
    record = env.shutdown
    assert record["reason"] == "SPINDOWN" and record["budget_ms"] == 2000
    assert record["runtime"] == "SIGTERM, exited"
    [ext] = record["extensions"]
    assert ext["got"] == "SHUTDOWN" and ext["exited_after_ms"] is not None
    flushed = next(line for line in record["logs"] if "SHUTDOWN" in line)
    assert json.loads(flushed.split("flushing ", 1)[1]) == [first.request_id, second.request_id]
    # Step 8 of the last invocation says so, and the timeline has the event.
    end = second.steps[-1]
    assert end.kind == "end" and end.output.startswith("Shutdown (SPINDOWN), budget 2,000 ms")
    assert "extension telemetry: SHUTDOWN, exited after" in end.output
    kinds = [(e.kind, e.reason) for e in vmgr.events if e.container_id == env.id]
    assert ("shutdown", "SPINDOWN") in kinds


def test_the_invoke_phase_waits_for_the_extension(vmgr):
    register(vmgr, TELEMETRY_AFTER_INVOKE=0.4)
    vmgr.invoke("f", {"value": 1})
    inv = vmgr.invoke("f", {"value": 2})
    assert inv.status == "succeeded" and inv.result == 4
    # The handler takes microseconds; the extension's 400 ms after it are part of the Duration.
    assert inv.duration_ms >= 400
    assert float(report_fields(inv)["Duration"].split()[0]) >= 400


def test_an_extension_is_killed_when_its_budget_runs_out(vmgr):
    register(vmgr, TELEMETRY_ON_SHUTDOWN="hang")
    vmgr.invoke("f", {"value": 1})
    env = vmgr.containers[0]
    procs = [psutil.Process(pid) for pid in env.group_pids()]  # the runtime and the extension
    vmgr.advance(60)
    record = env.shutdown
    assert record["extensions"][0]["exited_after_ms"] is None  # it never finished
    assert 2000 <= record["duration_ms"] < 4000
    assert record["runtime"] == "SIGTERM, still running at the deadline: killed"
    assert "killed at the deadline" in shutdown.words(record)
    assert len(procs) >= 2 and wait_for(lambda: all(is_dead(p) for p in procs))  # everything of it was killed


def test_a_timeout_resets_with_shutdown_reason_timeout(vmgr):
    register(vmgr, source=SLOW_SOURCE)
    vmgr.function("f").timeout = 3.0  # the re-init (the extension's start included) fits in it
    inv = vmgr.invoke("f", {"sleep": 4})
    assert inv.status == "timed-out"
    env = vmgr.containers[0]
    assert env.shutdown["reason"] == "TIMEOUT"
    assert env.shutdown["runtime"] == "stopped (reset)"
    assert any("SHUTDOWN TIMEOUT" in line for line in env.shutdown["logs"])
    again = vmgr.invoke("f", {"sleep": 0})  # a suppressed init starts the extension again
    assert again.status == "succeeded" and again.cold


@pytest.mark.parametrize("fail, error_type, phase", [
    ("init", "Extension.InitError", "init"),
    ("exit", "Extension.ExitError", "invoke"),
    ("crash", "Extension.Crash", "invoke"),
])
def test_extension_errors(vmgr, fail, error_type, phase):
    register(vmgr, TELEMETRY_FAIL=fail)
    inv = vmgr.invoke("f", {"value": 1})
    assert inv.status in ("failed", "crashed")
    assert inv.error["errorType"] == error_type
    if phase == "init":  # Init fails, is retried inside the invoke, and fails again
        reports = [line for line in inv.logs if line.startswith("INIT_REPORT")]
        assert [re.search(r"Phase: (\w+)", r)[1] for r in reports] == ["init", "invoke"]
        assert all(f"Error Type: {error_type}" in r for r in reports)
        assert inv.error["errorMessage"] == "no endpoint configured"
    else:
        assert report_fields(inv)["Error Type"] == error_type
        assert inv.steps[-1].kind == "stop"
    assert vmgr.invoke("f", {"value": 2}).cold  # the environment was reset


def test_registration_rules():
    from lambda_widget.engine.extensions import ApiAnswer, Extensions

    failures = []
    ext = Extensions(["telemetry"], lambda *a: failures.append(a))
    info = {"name": "f", "version": "$LATEST", "handler": "m.h", "account": "1"}
    with pytest.raises(ApiAnswer, match="not in /opt/extensions"):
        ext.register("other", b'{"events": ["INVOKE"]}', 10, 5, info)
    with pytest.raises(ApiAnswer) as bad:
        ext.register("telemetry", b'{"events": ["LOGS"]}', 10, 5, info)
    assert bad.value.status == 400
    with pytest.raises(ApiAnswer, match="Internal extensions cannot register for the SHUTDOWN"):
        ext.register("inside", b'{"events": ["SHUTDOWN"]}', 5, 5, info)
    ident, body = ext.register("inside", b'{"events": ["INVOKE"]}', 5, 5, info)
    assert ext.by_id[ident].internal and json.loads(body)["functionName"] == "f"
    with pytest.raises(ApiAnswer, match="missing"):
        ext.next(None, lambda data: None)
    ext.init_done = True
    with pytest.raises(ApiAnswer, match="only during the Init phase"):
        ext.register("telemetry", b"{}", 10, 5, info)


def test_an_exec_wrapper_is_an_internal_extension(isolation, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "wrapper.sh").write_text('#!/bin/sh\nexport WRAPPED_BY=wrapper\nexec "$@"\n')
    (code / "wrapper.sh").chmod(0o755)
    (code / "app.py").write_text("import os\n\ndef handler(event, context):\n"
                                 "    return os.environ.get('WRAPPED_BY')\n")
    with lw.ContainerManager(seed=1, virtual_clock=True) as mgr:
        mgr.register("w", path=str(code), handler="app.handler", idle_timeout=60,
                     env={"AWS_LAMBDA_EXEC_WRAPPER": "wrapper.sh"})
        inv = mgr.invoke("w", {})
        assert inv.status == "succeeded" and inv.result == "wrapper"
        env = mgr.containers[0]
        assert shutdown.budget(env) == (500, "internal extensions only")
        mgr.advance(60)
        assert env.shutdown["budget_ms"] == 500 and env.shutdown["runtime"] == "SIGTERM, exited"


def test_no_extension_means_no_shutdown_budget(vmgr):
    vmgr.register("plain", SEED_SOURCE, idle_timeout=60)
    inv = vmgr.invoke("plain", {"value": 1})
    env = vmgr.containers[0]
    vmgr.advance(60)
    assert env.shutdown["budget_ms"] == 0 and env.shutdown["runtime"] == "killed at once"
    assert inv.steps[-1].output == ""  # step 8 as it always was


def test_extensions_must_be_a_directory(vmgr):
    with pytest.raises(lw.InvalidParameterValueException, match="directory of executables"):
        vmgr.register("f", SEED_SOURCE, extensions="/nonexistent/extensions")


def test_the_aws_samples_python_extension_runs_unmodified():
    """aws-samples/aws-lambda-extensions' python-example-extension (tests/data, MIT-0), laid out
    as its layer zip (extensions/ and python-example-extension/ under /opt). It execs
    /opt/<name>/extension.py, so it needs the sandbox's /opt: namespaces mode only."""
    from lambda_widget.engine.isolation import namespaces_unavailable

    if namespaces_unavailable():
        pytest.skip(f"it needs /opt, which only a sandbox has: {namespaces_unavailable()}")
    pytest.importorskip("requests")  # its one dependency, from this interpreter
    with lw.ContainerManager(seed=1, virtual_clock=True, isolation="namespaces") as mgr:
        mgr.register("sample", SEED_SOURCE, extensions=str(SAMPLE), idle_timeout=60)
        inv = mgr.invoke("sample", {"value": 21})
        assert inv.status == "succeeded" and inv.result == 42, inv.logs
        assert "[python-example-extension] Registering..." in inv.logs
        env = mgr.containers[0]
        mgr.advance(60)
        assert "[python-example-extension] Received SHUTDOWN event. Exiting." in env.shutdown["logs"]
        assert env.shutdown["extensions"][0]["exited_after_ms"] is not None


GRACEFUL_SOURCE = """import signal, sys


def on_sigterm(signum, frame):
    print('[runtime] SIGTERM received, cleaning up', flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, on_sigterm)


def lambda_handler(event, context):
    return 'ok'
"""


def test_the_runtime_gets_sigterm_where_an_extension_is_registered(vmgr):
    register(vmgr, source=GRACEFUL_SOURCE)
    vmgr.invoke("f", {})
    env = vmgr.containers[0]
    vmgr.advance(60)
    # One pipe carries the runtime's and the extension's output here; print() writes its text and its
    # newline apart, so the extension's SHUTDOWN line may land between them (see the README's Fidelity).
    assert "[runtime] SIGTERM received, cleaning up" in "\n".join(env.shutdown["logs"])
    assert env.shutdown["runtime"] == "SIGTERM, exited"


def test_python_startup_variables_take_effect(isolation):
    with lw.ContainerManager(seed=1) as mgr:
        mgr.register("dev", "import sys\n\ndef lambda_handler(e, c):\n    return sys.flags.dev_mode\n",
                     env={"PYTHONDEVMODE": "1"})
        inv = mgr.invoke("dev", {})
        assert inv.status == "succeeded" and inv.result is True
        assert shutdown.budget(mgr.containers[0]) == (500, "internal extensions only")


def test_an_extension_in_a_layer_starts_too(isolation, tmp_path):
    layer = tmp_path / "layer"
    (layer / "extensions").mkdir(parents=True)
    (layer / "python").mkdir()
    (layer / "python" / "greeting.py").write_text("WORD = 'hello'\n")
    target = layer / "extensions" / "telemetry"
    target.write_bytes((EXTENSIONS / "telemetry").read_bytes())
    target.chmod(0o755)
    with lw.ContainerManager(seed=1, virtual_clock=True) as mgr:
        mgr.register("layered", "from greeting import WORD\n\ndef lambda_handler(e, c):\n    return WORD\n",
                     layers=[str(layer)], idle_timeout=60)
        inv = mgr.invoke("layered", {})
        assert inv.status == "succeeded" and inv.result == "hello"
        assert "[telemetry] registered" in inv.logs
        env = mgr.containers[0]
        mgr.advance(60)
        assert env.shutdown["reason"] == "SPINDOWN" and env.shutdown["extensions"][0]["got"] == "SHUTDOWN"


def test_an_extension_that_exits_before_registering_fails_init_at_once(isolation, tmp_path):
    (tmp_path / "extensions").mkdir()
    quitter = tmp_path / "extensions" / "quitter"
    quitter.write_text("#!/bin/sh\necho quitting\nexit 3\n")
    quitter.chmod(0o755)
    with lw.ContainerManager(seed=1) as mgr:
        mgr.register("f", SEED_SOURCE, extensions=str(tmp_path), timeout=5)
        inv = mgr.invoke("f", {"value": 1})
        assert inv.status == "failed" and inv.error["errorType"] == "Extension.InitError"
        assert "did not register: quitter" in inv.error["errorMessage"]
        assert inv.duration_ms < 5000  # not the whole Init limit, nor the function timeout
        assert "quitting" in inv.logs
