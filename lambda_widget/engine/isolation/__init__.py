"""How an execution environment's processes are contained.

``namespaces`` (root, with cgroups and namespaces available, as on CI): each environment runs
in its own user, mount and PID namespaces and its own control groups (CPU share, memory,
1,024 processes, freezer), as Lambda's sandboxes do, whatever its runtime (bundled,
awslambdaric, an exec wrapper): a read-only filesystem but its own /tmp, and the manager's
group caps the processes of all its environments together. ``process`` (a normal user, as on
Binder): the portable fallback -- a child subreaper keeps every descendant in the
environment's tree, where the engine freezes, counts, throttles and kills it (and the
watchdog holds the manager's process cap); every new process gets a fresh copy of the code,
whatever kind of package it is; a fork server that dies is replaced.

``ContainerManager(isolation="process")`` or ``LAMBDA_WIDGET_ISOLATION=process`` forces the
fallback; ``"namespaces"`` insists on the full mode (an error where it is not available).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from lambda_widget.engine.isolation.cgroups import Cgroups
from lambda_widget.engine.isolation.cpu import Governor

ENV_VAR = "LAMBDA_WIDGET_ISOLATION"
MAX_PROCESSES_VAR = "LAMBDA_WIDGET_MAX_PROCESSES"
MAX_PROCESSES = 8192  # processes and threads of all a manager's environments together (each: 1,024)
MODES = ("auto", "namespaces", "process")
SANDBOX_UID_BASE = 1_100_000_000  # host uids of sandboxed runtimes (each environment its own)
CAP_SYS_ADMIN = 21


def _has_sys_admin() -> bool:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_SYS_ADMIN & 1)
    except (OSError, ValueError):
        pass
    return False


def _closed_ancestor(path: str) -> str | None:
    """The highest directory on the way to ``path`` that other users cannot enter (or read)."""
    parts = Path(path).resolve().parts
    for i in range(2, len(parts) + 1):
        here = os.path.join(*parts[:i])
        try:
            mode = os.stat(here).st_mode
        except OSError:
            return None
        if not mode & 0o001 or (i == len(parts) and not mode & 0o004):
            return here
    return None


def hidden_paths(python_prefix: str | None = None) -> list[list[str]]:
    """[host directory, Lambda's place for it, the closed directory above it] for the Python
    installation and this package, where the sandbox's user could not reach them (e.g. a
    pyenv under /root, mode 0700). The sandbox sees them read-only at Lambda's places
    (/var/lang, /var/runtime) and at their own paths, over an empty directory that hides
    the rest of the closed one. ``python_prefix``: the function's Python installation, when
    it is not the kernel's (``sys.base_prefix``)."""
    import sys

    from lambda_widget.engine.environment import PACKAGE_PARENT

    found = []
    for host, inside in ((python_prefix or sys.base_prefix, "/var/lang"), (PACKAGE_PARENT, "/var/runtime")):
        closed = _closed_ancestor(host)
        if closed is not None:
            Path(inside).mkdir(parents=True, exist_ok=True)
            found.append([str(Path(host).resolve()), inside, closed])
    return found


COVERED = ("/tmp", "/dev/shm")  # what an environment gets its own of, hiding the host's


def covered_python_paths() -> list[str]:
    """The kernel's Python environment (its prefixes, ``sys.path``, this package) where an
    environment's own /tmp or /dev/shm would hide it: a virtualenv made under /tmp, as CI
    systems and scratch setups do. The sandbox mounts these again, read-only, over its /tmp."""
    import sys

    from lambda_widget.engine.environment import PACKAGE_PARENT

    wanted = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix, PACKAGE_PARENT,
              os.path.dirname(sys.executable), os.path.dirname(os.path.realpath(sys.executable)),
              *(p for p in sys.path if p)}
    found = set()
    for path in wanted:
        for form in (os.path.abspath(path), os.path.realpath(path)):
            if os.path.isdir(form) and any(form.startswith(c + os.sep) for c in COVERED):
                found.add(form)
    # Only the outermost ones: a mount of the venv brings its site-packages along.
    return sorted(p for p in found if not any(p.startswith(q + os.sep) for q in found))


