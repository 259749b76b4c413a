"""CloudWatch text-format logs: INIT_START, START, the handler's output, END, REPORT."""

from __future__ import annotations

import math
import re

from conftest import report_fields

LOG_SOURCE = """import sys
import time


def lambda_handler(event, context):
    if event.get('hang'):
        while True:
            time.sleep(0.05)
    print('hello')
    print('to stderr', file=sys.stderr)
    print('world')
    return 'ok'
"""

TWO_DECIMALS = re.compile(r"^(\d+\.\d{2}) ms$")
WHOLE_MS = re.compile(r"^(\d+) ms$")
WHOLE_MB = re.compile(r"^(\d+) MB$")


def _ms(value: str) -> float:
    match = TWO_DECIMALS.match(value)
    assert match, value
    return float(match[1])


def _int(pattern: re.Pattern, value: str) -> int:
    match = pattern.match(value)
    assert match, value
    return int(match[1])


def test_cold_invocation_logs_in_cloudwatch_format(module_mgr):
    module_mgr.register("logs-cold", LOG_SOURCE)
    inv = module_mgr.invoke("logs-cold", {})
    rid = inv.request_id

    assert inv.logs[0].startswith("INIT_START Runtime Version: ")
    assert "\tRuntime Version ARN: " in inv.logs[0]
    assert inv.logs[1:-1] == [f"START RequestId: {rid} Version: $LATEST", "hello", "to stderr", "world",
                              f"END RequestId: {rid}"]
    fields = report_fields(inv)
    assert list(fields) == ["RequestId", "Duration", "Billed Duration", "Memory Size", "Max Memory Used",
                            "Init Duration"]
    assert fields["RequestId"] == rid
    duration, init = _ms(fields["Duration"]), _ms(fields["Init Duration"])
    billed = _int(WHOLE_MS, fields["Billed Duration"])
    assert billed == math.ceil(round(duration + init, 2))
    assert fields["Memory Size"] == "128 MB"
    used = _int(WHOLE_MB, fields["Max Memory Used"])
    assert used > 0
    assert (inv.duration_ms, inv.init_duration_ms, inv.billed_duration_ms, inv.max_memory_used_mb) == \
        (duration, init, billed, used)


def test_warm_invocation_has_no_init_lines(module_mgr):
    module_mgr.register("logs-warm", LOG_SOURCE, memory_mb=256)
    module_mgr.invoke("logs-warm", {})
    inv = module_mgr.invoke("logs-warm", {})
    rid = inv.request_id

    assert inv.cold is False
    assert inv.logs[:-1] == [f"START RequestId: {rid} Version: $LATEST", "hello", "to stderr", "world",
                             f"END RequestId: {rid}"]
    fields = report_fields(inv)
    assert list(fields) == ["RequestId", "Duration", "Billed Duration", "Memory Size", "Max Memory Used"]
    assert _int(WHOLE_MS, fields["Billed Duration"]) == math.ceil(_ms(fields["Duration"]))
    assert fields["Memory Size"] == "256 MB"
    assert _int(WHOLE_MB, fields["Max Memory Used"]) > 0
    assert inv.init_duration_ms is None


def test_timeout_report_and_the_suppressed_reinit_after_it(module_mgr):
    module_mgr.register("logs-timeout", LOG_SOURCE, timeout=1)
    module_mgr.invoke("logs-timeout", {})
    hung = module_mgr.invoke("logs-timeout", {"hang": True})

    fields = report_fields(hung)
    assert list(fields) == ["RequestId", "Duration", "Billed Duration", "Memory Size", "Max Memory Used",
                            "Status"]
    assert (fields["Duration"], fields["Billed Duration"], fields["Status"]) == \
        ("1000.00 ms", "1000 ms", "timeout")
    assert _int(WHOLE_MB, fields["Max Memory Used"]) > 0
    assert hung.logs[-2] == f"END RequestId: {hung.request_id}"

    reinit = module_mgr.invoke("logs-timeout", {})
    assert (reinit.cold, reinit.cold_reason) == (True, "reset-after-timeout")
    assert "Init Duration" not in report_fields(reinit)
    assert reinit.init_duration_ms is None
    assert "hello" in reinit.logs


def test_init_start_on_every_fresh_environment(module_mgr):
    module_mgr.register("logs-fresh", LOG_SOURCE, idle_timeout=40)
    first = module_mgr.invoke("logs-fresh", {})
    module_mgr.advance(40)
    expired = module_mgr.invoke("logs-fresh", {})

    for inv in (first, expired):
        assert inv.cold and inv.logs[0].startswith("INIT_START ")
        assert "Init Duration" in report_fields(inv), (inv.logs, inv.container_id, inv.cold_reason, module_mgr.events[-12:])
    assert expired.cold_reason == "idle-expired"


def test_crash_report_measures_the_memory_the_process_used(module_mgr):
    source = "import os\n\n\ndef lambda_handler(event, context):\n    data = bytearray(8 * 1024 * 1024)\n" \
             "    os._exit(3)\n"
    module_mgr.register("logs-crash", source)
    inv = module_mgr.invoke("logs-crash", {})

    fields = report_fields(inv)
    assert (fields["Status"], fields["Error Type"]) == ("error", "Runtime.ExitError")
    assert _int(WHOLE_MB, fields["Max Memory Used"]) > 0
