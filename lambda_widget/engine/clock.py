"""The manager's clock: real time plus whatever ``advance()`` added."""

from __future__ import annotations

import math
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
        """Move forward by ``seconds``: a finite number >= 0 (NaN or infinity would stop the
        reaper for ever, and make the records invalid JSON)."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
            raise ValueError(f"seconds must be a finite number >= 0, not {seconds!r}")
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            if not math.isfinite(self._offset + seconds):
                raise ValueError(f"the clock cannot move {seconds!r} seconds further")
            self._offset += seconds
