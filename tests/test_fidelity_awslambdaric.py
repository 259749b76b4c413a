"""Differential suite: the same handlers under the bundled runtime and under awslambdaric.

awslambdaric (AWS's Runtime Interface Client, from PyPI) is the reference: where the two
differ, the bundled runtime is the one to change. Request-specific values (request ids,
log stream names, paths, timestamps, durations) are normalised; everything else must be
equal, byte for byte where the wire is concerned. Steps are not compared: only the
bundled runtime traces.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator

import pytest
from test_fidelity_helpers import Wire, normalise

import lambda_widget as lw

RUNTIMES = ("bundled", "awslambdaric")
_names = itertools.count(1)


class Side:
    """One manager running one runtime, with the wire recorded."""

    def __init__(self, runtime: str) -> None:
        self.runtime = runtime
        self.mgr = lw.ContainerManager(seed=7)
        self.wire = Wire(self.mgr)
        self.root = str(self.mgr._root)  # noqa: SLF001 - normalised out of paths


@pytest.fixture(scope="module")
def sides() -> Iterator[dict[str, Side]]:
    pair = {runtime: Side(runtime) for runtime in RUNTIMES}
    yield pair
    for side in pair.values():
        side.mgr.shutdown()


def run_both(sides: dict[str, Side], source: str, events: list, *, client_context: dict | None = None,
             **config) -> dict[str, list[lw.Invocation]]:
    """Register ``source`` under both runtimes and invoke it with each event in turn."""
    name = f"diff-{next(_names)}"
    out = {}
    for runtime, side in sides.items():
        side.mgr.register(name, source, runtime=runtime, timeout=10, **config)
        out[runtime] = [side.mgr.invoke(name, event, client_context=client_context) for event in events]
    return out


def norm_error(error: dict | None, inv: lw.Invocation, side: Side):
    return None if error is None else json.loads(normalise(json.dumps(error), inv, side.root))


def norm_logs(inv: lw.Invocation, side: Side) -> list[str]:
    return [normalise(line, inv, side.root) for line in inv.logs]


def assert_same_errors(sides, invs) -> None:
    bundled, ric = invs["bundled"][-1], invs["awslambdaric"][-1]
    assert (bundled.status, norm_error(bundled.error, bundled, sides["bundled"])) == \
        (ric.status, norm_error(ric.error, ric, sides["awslambdaric"]))


# ---------------------------------------------------------------------------- context
CONTEXT_SOURCE = """
ATTRIBUTES = ["aws_request_id", "log_group_name", "log_stream_name", "function_name",
              "memory_limit_in_mb", "function_version", "invoked_function_arn",
              "client_context", "identity", "tenant_id"]


def lambda_handler(event, context):
    out = {name: [repr(getattr(context, name)), type(getattr(context, name)).__name__]
           for name in ATTRIBUTES}
    out["remaining"] = type(context.get_remaining_time_in_millis()).__name__
    out["repr"] = repr(context)
    out["class"] = type(context).__name__
    out["public"] = sorted(n for n in dir(context) if not n.startswith("_"))
    out["identity_slots"] = list(type(context.identity).__slots__)
    return out
"""


def _without_request_specifics(result: dict, inv: lw.Invocation) -> dict:
    text = json.dumps(result).replace(inv.request_id, "<request-id>")
    return json.loads(re.sub(r"\[\$LATEST\][0-9a-f]{32}", "[$LATEST]<hex>", text))


def test_context_attribute_values_and_types_match(sides):
    invs = run_both(sides, CONTEXT_SOURCE, [{}])
    bundled, ric = invs["bundled"][0], invs["awslambdaric"][0]
    assert bundled.status == ric.status == "succeeded", (bundled.error, ric.error)
    assert bundled.result["aws_request_id"][1] == ric.result["aws_request_id"][1] == "str"
    assert bundled.result["memory_limit_in_mb"] == ric.result["memory_limit_in_mb"] == ["'128'", "str"]
    assert _without_request_specifics(bundled.result, bundled) == \
        _without_request_specifics(ric.result, ric)


CLIENT_CONTEXT_SOURCE = """
def lambda_handler(event, context):
    cc = context.client_context
    return {"repr": repr(cc), "custom": cc.custom, "env": cc.env, "client": repr(cc.client),
            "w3c": context.w3c() if hasattr(context, "w3c") else "no w3c() method"}
