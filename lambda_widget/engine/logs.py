"""CloudWatch text-format platform lines: INIT_START, START, END, REPORT, INIT_REPORT."""

from __future__ import annotations

import math
import sys

RUNTIME_VERSION = f"python:{sys.version_info.major}.{sys.version_info.minor}.lambda-widget"


def init_start() -> str:
    return (f"INIT_START Runtime Version: {RUNTIME_VERSION}\tRuntime Version ARN: "
            f"arn:aws:lambda:local::runtime:lambda-widget")


def start(request_id: str, version: str = "$LATEST") -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def billed(duration_ms: float, init_duration_ms: float | None) -> int:
    """ceil(Duration + Init Duration): Lambda bills the init of on-demand cold starts since 2025-08."""
    return math.ceil(round(duration_ms + (init_duration_ms or 0.0), 2))


def report(request_id: str, duration_ms: float, billed_ms: int, memory_mb: int, max_used_mb: int,
           init_duration_ms: float | None = None, status: str | None = None,
           error_type: str | None = None, restore_duration_ms: float | None = None,
           billed_restore_ms: int | None = None) -> str:
    fields = [f"REPORT RequestId: {request_id}", f"Duration: {duration_ms:.2f} ms",
              f"Billed Duration: {billed_ms} ms", f"Memory Size: {memory_mb} MB",
              f"Max Memory Used: {max_used_mb} MB"]
    if init_duration_ms is not None:
        fields.append(f"Init Duration: {init_duration_ms:.2f} ms")
    if restore_duration_ms is not None:  # SnapStart
        fields.append(f"Restore Duration: {restore_duration_ms:.2f} ms")
        fields.append(f"Billed Restore Duration: {billed_restore_ms} ms")
    if status == "timeout":
        fields.append("Status: timeout")
    elif status == "error":
        fields.append("Status: error")
        if error_type:
            fields.append(f"Error Type: {error_type}")
    return "\t".join(fields)


def init_report(init_duration_ms: float, phase: str, status: str, error_type: str) -> str:
    return (f"INIT_REPORT Init Duration: {init_duration_ms:.2f} ms\tPhase: {phase}\t"
            f"Status: {status}\tError Type: {error_type}")


def exit_message(code: int | None) -> str:
    """The platform's words for a runtime that exited (RIE's watchEvents)."""
    if code == 0:
        return "Runtime exited without providing a reason"
    if code is not None and code < 0:
        import signal

        try:
            name = signal.Signals(-code).name[3:].lower()
        except ValueError:
            name = str(-code)
        names = {"kill": "killed", "segv": "segmentation fault", "abrt": "aborted",
                 "term": "terminated", "bus": "bus error", "fpe": "floating point exception",
                 "ill": "illegal instruction", "int": "interrupt", "hup": "hangup"}
        return f"Runtime exited with error: signal: {names.get(name, name)}"
    return f"Runtime exited with error: exit status {code}"
