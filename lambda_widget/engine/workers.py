"""Worker threads for invocations: daemon threads, so a running invocation never holds up
the interpreter's exit (ThreadPoolExecutor joins its workers before atexit handlers run)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from lambda_widget.engine.gil import switch_interval


class Workers:
    """At most ``size`` invocations at once; threads start on demand and live until ``stop()``."""

    def __init__(self, size: int, name: str = "lambda-invoke") -> None:
        self.size = size
        self.name = name
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._owed = 0  # threads wanted but not started yet
        self._spawning = 0  # threads busy starting them
        self._lock = threading.Lock()
        self._stopped = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        with self._lock:
            if self._stopped:
                raise RuntimeError("the workers have been stopped")
            self._jobs.put((future, fn, args))
            if self._idle > 0:
                self._idle -= 1  # a waiting thread takes it
                return future
            if len(self._threads) + self._owed >= self.size:
                return future  # it waits its turn
            self._owed += 1
            if self._spawning:
                return future  # a thread already starting others will start this one too
            self._spawning += 1
        self._spawn()
        return future

    def _spawn(self) -> None:
        """Start owed threads until none is owed. ``Thread.start`` waits for the new thread to
        run, which costs a GIL hand-over: one after another from the caller, 1,000 of them took
        10 s. Every new thread helps start the rest, so the starts overlap."""
        while True:
            with self._lock:
                if self._owed == 0 or self._stopped:
                    self._spawning -= 1
                    return
                self._owed -= 1
                thread = threading.Thread(target=self._loop, daemon=True,
                                          name=f"{self.name}-{len(self._threads) + 1}")
                self._threads.append(thread)
            try:
                thread.start()
            except RuntimeError:  # "can't start new thread": the jobs wait for the threads there are
                with self._lock:
                    self._threads.remove(thread)
                    self._owed = 0
                    self._spawning -= 1
                    if not self._threads:
                        raise
                return

    def _loop(self) -> None:
        with self._lock:
            helps = self._owed > 0 and not self._stopped
            if helps:
                self._spawning += 1
        if helps:
            self._spawn()
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, fn, args = job
            if future.set_running_or_notify_cancel():
                switch_interval.enter()
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    future.set_exception(exc)
                finally:
                    switch_interval.leave()
            with self._lock:
                self._idle += 1

    def stop(self) -> None:
        """Cancel queued jobs and let the threads end (running jobs finish on their own)."""
        with self._lock:
            self._stopped = True
            pending = []
            while True:
                try:
                    pending.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            for job in pending:
                if job is not None:
                    job[0].cancel()
            for _ in self._threads:
                self._jobs.put(None)