"""


def test_client_context_and_w3c_trace_context_match(sides):
    client_context = {"custom": {"k": "v"}, "env": {"locale": "en"}, "client": {"app_title": "t"},
                      "w3c": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                              "ignored": "x"}}
    invs = run_both(sides, CLIENT_CONTEXT_SOURCE, [{}], client_context=client_context)
    bundled, ric = invs["bundled"][0], invs["awslambdaric"][0]
    assert ric.result["w3c"] == {"traceparent": client_context["w3c"]["traceparent"]}
    assert bundled.result == ric.result


# ---------------------------------------------------------------------------- exceptions
EXCEPTION_SOURCE = """
class Boom(Exception):
    pass


def inner(n):
    if n == 0:
        raise TypeError("deep")
    return inner(n - 1)


def lambda_handler(event, context):
    kind = event["kind"]
    print("about to fail:", kind)
    if kind == "value":
        raise ValueError("boom")
    if kind == "key":
        return {}["missing"]
    if kind == "empty":
        raise Boom()
    if kind == "multiline":
        raise RuntimeError("line one\\nline two \\u00e9")
    if kind == "chained":
        try:
            {}["x"]
        except KeyError as exc:
            raise ValueError("wrapped") from exc
    if kind == "nested":
        return inner(3)
"""


@pytest.mark.parametrize("kind", ["value", "key", "empty", "multiline", "chained", "nested"])
def test_exception_payloads_and_error_log_lines_match(sides, kind):
    invs = run_both(sides, EXCEPTION_SOURCE, [{"kind": kind}])
    for runtime, side in sides.items():
        inv = invs[runtime][0]
        assert inv.status == "failed"
        assert inv.error["requestId"] == inv.request_id
        assert list(inv.error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
        assert f"in {'inner' if kind == 'nested' else 'lambda_handler'}" in inv.error["stackTrace"][-1]
        kind_wire, body, _ = side.wire.body(inv.request_id)
        assert kind_wire == "error"
        assert json.loads(body) == inv.error
    assert_same_errors(sides, invs)
    bundled, ric = (norm_logs(invs[r][0], sides[r]) for r in RUNTIMES)
    assert bundled == ric
    error_event = "\n".join(bundled[bundled.index(next(x for x in bundled if x.startswith("[ERROR] "))):])
    assert "\rTraceback (most recent call last):\r\u00a0\u00a0File " in error_event


# ---------------------------------------------------------------------------- init errors
INIT_FAILURES = {
    "import": ("import no_such_module_for_lambda_widget\n\ndef lambda_handler(event, context):\n"
               "    return 1\n", "lambda_handler"),
    "syntax": ("def lambda_handler(event, context):\n    return (\n", "lambda_handler"),
    "handler-not-found": ("def other(event, context):\n    return 1\n", "lambda_handler"),
    "value-error-at-import": ("raise ValueError('bad config')\n\ndef lambda_handler(event, context):\n"
                              "    return 1\n", "lambda_handler"),
    "built-in-module": ("def lambda_handler(event, context):\n    return 1\n", "sys.lambda_handler"),
}
INIT_TYPES = {"import": "Runtime.ImportModuleError", "syntax": "Runtime.UserCodeSyntaxError",
              "handler-not-found": "Runtime.HandlerNotFound", "value-error-at-import": "ValueError",
              "built-in-module": "Runtime.BuiltInModuleConflict"}


@pytest.mark.parametrize("case", sorted(INIT_FAILURES))
def test_init_error_payloads_match(sides, case):
    source, handler = INIT_FAILURES[case]
    invs = run_both(sides, source, [{}], handler=handler)
    for runtime, side in sides.items():
        inv = invs[runtime][0]
        assert inv.error["errorType"] == INIT_TYPES[case]
        posted = [json.loads(item[1]) for item in side.wire.items if item[0] == "init-error"][-1]
        assert posted["requestId"] == ""  # /init/error carries no request id
    assert_same_errors(sides, invs)


@pytest.mark.parametrize("case", ["import", "value-error-at-import"])
def test_init_error_log_lines_match(sides, case):
    source, handler = INIT_FAILURES[case]
    invs = run_both(sides, source, [{}], handler=handler)
    bundled, ric = (norm_logs(invs[r][0], sides[r]) for r in RUNTIMES)
    assert bundled == ric


# ---------------------------------------------------------------------------- results
RESULT_SOURCE = """
import datetime
import decimal
import math


