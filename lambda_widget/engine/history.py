"""The history's byte budget: older invocations keep their large payloads truncated, behind a marker.

The history holds at most ``max_history`` invocations, and at most ``max_history_bytes`` (64 MiB by
default) of their payloads: the event, the result, the error and the log output, counted as bytes of
JSON (of text, for the logs). Past that, the oldest records' payloads larger than ``KEPT_BYTES`` are
truncated: each becomes a marker string that says what was cut, how big it was, and shows its first
``KEPT_BYTES``. Everything else of a record (status, steps, durations, the REPORT line) stays whole.

A record is counted when its invocation ends, and the one being counted is never truncated in that
same call, so whoever waits for an invocation gets its payloads whole.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from lambda_widget.engine.records import Invocation

HISTORY_BYTES = 64 * 2**20
KEPT_BYTES = 1024
MARKER = "[lambda_widget: truncated]"  # how every marker starts
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_END_LINES = ("END RequestId: ", "REPORT RequestId: ")


def json_size(value: Any) -> int:
    """The size of ``value`` as JSON text (raw bytes and text as they are)."""
    if value is None or isinstance(value, (bool, int, float)):
        return 8
    if isinstance(value, (str, bytes)):
        return len(value)
    try:
        return len(_ENCODER.encode(value))
    except (TypeError, ValueError):
        return len(repr(value))


def logs_size(lines: Iterable[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def is_truncated(value: Any) -> bool:
    """True for a marker that stands for a truncated payload."""
    return isinstance(value, str) and value.startswith(MARKER)


def marker(what: str, value: Any, size: int, budget: int) -> str:
    """The text that replaces a payload: what, how big, and its first ``KEPT_BYTES``."""
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    elif isinstance(value, str):
        text = value
    else:
        try:
            text = _ENCODER.encode(value)
        except (TypeError, ValueError):
            text = repr(value)
    return (f"{MARKER} {what} of {size:,} bytes; the history keeps the newest {budget:,} bytes of "
            f"payloads whole. It began: {text[:KEPT_BYTES]}…")


class PayloadBudget:
    """The byte count of the history's payloads, and the truncation of the oldest ones past ``limit``."""

    def __init__(self, limit: int = HISTORY_BYTES) -> None:
        self.limit = limit
        self.total = 0
        self._lock = threading.Lock()
        # id(record) -> (record, its bytes), oldest first; a record is held here only while counted.
        self._counted: OrderedDict[int, tuple[Invocation, int]] = OrderedDict()

    def count(self, inv: Invocation) -> None:
        """Count a record whose invocation has ended; truncate older ones while over the limit."""
        with inv._lock:
            size = json_size(inv.event) + json_size(inv.result) + json_size(inv.error) + logs_size(inv.logs)
        truncated = []
        with self._lock:
            if id(inv) in self._counted:
                return
            self._counted[id(inv)] = (inv, size)
            self.total += size
            while self.total > self.limit and len(self._counted) > 1:
                _, (old, old_size) = self._counted.popitem(last=False)
                self.total -= old_size
                self._truncate(old)  # it stays in the history, small now (a few KiB at most), uncounted
                truncated.append(old)
        for old in truncated:
            old.touch()  # outside the lock: views re-render

    def forget(self, invs: Iterable[Invocation]) -> None:
        """Records that left the history no longer count."""
        with self._lock:
            for inv in invs:
                entry = self._counted.pop(id(inv), None)
                if entry is not None:
                    self.total -= entry[1]

    def clear(self) -> None:
        with self._lock:
            self.total = 0
            self._counted.clear()

    def _truncate(self, inv: Invocation) -> None:
        """Replace ``inv``'s payloads larger than ``KEPT_BYTES`` by markers."""
        with inv._lock:
            for name in ("event", "result"):
                value = getattr(inv, name)
                size = json_size(value)
                if size > KEPT_BYTES and not is_truncated(value):
                    value = marker(name, value, size, self.limit)
                    setattr(inv, name, value)
            if inv.error is not None and json_size(inv.error) > KEPT_BYTES:
                size = json_size(inv.error)
                inv.error = {"errorMessage": marker("error", inv.error, size, self.limit),
                             "errorType": str(inv.error.get("errorType", ""))[:KEPT_BYTES]
                             if isinstance(inv.error, dict) else ""}
            if logs_size(inv.logs) > KEPT_BYTES:
                inv.logs = _truncated_logs(inv.logs, self.limit)


def _truncated_logs(lines: list[str], budget: int) -> list[str]:
    """The first lines (up to ``KEPT_BYTES``), a marker line, and the END and REPORT lines."""
    tail_from = len(lines)
    while tail_from > 0 and lines[tail_from - 1].startswith(_END_LINES):
        tail_from -= 1
    head: list[str] = []
    used = 0
    for line in lines[:tail_from]:
        if used + len(line) + 1 > KEPT_BYTES:
            break
        head.append(line)
        used += len(line) + 1
    cut = logs_size(lines[len(head):tail_from])
    note = (f"{MARKER} {cut:,} bytes of log output; the history keeps the newest {budget:,} bytes of "
            f"payloads whole.")
    return head + [note] + lines[tail_from:]
