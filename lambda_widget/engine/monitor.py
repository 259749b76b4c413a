"""One thread that watches every environment: output pipes, process exits, and the reaper's tick."""

from __future__ import annotations

import os
import selectors
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambda_widget.engine.environment import ExecutionEnvironment

TICK = 0.25


class Monitor:
    def __init__(self, on_exit: Callable[[ExecutionEnvironment, object, int | None], None],
                 on_tick: Callable[[], None]) -> None:
        self.on_exit = on_exit
        self.on_tick = on_tick
        self.selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._pending: list[ExecutionEnvironment] = []
        self._lock = threading.Lock()
        self._stopped = False
        self.thread = threading.Thread(target=self._loop, name="lambda-monitor", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def watch(self, env: ExecutionEnvironment) -> None:
        with self._lock:
            self._pending.append(env)
        self._wake()

    def stop(self) -> None:
        self._stopped = True
        self._wake()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(timeout=5)

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _add_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for env in pending:
            proc = env.proc
            if proc is None:
                continue
            try:
                pidfd = os.pidfd_open(proc.pid)
            except OSError:
                pidfd = None
            if pidfd is not None:
                self.selector.register(pidfd, selectors.EVENT_READ, ("exit", (env, proc, pidfd)))
            if proc.stdout is not None:
                try:
                    self.selector.register(proc.stdout.fileno(), selectors.EVENT_READ,
                                           ("out", (env, proc, pidfd is None)))
                except (ValueError, KeyError, OSError):
                    pass

    def _loop(self) -> None:
        while not self._stopped:
            self._add_pending()
            for key, _ in self.selector.select(timeout=TICK):
                kind, data = key.data
                if kind == "wake":
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
                elif kind == "out":
                    env, proc, exit_on_eof = data
                    if not env.read_output():
                        self._unregister(key.fd)
                        if exit_on_eof:  # no pidfd (Linux < 5.3): the pipe's end is the exit
                            self._exited(env, proc)
                else:
                    env, proc, pidfd = data
                    self._unregister(pidfd)
                    os.close(pidfd)
                    self._exited(env, proc)
            self.on_tick()
        for key in list(self.selector.get_map().values()):
            if key.data[0] == "exit":
                os.close(key.fd)
        self.selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _exited(self, env: ExecutionEnvironment, proc) -> None:
        try:
            code = proc.wait(timeout=5)
        except Exception:  # noqa: BLE001 - reaped elsewhere
            code = proc.returncode
        env.read_output()
        if proc.stdout is not None and not proc.stdout.closed:
            self._unregister(proc.stdout.fileno())
            with env.output.lock:
                proc.stdout.close()
        self.on_exit(env, proc, code)

    def _unregister(self, fd: int) -> None:
        try:
            self.selector.unregister(fd)
        except (KeyError, ValueError):
            pass
