"""Issue 11, items 9-11 and 13: bad input gets a clear message and changes nothing.

9. NaN and infinity never reach the clock; 10. names, handlers and environment keys are
matched whole (a trailing newline fails), Lambda's key pattern and reserved keys, ``track``;
11. limits as AWS's (provisioned concurrency, booleans, whole seconds, UTF-8 source, nesting,
NaN payloads, client context size); 13. the CLI refuses bad input up front, with exit 2.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time

import pytest
from conftest import wait_for
from IPython.core.error import UsageError

import lambda_widget as lw
from lambda_widget import api

OK_SOURCE = "def lambda_handler(event, context):\n    return event\n"


# ---------------------------------------------------------------- 9. NaN and infinity
@pytest.mark.parametrize("seconds", [math.nan, math.inf, -math.inf, float("nan")])
def test_the_clock_refuses_nan_and_infinity(mgr, seconds):
    mgr.register("clocked", OK_SOURCE, idle_timeout=10)
    mgr.invoke("clocked", 1)
    before = mgr.clock.now()
    with pytest.raises(ValueError, match="finite"):
        mgr.advance(seconds)
    assert math.isfinite(mgr.clock.now()) and mgr.clock.now() >= before
    json.dumps(mgr.to_dict(), allow_nan=False)  # still strict JSON
    assert mgr.invoke("clocked", 2).cold is False  # warm reuse still works
    assert [e.id for e in mgr.advance(10)] == [mgr.history[-1].container_id]  # reaping still works


def test_the_clock_cannot_overflow(mgr):
    mgr.advance(1e308)
    with pytest.raises(ValueError):
        mgr.advance(1e308)
    assert math.isfinite(mgr.clock.now())


@pytest.mark.parametrize("seconds", [math.nan, math.inf, True, "5"])
def test_lw_wait_refuses_what_is_not_a_finite_number(seconds):
    with pytest.raises(ValueError):
        api.wait(seconds)
    assert math.isfinite(lw.get_manager().clock.now())


def test_percent_lambda_wait_nan_is_a_usage_error():
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    ip.run_line_magic("load_ext", "lambda_widget")
    for text in ("nan", "inf", "-1"):
        with pytest.raises(UsageError):
            ip.run_line_magic("lambda", f"wait {text}")
    assert math.isfinite(lw.get_manager().clock.now())


# ---------------------------------------------------------------- 10. names, handlers, env keys, track
@pytest.mark.parametrize("config", [
    {"name": "fn\n"}, {"name": "fn\n\n"}, {"handler": "lambda_handler\n"}, {"handler": "app.main\n"},
    {"env": {"KEY\n": "v"}}, {"env": {"A": "v"}}, {"env": {"1A": "v"}}, {"env": {"A-B": "v"}},
    {"env": {"AWS_ACCESS_KEY": "x"}}, {"env": {"AWS_ACCESS_KEY_ID": "x"}},
    {"env": {"KEY": "a\0b"}}, {"env": {"KEY": 5}}, {"env": "KEY=v"},
    {"track": [1]}, {"track": ["event["]}, {"track": 5}, {"track": [None]},
])
def test_bad_names_keys_and_tracks_are_refused_with_a_clear_message(mgr, config):
    config = dict(config)
    name = config.pop("name", "checked")
    with pytest.raises(lw.InvalidParameterValueException) as caught:
        mgr.register(name, OK_SOURCE, **config)
    assert str(caught.value).strip()
    assert mgr.functions == {}


def test_a_nul_in_an_env_value_says_so(mgr):
    with pytest.raises(lw.InvalidParameterValueException, match="NUL"):
        mgr.register("nul", OK_SOURCE, env={"KEY": "a\0b"})


def test_two_character_env_keys_pass(mgr):
    mgr.register("keys", "import os\n\ndef lambda_handler(event, context):\n    return os.environ['AB']\n",
                 env={"AB": "yes"})
    assert mgr.invoke("keys", {}).result == "yes"


def test_one_tracked_expression_as_a_string_is_one_expression(mgr):
    fn = mgr.register("tracked", "def lambda_handler(event, context):\n    value = event\n    return value\n",
                      track="event")
    assert fn.track == ("event",)
    inv = mgr.invoke("tracked", 5)
    assert inv.status == "succeeded"
    assert "event" in inv.variable_names() and "e" not in inv.variable_names()


def test_a_bad_track_leaves_the_function_invocable(mgr):
    mgr.register("keeps", OK_SOURCE)
    with pytest.raises(lw.InvalidParameterValueException):
        mgr.register("keeps", OK_SOURCE, track=[1])
    assert mgr.invoke("keeps", 3).result == 3


# ---------------------------------------------------------------- 11. limits
@pytest.mark.parametrize("config", [
    {"provisioned_concurrency": 10**6}, {"provisioned_concurrency": 901},
    {"reserved_concurrency": 10**6}, {"provisioned_concurrency": True}, {"reserved_concurrency": True},
    {"timeout": True}, {"timeout": 1.5}, {"timeout": math.nan}, {"memory_mb": True},
    {"idle_timeout": math.inf}, {"idle_timeout": True}, {"max_steps": True}, {"max_retry_attempts": True},
])
def test_limits_are_aws_limits(mgr, config):
    with pytest.raises(lw.InvalidParameterValueException):
        mgr.register("limited", OK_SOURCE, **config)
    assert mgr.functions == {}


def test_whole_seconds_pass_as_float_or_int(mgr):
    assert mgr.register("three", OK_SOURCE, timeout=3.0).timeout == 3.0
    assert mgr.register("nine-hundred", OK_SOURCE, timeout=900).timeout == 900.0


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "4"])
def test_a_manager_needs_some_concurrency(value):
    with pytest.raises(lw.InvalidParameterValueException):
        lw.ContainerManager(max_concurrency=value)


def test_a_lone_surrogate_in_the_source_is_a_clear_error(mgr):
    with pytest.raises(lw.InvalidParameterValueException, match="UTF-8.*line 2"):
        mgr.register("surrogate", "def lambda_handler(event, context):\n    return '\ud800'\n")
    assert mgr.functions == {}


def _nested(depth: int):
    event: object = 1
    for _ in range(depth):
        event = [event]
    return event


@pytest.mark.parametrize("event", [_nested(1000), _nested(100_000), b"[" * 100_000 + b"]" * 100_000,
                                   b"[" * 1000 + b"]" * 1000])
def test_a_deeply_nested_event_is_invalid_request_content(mgr, event):
    mgr.register("deep", OK_SOURCE)
    with pytest.raises(lw.InvalidRequestContentException, match="nest"):
        mgr.invoke("deep", event)
    assert mgr.history == []


def test_a_moderately_nested_event_runs(mgr):
    mgr.register("nested", OK_SOURCE, trace=False)
    inv = mgr.invoke("nested", _nested(150))
    assert inv.status == "succeeded" and inv.result == _nested(150)
    json.dumps(mgr.to_dict())


@pytest.mark.parametrize("payload", [b"NaN", b"Infinity", b"-Infinity", b'{"a": NaN}'])
def test_non_json_constants_are_invalid_request_content(mgr, payload):
    mgr.register("constants", OK_SOURCE)
    with pytest.raises(lw.InvalidRequestContentException):
        mgr.invoke("constants", payload)
    assert mgr.history == []


def test_client_context_is_limited_to_3583_bytes_of_base64(mgr):
    mgr.register("ctx-size", "def lambda_handler(event, context):\n"
                 "    return context.client_context.custom\n", trace=False)
    with pytest.raises(lw.InvalidRequestContentException, match="3583"):
        mgr.invoke("ctx-size", {}, client_context={"custom": {"x": "y" * 100_000}})
    with pytest.raises(lw.InvalidRequestContentException):
        mgr.invoke("ctx-size", {}, client_context=["not", "a", "dict"])
    fits = {"custom": {"x": "y" * 2600}}  # 2,600 characters: under 3,583 bytes once base64-encoded
    inv = mgr.invoke("ctx-size", {}, client_context=fits)
    assert (inv.status, inv.result) == ("succeeded", fits["custom"]), inv.error
    assert len(mgr.history) == 1


# ---------------------------------------------------------------- 13. the CLI
CLI = [sys.executable, "-m", "lambda_widget.cli"]


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("wait", ["-5", "nan", "inf", "soon"])
def test_cli_refuses_a_bad_wait_before_running_anything(wait):
    out = _cli("demo", "--wait", wait)
    assert out.returncode == 2
    assert "--wait" in out.stderr and "Traceback" not in out.stderr
    assert "Invocation" not in out.stdout


@pytest.mark.parametrize("event", ["NaN", "1e999", '{"a": -Infinity}', "[" * 30_000 + "]" * 30_000,
                                   "[" * 500 + "]" * 500])
def test_cli_refuses_events_lambda_would_not_take(event):
    out = _cli("demo", "--event", event)
    assert out.returncode == 2, out.stdout[-500:]
    assert "--event" in out.stderr and "Traceback" not in out.stderr
    assert "Invocation" not in out.stdout


def test_cli_reads_a_handler_file_with_a_bound(tmp_path):
    out = _cli("run", "/dev/zero", timeout=60)
    assert out.returncode == 2
    assert "larger than" in out.stderr and "Traceback" not in out.stderr
    binary = tmp_path / "binary.py"
    binary.write_bytes(b"\xff\xfe\x00")
    out = _cli("run", str(binary))
    assert out.returncode == 2 and "UTF-8" in out.stderr


def test_cli_ctrl_c_exits_130_without_a_traceback(tmp_path):
    handler = tmp_path / "sleepy.py"
    handler.write_text("import time\n\ndef lambda_handler(event, context):\n    print('sleeping', flush=True)\n"
                       "    time.sleep(30)\n")
    proc = subprocess.Popen(CLI + ["run", str(handler), "--timeout", "60"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.2)
        # Wait until the handler runs: its environment exists once the process has a grandchild.
        import psutil

        me = psutil.Process(proc.pid)
        assert wait_for(lambda: len(me.children(recursive=True)) >= 3, timeout=30)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