def manager_process_cap() -> int:
    """The manager's process cap: ``LAMBDA_WIDGET_MAX_PROCESSES``, else 8,192 (at most half the
    machine's pid_max)."""
    raw = os.environ.get(MAX_PROCESSES_VAR)
    if raw:
        try:
            cap = int(raw)
        except ValueError:
            cap = 0
        if cap < 1:
            raise ValueError(f"{MAX_PROCESSES_VAR}={raw!r}: give a number of processes, at least 1")
        return cap
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            return min(MAX_PROCESSES, int(f.read()) // 2)
    except (OSError, ValueError):
        return MAX_PROCESSES


def namespaces_unavailable() -> str | None:
    """Why the full mode cannot run here, or None if it can."""
    if os.geteuid() != 0:
        return "not root"
    if not _has_sys_admin():
        return "no CAP_SYS_ADMIN (mount and PID namespaces)"
    if not os.path.exists("/proc/self/ns/user") or not os.path.exists("/proc/self/ns/pid"):
        return "the kernel has no user or PID namespaces"
    return None


class Isolation:
    """The manager's choice of containment, and what it made (cgroups) to provide it."""

    def __init__(self, requested: str | None = None, fork_server: bool = True) -> None:
        strict = requested == "namespaces"  # asked for in code: an error where it cannot be had
        requested = requested or os.environ.get(ENV_VAR) or "auto"
        if requested not in MODES:
            raise ValueError(f"Unknown isolation {requested!r}: use 'auto', 'namespaces' or 'process'")
        self.requested = requested
        self.max_processes = manager_process_cap()
        self.cgroups: Cgroups | None = None
        self.hidden: list[list[str]] = []
        self.keep: list[str] = []
        self._hidden_for: dict[str, list[list[str]]] = {}  # another Python's installation -> its mounts
        self.why_not = None
        mode = "process"
        if requested != "process":
            self.why_not = namespaces_unavailable() or (
                None if fork_server else "the fork server is off (fork_server=False)")
            if self.why_not is None:
                self.cgroups = Cgroups.detect()
                if self.cgroups is None:
                    self.why_not = f"cgroups are not usable: {Cgroups.why_not}"
            if self.why_not is None:
                mode = "namespaces"
                self.cgroups.limit_processes(self.max_processes)
                Path("/var/task").mkdir(parents=True, exist_ok=True)  # the mount point
                self.hidden = hidden_paths()
                self.keep = covered_python_paths()
            elif strict:
                raise ValueError(f"isolation='namespaces' is not available here: {self.why_not}")
        self.mode = mode
        self.governor = Governor() if mode == "process" else None
        self._uids = 0

    @property
    def cpu_mode(self) -> str:
        return "cgroup" if self.cgroups is not None else "throttle"

    def mounts_for(self, python: dict | None) -> list[list[str]]:
        """The mounts of a sandbox whose runtime runs on ``python`` (an interpreter's facts, see
        ``lambda_widget.engine.interpreters``; empty for the kernel's): its installation, not the kernel's."""
        prefix = (python or {}).get("base_prefix")
        if self.mode != "namespaces" or not prefix or (python or {}).get("source") == "kernel":
            return self.hidden
        if prefix not in self._hidden_for:
            self._hidden_for[prefix] = hidden_paths(prefix)
        return self._hidden_for[prefix]

    def next_uid(self) -> int:
        self._uids += 1
        return SANDBOX_UID_BASE + (os.getpid() % 100_000) * 1000 + self._uids % 1000

    def publish(self, task_root: Path) -> None:
        """Make a version's code readable by the sandbox's user (the copy may carry the mode of
        a private directory it came from, e.g. an unzipped upload); it stays read-only."""
        if self.mode != "namespaces":
            return
        for dirpath, _dirs, files in os.walk(task_root):
            os.chmod(dirpath, os.stat(dirpath).st_mode | 0o555)
            for name in files:
                path = os.path.join(dirpath, name)
                if not os.path.islink(path):
                    os.chmod(path, os.stat(path).st_mode | 0o444)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mode": self.mode, "requested": self.requested, "cpu": self.cpu_mode,
                                "max_processes": self.max_processes}
        if self.mode == "namespaces":
            data["namespaces"] = ["user", "mount", "pid"]
            data["filesystem"] = "read-only but /tmp (and a private /dev/shm)"
            data["cgroups"] = self.cgroups.to_dict() if self.cgroups else None
            data["max_processes_reached"] = self.cgroups.processes_refused() if self.cgroups else 0
        else:
            data["fallback"] = ["subreaper", "fresh code copy", "fork server respawn",
                                "cpu throttle (SIGSTOP/SIGCONT)", "process count (watchdog)"]
            data["why"] = self.why_not or "requested"
        return data

    def close(self) -> None:
        if self.governor is not None:
            self.governor.stop()
        if self.cgroups is not None:
            self.cgroups.remove()


def write_task_copy(files: dict[str, tuple[bytes, int, int]], root: Path) -> None:
    """A fresh copy of the function's code (from memory, so nothing written since survives)."""
    if root.exists():
        shutil.rmtree(root, ignore_errors=True)
        if root.exists():  # made undeletable (chmod, chattr): start beside it
            raise OSError(f"cannot replace {root}")
    for rel, (data, mtime_ns, mode) in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, ns=(mtime_ns, mtime_ns))  # so the bytecode stays valid
        path.chmod(0o555 if mode & 0o111 else 0o444)  # read-only; executables (a wrapper) stay so


CODE_IN_MEMORY = 64 * 1024 * 1024  # bytes of a code package kept in memory for the fallback's copies


def read_task_files(root: Path, budget: int | None = None) -> dict[str, tuple[bytes, int, int]] | None:
    """The task root as {relative path: (bytes, mtime, mode)}, read once at registration; None if
    it holds more than ``budget`` bytes."""
    files = {}
    total = 0
    for path in root.rglob("*"):
        if path.is_file():
            stat = path.stat()
            total += stat.st_size
            if budget is not None and total > budget:
                return None
            files[str(path.relative_to(root))] = (path.read_bytes(), stat.st_mtime_ns, stat.st_mode)
    return files


def copy_task_root(source: Path, root: Path) -> None:
    """A fresh copy of a code package too large to keep in memory, from its task root."""
    if root.exists():
        shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(source, root, symlinks=True)
