"""The kernel side of the zygote: asks it to fork environments and tracks their exits."""

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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambda_widget.engine.environment import Launcher


class ForkedProcess:
    """A Popen-like handle on an environment process forked by the zygote."""

    def __init__(self, pid: int, stdout_fd: int, zygote: Zygote) -> None:
        self.pid = pid
        self.stdout = os.fdopen(stdout_fd, "rb", buffering=0)
        self.returncode: int | None = None
        self._zygote = zygote
        self._exited = threading.Event()

    def _set_exit(self, code: int | None) -> None:
        self.returncode = code
        self._exited.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        if self._exited.wait(timeout if not self._zygote.dead else 0):
            return self.returncode
        if self._zygote.dead:
            # Nobody will report this exit: the zygote is gone, and PDEATHSIG killed its children.
            if not _alive(self.pid):
                self._set_exit(-signal.SIGKILL)
                return self.returncode
        raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rfind(b")") + 2:][:1] not in (b"Z", b"X")
    except OSError:
        return False


class Zygote:
    """One template process per manager; started on first use, restarted if it dies."""

    def __init__(self, launcher: Launcher, environ: dict[str, str]) -> None:
        self._launcher = launcher
        self._environ = environ
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[int, list] = {}
        self._procs: dict[int, ForkedProcess] = {}
        self._early_exits: dict[int, int] = {}
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.dead = True
        self._ready = threading.Event()

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the template has imported the runtime (a no-op once it has)."""
        self.start()
        self._ready.wait(timeout)

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = self._launcher.popen(
            [sys.executable, "-m", "lambda_widget.runtime.zygote", "--parent", str(os.getpid()),
             "--fd", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], env=self._environ, cwd="/", stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self.sock = ours
        self.dead = False
        self._ready = threading.Event()
        threading.Thread(target=self._read, args=(ours,), name="lambda-zygote", daemon=True).start()

    def _read(self, sock: socket.socket) -> None:
        while True:
            try:
                msg = sock.recv(65536)
            except OSError:
                msg = b""
            if not msg:
                break
            data = json.loads(msg)
            with self._lock:
                if "ready" in data:
                    self._ready.set()
                elif "spawned" in data:
                    box = self._pending.pop(data["spawned"], None)
                    if box is not None:
                        box[1] = data["pid"]
                        box[0].set()
                elif "exit" in data:
                    proc = self._procs.pop(data["exit"], None)
                    if proc is None:
                        self._early_exits[data["exit"]] = data["code"]
                    else:
                        proc._set_exit(data["code"])
        with self._lock:
            self.dead = True
            self._ready.set()
            for box in self._pending.values():
                box[0].set()
            self._pending.clear()

    def start(self) -> None:
        """Start the template now, so its own start-up never lands in an environment's Init Duration."""
        with self._lock:
            if self.dead:
                self._start()

    def spawn(self, environ: dict[str, str], cwd: str, options: dict,
              api: socket.socket | None = None) -> ForkedProcess:
        """Fork an environment; ``api`` (a Runtime API connection) is passed to it as a descriptor."""
        with self._lock:
            if self.dead:
                self._start()
            ident = next(self._ids)
            box: list = [threading.Event(), None]
            self._pending[ident] = box
        read_fd, write_fd = os.pipe()
        try:
            body = json.dumps({"env": environ, "cwd": cwd, "options": options})
            msg = b"%d\n%s" % (ident, body.encode())
            socket.send_fds(self.sock, [msg], [write_fd] + ([api.fileno()] if api is not None else []))
        except OSError as exc:
            os.close(read_fd)
            raise RuntimeError(f"the zygote is gone: {exc}") from None
        finally:
            os.close(write_fd)
        box[0].wait(10)
        if box[1] is None:
            os.close(read_fd)
            raise RuntimeError("the zygote did not fork an environment")
        proc = ForkedProcess(box[1], read_fd, self)
        with self._lock:
            self._procs[proc.pid] = proc
            if proc.pid in self._early_exits:
                proc._set_exit(self._early_exits.pop(proc.pid))
        return proc

    def stop(self) -> None:
        with self._lock:
            sock, proc = self.sock, self.proc
            self.dead = True
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
        if proc is not None and proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def wait_readable(fd: int, timeout: float) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])
