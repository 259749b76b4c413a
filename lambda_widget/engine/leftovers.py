"""Nothing of a manager outlives it: its directory and its environments' process groups.

A manager's directory (``lambda-widget-…`` in the temp dir) holds an ``owner`` file
(pid and start time of the process that made it). ``sweep_stale()`` removes, at start-up,
the directories whose owner is gone. While the manager lives, a small sentinel process
holds the read end of a pipe: when the kernel dies, even of SIGKILL, the pipe reaches end
of file, and the sentinel kills the process groups of the environments still alive and
removes the directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

PREFIX = "lambda-widget-"
OWNER = "owner"

_SENTINEL = r"""
import os, shutil, signal, sys
root, groups, buf = sys.argv[1], {}, b""
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    try:
        data = os.read(0, 65536)
    except InterruptedError:
        continue
    except OSError:
        data = b""
    if not data:
        break
    buf += data
    *lines, buf = buf.split(b"\n")
    for line in lines:
        op, _, rest = line.partition(b" ")
        if op == b"+":
            key, _, pgid = rest.partition(b" ")
            groups[key] = int(pgid)
        elif op == b"-":
            groups.pop(rest, None)
for pgid in groups.values():
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
shutil.rmtree(root, ignore_errors=True)
"""


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks after boot), which tells a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    return fields[19].decode() if len(fields) > 19 else None


def make_root() -> Path:
    """A new private directory for this process's manager, with its owner recorded."""
    # The name stays as short as it was: handlers see paths under it, and views shorten them.
    root = Path(tempfile.mkdtemp(prefix=PREFIX))
    (root / OWNER).write_text(f"{os.getpid()} {_start_time(os.getpid()) or ''}\n")
    return root


def _owner_gone(path: Path) -> bool:
    try:
        pid_text, _, started = (path / OWNER).read_text().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return False  # not ours to judge (an older layout, or being created right now)
    now = _start_time(pid)
    return now is None or (bool(started) and now != started)


def sweep_stale(tmp: str | None = None) -> list[str]:
    """Remove this user's manager directories whose owning process is gone; returns their paths."""
    tmp = tmp or tempfile.gettempdir()
    removed = []
    try:
        names = [n for n in os.listdir(tmp) if n.startswith(PREFIX)]
    except OSError:
        return removed
    uid = os.getuid()
    for name in names:
        path = Path(tmp) / name
        try:
            if path.is_symlink() or not path.is_dir() or path.stat().st_uid != uid:
                continue
        except OSError:
            continue
        if _owner_gone(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    return removed


class Sentinel:
    """The process that cleans up after this one if it dies without shutting down."""

    def __init__(self, root: Path) -> None:
        self._lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-S", "-E", "-c", _SENTINEL, str(root)], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
                start_new_session=True, cwd="/")
        except OSError:
            self.proc = None  # best effort: the start-up sweep still removes the directory later

    def _send(self, line: str) -> None:
        proc = self.proc
        if proc is None or proc.stdin is None:
            return
        with self._lock:
            try:
                os.write(proc.stdin.fileno(), line.encode())
            except (OSError, ValueError):
                pass

    def track(self, key: str, pgid: int | None) -> None:
        """``key``'s environment now runs in process group ``pgid``."""
        if pgid:
            self._send(f"+ {key} {pgid}\n")

    def untrack(self, key: str) -> None:
        self._send(f"- {key}\n")

    def stop(self) -> None:
        """The manager cleaned up itself: let the sentinel end, and reap it."""
        proc = self.proc
        if proc is None:
            return
        with self._lock:
            try:
                proc.stdin.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
