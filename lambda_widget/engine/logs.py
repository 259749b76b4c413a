"""CloudWatch text-format platform lines: INIT_START, START, END, REPORT, INIT_REPORT, and the
``LogType=Tail`` text, as AWS writes them (recorded: tests/data/aws_recorded/lambda.json).

An invocation's ``logs`` are what CloudWatch shows for it (INIT_START included, as CloudWatch has
it); the Tail is the same lines without INIT_START, which AWS's recorded tails never show.
"""

from __future__ import annotations

import hashlib
import math
import sys

# AWS's shape, python:3.13.v14: this Python's version, its patch level as the runtime release.
RUNTIME_VERSION = f"python:{sys.version_info.major}.{sys.version_info.minor}.v{sys.version_info.micro}"
RUNTIME_VERSION_ID = hashlib.sha256(sys.version.encode()).hexdigest()  # 64 hex, as AWS's ids


def init_start(region: str = "us-east-1", python_version: str | None = None) -> str:
    """``python_version``: the function's interpreter (``3.12.1``), when not this kernel's."""
    version, ident = RUNTIME_VERSION, RUNTIME_VERSION_ID
    if python_version:
        major, minor, micro = (python_version.split(".") + ["0", "0"])[:3]
        version = f"python:{major}.{minor}.v{micro}"
        if version != RUNTIME_VERSION:
            ident = hashlib.sha256(python_version.encode()).hexdigest()
    return (f"INIT_START Runtime Version: {version}\tRuntime Version ARN: "
            f"arn:aws:lambda:{region}::runtime:{ident}")


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
    """The REPORT line: tab-separated fields, and a tab after the last one (as AWS writes it).
    ``status`` "timeout" or "error" (with ``error_type``) only for what AWS reports so: a
    timeout, a crash, running out of memory, a failed init; never a handled exception.
    ``restore_duration_ms``: SnapStart's Restore Duration and Billed Restore Duration."""
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
    return "\t".join(fields) + "\t"


def tail(lines: list[str], limit: int = 4096) -> bytes:
    """``X-Amz-Log-Result`` before base64: the invocation's log lines (no INIT_START, which
    AWS's tails do not have), each ending in a newline, the last ``limit`` bytes. The runtime's
    ``[ERROR]`` entry keeps its lines together with ``\\r`` in a pipe; AWS's log has ``\\n``."""
    out = []
    for line in lines:
        if line.startswith("INIT_START "):
            continue
        if line.startswith("[ERROR]"):
            line = line.replace("\r", "\n")
        out.append(line + "\n")
    return "".join(out).encode("utf-8", "replace")[-limit:]


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