def lambda_handler(event, context):
    kind = event["kind"]
    if kind == "decimals":
        return [decimal.Decimal("1.10"), decimal.Decimal("1E+2"), decimal.Decimal("-0"),
                decimal.Decimal("NaN"), decimal.Decimal("Infinity"),
                decimal.Decimal("3.14159265358979323846264338327950288"), {"k": decimal.Decimal("0.000001")}]
    if kind == "floats":
        return [math.nan, math.inf, -math.inf, 1e300, 0.1, -0.0, 10 ** 30, True, None]
    if kind == "unicode":
        return {"\\u00e9": "\\u00fc\\u2028\\U0001F600", "control": "\\x00\\x1f"}
    if kind == "keys":
        return {1: "a", None: "b", 2.5: "c", True: "d"}
    if kind == "bytes":
        return b"raw \\xff bytes"
    if kind == "tuple":
        return (1, "two")
    if kind == "none":
        return None
    if kind == "nested-bytes":
        return {"b": b"x"}
    if kind == "set":
        return {1, 2}
    if kind == "object":
        return object()
    if kind == "tuple-key":
        return {(1, 2): 3}
    if kind == "circular":
        loop = []
        loop.append(loop)
        return loop
    if kind == "datetime":
        return datetime.datetime(2020, 1, 1)
    if kind == "bytearray":
        return bytearray(b"x")
"""

RESULT_KINDS = ["decimals", "floats", "unicode", "keys", "bytes", "tuple", "none", "nested-bytes"]
MARSHAL_ERROR_KINDS = ["set", "object", "tuple-key", "circular", "datetime", "bytearray"]


@pytest.mark.parametrize("kind", RESULT_KINDS)
def test_result_bodies_match_byte_for_byte(sides, kind):
    invs = run_both(sides, RESULT_SOURCE, [{"kind": kind}])
    posted = {r: sides[r].wire.body(invs[r][0].request_id) for r in RUNTIMES}
    assert posted["bundled"] == posted["awslambdaric"]
    bundled, ric = invs["bundled"][0], invs["awslambdaric"][0]
    assert bundled.status == ric.status
    assert repr(bundled.result) == repr(ric.result)  # repr: NaN != NaN


@pytest.mark.parametrize("kind", MARSHAL_ERROR_KINDS)
def test_marshal_errors_match(sides, kind):
    invs = run_both(sides, RESULT_SOURCE, [{"kind": kind}])
    ric = invs["awslambdaric"][0]
    assert ric.error["errorType"] == "Runtime.MarshalError"
    assert ric.error["stackTrace"] == []
    assert_same_errors(sides, invs)
    bundled_logs, ric_logs = (norm_logs(invs[r][0], sides[r]) for r in RUNTIMES)
    assert bundled_logs == ric_logs


# ---------------------------------------------------------------------------- log lines
LOG_SOURCE = """
import logging
import sys

logger = logging.getLogger()
logger.warning("at init")


