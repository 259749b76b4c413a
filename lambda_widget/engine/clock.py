"""The manager's clock: real time plus whatever ``advance()`` added."""

from __future__ import annotations

import threading
import time


class Clock:
    """Seconds since the manager started. ``virtual=True`` stops real time from moving it."""

    def __init__(self, virtual: bool = False) -> None:
        self.virtual = virtual
        self._start = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        if self.virtual:
            return self._offset
        return time.monotonic() - self._start + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
