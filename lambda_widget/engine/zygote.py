"""The kernel side of the zygote: asks it to fork environments and tracks their exits.

If the zygote dies (a handler killed it), the environments it forked live on: their
in-flight invocations finish, ``on_lost`` tells the manager which they are, and the next
environment is forked by a new zygote.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambda_widget.engine.environment import Launcher


class ForkedProcess:
    """A Popen-like handle on an environment process forked by the zygote."""

    def __init__(self, pid: int, stdout_fd: int, server: _Server) -> None:
        self.pid = pid
        self.stdout = os.fdopen(stdout_fd, "rb", buffering=0)
        self.returncode: int | None = None
        self._server = server
        self._exited = threading.Event()

    def _set_exit(self, code: int | None) -> None:
        self.returncode = code
        self._exited.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        if self._exited.wait(timeout if not self._server.dead else 0):
            return self.returncode
        if self._server.dead:
            # Nobody will report this exit (its zygote is gone): see for ourselves.
            deadline = None if timeout is None else _monotonic() + timeout
            while _alive(self.pid):
                if deadline is not None and _monotonic() >= deadline:
                    break
                self._exited.wait(0.005)
            if not _alive(self.pid):
                self._set_exit(-signal.SIGKILL)
                return self.returncode
        raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _monotonic() -> float:
    import time

    return time.monotonic()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rfind(b")") + 2:][:1] not in (b"Z", b"X")
    except OSError:
        return False


class _Server:
    """One zygote process and what it forked (a zygote that dies is replaced by a new one)."""

    def __init__(self, proc: subprocess.Popen, sock: socket.socket) -> None:
        self.proc = proc
        self.sock = sock
        self.dead = False
        self.ready = threading.Event()
        self.pending: dict[int, list] = {}
        self.procs: dict[int, ForkedProcess] = {}
        self.early_exits: dict[int, int] = {}


class Zygote:
    """One template process per manager and interpreter; started on first use, restarted if it dies.

    ``python``: the interpreter it runs (the kernel's by default); the bundled runtime is
    standard-library only, so ``environ``'s ``PYTHONPATH`` to the package is all it needs."""

    def __init__(self, launcher: Launcher, environ: dict[str, str], freezer: str = "",
                 on_lost: Callable[[list[int]], None] | None = None, python: str | None = None) -> None:
        self.python = python or sys.executable
        self._launcher = launcher
        self._environ = environ
        self._freezer = freezer
        self.on_lost = on_lost
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: _Server | None = None
        self.restarts = 0
        self.standby = 0  # the pid of the ready sandbox's PID 1 (namespaces mode), if any

    @property
    def dead(self) -> bool:
        return self._server is None or self._server.dead

    @property
    def proc(self) -> subprocess.Popen | None:
        return self._server.proc if self._server is not None else None

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the template has imported the runtime (a no-op once it has)."""
        self.start()
        server = self._server
        if server is not None:
            server.ready.wait(timeout)

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        proc = self._launcher.popen(
            [self.python, "-m", "lambda_widget.runtime.zygote", "--parent", str(os.getpid()),
             "--fd", str(theirs.fileno()), "--freezer", self._freezer],
            pass_fds=[theirs.fileno()], env=self._environ, cwd="/", stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        if self._server is not None:
            self.restarts += 1
        server = self._server = _Server(proc, ours)
        threading.Thread(target=self._read, args=(server,), name="lambda-zygote", daemon=True).start()

    def _read(self, server: _Server) -> None:
        while True:
            try:
                msg = server.sock.recv(65536)
            except OSError:
                msg = b""
            if not msg:
                break
            data = json.loads(msg)
            with self._lock:
                if "ready" in data:
                    server.ready.set()
                elif "standby" in data:  # the sandbox made ahead for the next cold start
                    self.standby = data["standby"]
                elif "spawned" in data:
                    box = server.pending.pop(data["spawned"], None)
                    if box is not None:
                        box[1] = data["pid"]
                        box[0].set()
                elif "exit" in data:
                    proc = server.procs.pop(data["exit"], None)
                    if proc is None:
                        server.early_exits[data["exit"]] = data["code"]
                    else:
                        proc._set_exit(data["code"])
        with self._lock:
            orphaned = not server.dead  # not stopped by us: it died
            server.dead = True
            server.ready.set()
            for box in server.pending.values():
                box[0].set()
            server.pending.clear()
            lost = [pid for pid, p in server.procs.items() if p.returncode is None]
        try:
            server.sock.close()
        except OSError:
            pass
        if orphaned and server.proc.poll() is None:
            try:
                server.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if orphaned and lost and self.on_lost is not None:
            self.on_lost(lost)

    def start(self) -> None:
        """Start the template now, so its own start-up never lands in an environment's Init Duration."""
        with self._lock:
            if self.dead:
                self._start()

    def spawn(self, environ: dict[str, str], cwd: str, options: dict,
              api: socket.socket | None = None, sandbox: dict | None = None,
              extra_fds: list[int] = (), argv: list[str] | None = None) -> ForkedProcess:
        """Fork an environment; ``api`` (a Runtime API connection) is passed to it as a descriptor.
        ``sandbox``: the namespaces and groups it enters (see ``lambda_widget.runtime.sandbox``).
        ``extra_fds``: a SnapStart snapshot's control channel (the runtime's ``control_fd``).
        ``argv``: a command the environment executes once in its sandbox, instead of the bundled
        runtime (awslambdaric, an exec wrapper); ``{api_fd}``, ``{control_fd}`` and ``{trace_file}``
        in it become what the environment received."""
        with self._lock:
            if self.dead:
                self._start()
            server = self._server
            ident = next(self._ids)
            box: list = [threading.Event(), None]
            server.pending[ident] = box
        read_fd, write_fd = os.pipe()
        try:
            roles = ["out"] + (["api"] if api is not None else []) + ["control"] * len(extra_fds)
            body = json.dumps({"env": environ, "cwd": cwd, "options": options, "sandbox": sandbox,
                               "argv": argv, "fd_roles": roles})
            msg = b"%d%s\n%s" % (ident, b" sandbox" if sandbox else b"", body.encode())
            socket.send_fds(server.sock, [msg], [write_fd] + ([api.fileno()] if api is not None else [])
                            + list(extra_fds))
        except OSError as exc:
            os.close(read_fd)
            raise RuntimeError(f"the zygote is gone: {exc}") from None
        finally:
            os.close(write_fd)
        box[0].wait(10)
        if not box[1]:
            os.close(read_fd)
            raise RuntimeError("the zygote did not fork an environment")
        proc = ForkedProcess(box[1], read_fd, server)
        with self._lock:
            server.procs[proc.pid] = proc
            if proc.pid in server.early_exits:
                proc._set_exit(server.early_exits.pop(proc.pid))
        return proc

    def stop(self) -> None:
        with self._lock:
            server = self._server
            if server is None:
                return
            server.dead = True
        try:
            server.sock.close()
        except OSError:
            pass
        if server.proc.poll() is None:
            server.proc.kill()
            try:
                server.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def wait_readable(fd: int, timeout: float) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])