def lambda_handler(event, context):
    kind = event["kind"]
    if kind == "print":
        print("hello", 42)
        print("to stderr", file=sys.stderr)
        print("carriage\\rreturn")
        context.log("no newline")
        context.log(" then more\\n")
        print("partial", end="")
    elif kind == "default-level":
        logging.info("hidden at the default level")
        logging.warning("shown")
        logging.getLogger("child").error("from a child logger")
    elif kind == "set-level":
        logger.setLevel(logging.INFO)
        logger.info("info message")
        logging.debug("still hidden")
    elif kind == "exception":
        try:
            1 / 0
        except ZeroDivisionError:
            logger.exception("caught")
    elif kind == "stdout-buffer":
        sys.stdout.buffer.write(b"bytes through sys.stdout.buffer\\n")
        sys.stdout.flush()
    return kind
"""


@pytest.mark.parametrize("kind", ["print", "default-level", "set-level", "exception", "stdout-buffer"])
def test_log_lines_match(sides, kind):
    invs = run_both(sides, LOG_SOURCE, [{"kind": kind}])
    for runtime in RUNTIMES:
        assert invs[runtime][0].status == "succeeded", (runtime, invs[runtime][0].error)
    bundled, ric = (norm_logs(invs[r][0], sides[r]) for r in RUNTIMES)
    assert bundled == ric


def test_logging_line_format_when_the_handler_sets_a_level(sides):
    invs = run_both(sides, LOG_SOURCE, [{"kind": "set-level"}])
    for runtime in RUNTIMES:
        inv = invs[runtime][0]
        line = next(line for line in inv.logs if line.startswith("[INFO]"))
        assert re.fullmatch(r"\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t"
                            + re.escape(inv.request_id) + r"\tinfo message", line), (runtime, line)


@pytest.mark.parametrize("env", [{"AWS_LAMBDA_LOG_LEVEL": "DEBUG"}, {"AWS_LAMBDA_LOG_FORMAT": "JSON"}],
                         ids=["log-level-env", "json-log-format"])
def test_log_lines_match_under_logging_configuration(sides, env):
    invs = run_both(sides, LOG_SOURCE + "\nlogging.debug('debug at init')\n",
                    [{"kind": "default-level"}, {"kind": "exception"}], env=env)
    for i in range(2):
        bundled, ric = (norm_logs(invs[r][i], sides[r]) for r in RUNTIMES)
        assert bundled == ric


# ---------------------------------------------------------------------------- crashes
CRASH_SOURCE = """
import os
import sys


def lambda_handler(event, context):
    kind = event["kind"]
    if kind == "keyboard-interrupt":
        raise KeyboardInterrupt
    if kind == "exit-message":
        sys.exit("bye")
    if kind == "exit-0":
        sys.exit(0)
    if kind == "os-exit":
        os._exit(3)
"""


@pytest.mark.parametrize("kind", ["keyboard-interrupt", "exit-message", "exit-0", "os-exit"])
def test_runtime_exit_errors_match(sides, kind):
    invs = run_both(sides, CRASH_SOURCE, [{"kind": kind}])
    for runtime in RUNTIMES:
        assert invs[runtime][0].status == "crashed"
    assert_same_errors(sides, invs)


ENVIRON_SOURCE = """
import os


def lambda_handler(event, context):
    return dict(os.environ)
"""
# Paths and ids that differ between two managers by construction.
_PER_MANAGER = {"AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "TMPDIR", "PWD",
                "AWS_LAMBDA_LOG_STREAM_NAME", "_X_AMZN_TRACE_ID"}
# Set by CPython's locale coercion when LANG names a locale this machine lacks.
_MACHINE = {"LC_CTYPE"}


def test_environment_variables_match(sides):
    invs = run_both(sides, ENVIRON_SOURCE, [{}])
    seen = {r: invs[r][0].result for r in RUNTIMES}
    for runtime in RUNTIMES:
        assert _PER_MANAGER <= set(seen[runtime]), runtime
    bundled, ric = ({k: v for k, v in seen[r].items() if k not in _PER_MANAGER | _MACHINE} for r in RUNTIMES)
    assert bundled == ric
