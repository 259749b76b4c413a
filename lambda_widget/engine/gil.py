"""The interpreter's thread switch interval, lengthened while a large burst runs.

Every running invocation has a thread in the kernel (and its runtime's connection another).
A thread waiting for the GIL wakes every switch interval (5 ms) to ask for it, so with a
thousand of them runnable at once (a burst's responses arriving together) the kernel spent
most of its time in futex calls: 14 s of system CPU to finish a 1,000-environment burst,
0.7 s with a 50 ms interval. The interval goes back to what it was when the burst ends.
"""

from __future__ import annotations

import sys
import threading

BURST = 64          # running invocations from which the longer interval applies ...
CALM = 32           # ... until fewer than this many run
INTERVAL = 0.05     # seconds


class SwitchInterval:
    """Counts running invocations (all managers together) and sets the interval to match."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._saved: float | None = None

    def enter(self) -> None:
        with self._lock:
            self._running += 1
            if self._saved is None and self._running >= BURST:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(max(self._saved, INTERVAL))

    def leave(self) -> None:
        with self._lock:
            self._running -= 1
            if self._saved is not None and self._running < CALM:
                sys.setswitchinterval(self._saved)
                self._saved = None


switch_interval = SwitchInterval()
