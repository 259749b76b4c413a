"""Coalesce bursts of change notifications into few renders, off the engine's threads."""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

COST_FACTOR = 4  # renders start at least this many times their own duration apart


class _Scheduler:
    """One daemon thread runs every view's due renders (not a new thread per render)."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._heap: list[tuple[float, int, list]] = []
        self._seq = 0
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, fn: Callable[[], None]) -> list:
        """Schedule ``fn``; returns a handle whose ``handle[0] = True`` cancels it."""
        handle = [False, fn]
        with self._cv:
            self._seq += 1
            heapq.heappush(self._heap, (time.monotonic() + delay, self._seq, handle))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="lambda-views", daemon=True)
                self._thread.start()
            self._cv.notify()
        return handle

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._cv.wait(None if not self._heap else self._heap[0][0] - time.monotonic())
                _, _, handle = heapq.heappop(self._heap)
            if not handle[0]:
                handle[1]()


_scheduler = _Scheduler()


class Coalescer:
    """Call ``render`` at most once per ``interval`` seconds after changes, always once after the last.

    ``poke`` is cheap and safe from any thread (engine callbacks); the render runs on a
    timer thread, so a burst of a thousand invocations costs a handful of renders.
    """

    def __init__(self, render: Callable[[], None], interval: float = 0.15) -> None:
        self._render = render
        self.interval = interval
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._timer: list | None = None
        self._closed = False
        self._cost = 0.0  # seconds the last render took

    @property
    def next_delay(self) -> float:
        """Seconds from a change to its render: the interval, or more after a slow render."""
        return max(self.interval, COST_FACTOR * self._cost)

    @property
    def pending(self) -> bool:
        return self._timer is not None

    def poke(self, *_: Any) -> None:
        """Something changed: render within ``interval`` seconds (unless a render is already due)."""
        with self._lock:
            if self._closed or self._timer is not None:
                return
            # A view of 1,000 environments takes ~50 ms to render: spacing renders by a multiple
            # of their cost keeps a big pool from taking a core (and the browser's bandwidth).
            self._timer = _scheduler.call_later(self.next_delay, self._fire)

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
            if self._closed:
                return
        self.render_now()

    def render_now(self) -> None:
        """Render at once, on this thread (one render at a time)."""
        with self._render_lock:
            t0 = time.perf_counter()
            try:
                self._render()
            except Exception:  # noqa: BLE001 - a broken render must not kill the timer thread silently
                log.exception("lambda_widget view render failed")
            self._cost = time.perf_counter() - t0

    def flush(self) -> None:
        """Render now, cancelling a due render; afterwards the output reflects the records as they are.

        Unconditional: a render the timer already started may have read the records before
        the latest change, and this one runs after it.
        """
        with self._lock:
            timer, self._timer = self._timer, None
            closed = self._closed
        if timer is not None:
            timer[0] = True
        if not closed:
            self.render_now()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer[0] = True
