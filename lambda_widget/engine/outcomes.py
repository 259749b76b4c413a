"""What an environment reports to the invocation waiting on it (its outcome queue), and the error
payloads made from it: shared by ordinary invokes and SnapStart restores."""

from __future__ import annotations

import json
import queue
import time
from typing import Any

from lambda_widget.engine import logs

_TAGGED = ("response", "error", "too-large", "cancel")
_KNOWN = _TAGGED + ("ready", "init-error", "exit", "oom", "timeout", "extension")


def _get(q: queue.Queue, timeout: float, request_id: str | None = None,
         skip: tuple[str, ...] = ()) -> tuple:
    """The next outcome that concerns this invocation: items of another request (a late
    cancel, a second response) and anything unknown are dropped."""
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        item = q.get(timeout=max(0.0, deadline - time.monotonic()))
        kind = item[0] if isinstance(item, tuple) and item else None
        if kind not in _KNOWN or kind in skip:
            continue
        if kind in _TAGGED and (len(item) < 2 or item[1] != request_id):
            continue
        return item


def _load_error(body: bytes, error_type: str) -> dict:
    try:
        error = json.loads(body)
        if not isinstance(error, dict):
            raise ValueError
    except ValueError:
        error = {"errorMessage": body.decode("utf-8", "replace"), "errorType": error_type or "Runtime.Unknown"}
    return error


def _init_error_type(outcome: str, detail: Any) -> str:
    if outcome == "error" and isinstance(detail, dict):
        return detail.get("errorType") or "Runtime.Unknown"
    if outcome == "timeout":
        return "Runtime.Unknown"
    return "Runtime.ExitError"


def _init_error_payload(outcome: str, detail: Any, rid: str, timeout: float) -> dict:
    if outcome == "error":  # an init error belongs to no request: requestId "" (recorded)
        return {"errorMessage": detail.get("errorMessage", ""), "errorType": detail.get("errorType", ""),
                "requestId": "", "stackTrace": detail.get("stackTrace", [])}
    if outcome == "timeout":
        return {"errorMessage": f"RequestId: {rid} Error: Task timed out after {timeout:.2f} seconds",
                "errorType": "Sandbox.Timedout"}
    return {"errorMessage": f"RequestId: {rid} Error: {logs.exit_message(detail)}",
            "errorType": "Runtime.ExitError"}
