"""Control groups for execution environments: CPU share, memory, process count, freezer.

One group per environment, under one group per manager. cgroup v1 (a hierarchy per
controller) and v2 (one unified hierarchy) are both handled; whatever is not writable
(a normal user, a read-only /sys) is simply not available.
"""

from __future__ import annotations

import errno
import os
import re
import time
from pathlib import Path

from lambda_widget.engine.isolation.cpu import PERIOD

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = round(PERIOD * 1_000_000)  # CFS period: the quota is a share of every 20 ms, as on Lambda
V1_CONTROLLERS = ("cpu", "memory", "pids", "freezer")
PREFIX = "lambda-widget-"
VERSION_VAR = "LAMBDA_WIDGET_CGROUPS"


def v2_mount() -> Path | None:
    """Where the cgroup2 hierarchy is mounted (/sys/fs/cgroup alone, or beside v1's)."""
    for line in _read("/proc/self/mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        if right.split(" ", 1)[0] == "cgroup2":
            return Path(left.split()[4].replace("\\040", " "))
    return None


def _write(path: Path | str, value: str) -> bool:
    """One write(2) to a control file: three system calls (``open()`` makes seven, and a
    text wrapper), as freeze and thaw sit on every warm invoke's path."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        os.write(fd, value.encode())
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _read(path: Path | str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _own_groups() -> dict[str, str]:
    """This process's group in each hierarchy: {controller or '' for v2: path}."""
    groups = {}
    for line in _read("/proc/self/cgroup").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for ctrl in parts[1].split(",") if parts[1] else [""]:
                groups[ctrl] = parts[2]
    return groups


class Cgroups:
    """The manager's groups: where environment groups are made. ``detect()`` or None."""

    def __init__(self, version: int, bases: dict[str, Path]) -> None:
        self.version = version
        self.bases = bases  # controller -> the manager's own group directory
        self.refused_gone = 0  # forks refused in environment groups removed since (v1)

    why_not = ""  # why detect() found no usable groups (the last attempt's reason)

    @classmethod
    def detect(cls) -> Cgroups | None:
        """The manager's groups, in the hierarchy ``LAMBDA_WIDGET_CGROUPS`` names: ``v1``, ``v2``
        (the cgroup2 mount, e.g. /sys/fs/cgroup/unified beside v1's), or ``auto`` (v2 where it is
        the only hierarchy, else v1)."""
        name = f"{PREFIX}{os.getpid()}-{time.monotonic_ns() % 10**9}"
        own = _own_groups()
        choice = os.environ.get(VERSION_VAR) or "auto"
        if choice not in ("auto", "v1", "v2"):
            raise ValueError(f"{VERSION_VAR}={choice!r}: use 'auto', 'v1' or 'v2'")
        if choice == "v2" or (choice == "auto" and (ROOT / "cgroup.controllers").exists()):
            root = v2_mount()
            if root is None:
                Cgroups.why_not = "no cgroup2 hierarchy is mounted"
                return None
            return cls._detect_v2(name, own.get("", "/"), root)
        Cgroups.why_not = "cgroup v1 hierarchies are not writable"
        bases = {}
        for ctrl in V1_CONTROLLERS:
            mount = ROOT / ctrl
            if not (mount / "cgroup.procs").exists():
                return None
            base = mount / own.get(ctrl, "/").lstrip("/") / name
            try:
                base.mkdir()
            except OSError:
                for made in bases.values():
                    _rmdir(made)
                return None
            bases[ctrl] = base
        if not (bases["freezer"] / "freezer.state").exists() or \
                not _write(bases["cpu"] / "cpu.cfs_quota_us", "-1"):
            for made in bases.values():
                _rmdir(made)
            return None
        _write(bases["memory"] / "memory.use_hierarchy", "1")
        sweep(bases)
        _hold_freezer_on(bases["freezer"])
        return cls(1, bases)

    @classmethod
    def _detect_v2(cls, name: str, own: str, root: Path = ROOT) -> Cgroups | None:
        # A new group beside ours (v2 allows no processes in a group that delegates controllers).
        parent = root / own.lstrip("/")
        if own != "/":
            parent = parent.parent
        base = parent / name
        try:
            base.mkdir()
        except OSError as exc:
            Cgroups.why_not = f"cannot make a group in {parent}: {exc.strerror}"
            return None
        want = {"cpu", "memory", "pids"}
        missing = sorted(want - set(_read(base / "cgroup.controllers").split()))
        if missing or not _write(base / "cgroup.subtree_control", "+cpu +memory +pids"):
            _rmdir(base)
            Cgroups.why_not = (f"cgroup v2 at {root} lacks the {', '.join(missing)} controller(s) (bound to "
                               f"cgroup v1 hierarchies?)" if missing else
                               f"cgroup v2 at {root} does not delegate cpu, memory and pids")
            return None
        sweep({"": base})
        return cls(2, {"": base})

    def create(self, env_id: str) -> EnvCgroup | None:
        dirs = {}
        for ctrl, base in self.bases.items():
            path = base / env_id
            try:
                path.mkdir()
            except FileExistsError:
                pass
            except OSError:
                return None
            dirs[ctrl] = path
        return EnvCgroup(self.version, dirs, self)

    def limit_processes(self, cap: int) -> bool:
        """At most ``cap`` processes (and threads) in all the manager's environments together."""
        return _write(self._pids_base / "pids.max", str(cap))

    def processes_refused(self) -> int:
        """How many forks in the manager's environments failed at a process cap so far (v1 counts
        them in the group that forked, v2 in the one whose cap held)."""
        total = self.refused_gone + _refused(self._pids_base)
        if self.version == 1:
            for child in self._pids_base.iterdir():
                if child.is_dir():
                    total += _refused(child)
        return total

    @property
    def _pids_base(self) -> Path:
        return self.bases["pids" if self.version == 1 else ""]

    @property
    def freezer_base(self) -> str:
        return str(self.bases.get("freezer", self.bases.get("")))

    def remove(self) -> None:
        for base in self.bases.values():
            for child in base.iterdir() if base.exists() else ():
                if child.is_dir():
                    _rmdir(child)
            _rmdir(base)

    def to_dict(self) -> dict:
        return {"version": self.version, "controllers": sorted(self.bases) if self.version == 1
                else ["cpu", "memory", "pids", "freeze"]}


class EnvCgroup:
    """One environment's groups."""

    def __init__(self, version: int, dirs: dict[str, Path], owner: Cgroups | None = None) -> None:
        self.version = version
        self.dirs = dirs
        self.owner = owner
        self._quota: int | None = None
        self._oom_base = 0

    def _dir(self, ctrl: str) -> Path:
        return self.dirs[ctrl if self.version == 1 else ""]

    @property
    def procs_files(self) -> list[str]:
        """The files a process writes its pid into to join every group."""
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    @property
    def join_files(self) -> list[str]:
        """The files a single-threaded process writes ``0`` into to move itself into every group.

        cgroup v1's ``tasks`` moves one thread, so the kernel skips the global threadgroup
        lock that ``cgroup.procs`` takes for writing, and the RCU grace period that lock waits
        for: 0.01-0.05 ms a group instead of 1-15 ms for the first ``cgroup.procs`` write of a
        cold start (measured, 2-CPU VM). A process with one thread is all of it. v2 has no
        such file (``cgroup.threads`` needs threaded groups): ``cgroup.procs`` there.
        """
        name = "tasks" if self.version == 1 else "cgroup.procs"
        return [str(d / name) for d in self.dirs.values()]

    def configure(self, memory_mb: int, max_processes: int) -> None:
        limit = str(memory_mb * 1024 * 1024)
        if self.version == 1:
            mem = self._dir("memory")
            _write(mem / "memory.limit_in_bytes", limit)
            _write(mem / "memory.memsw.limit_in_bytes", limit)  # no swapping past the limit
            _write(mem / "memory.swappiness", "0")
            _write(self._dir("pids") / "pids.max", str(max_processes))
        else:
            d = self._dir("")
            _write(d / "memory.max", limit)
            _write(d / "memory.swap.max", "0")
            _write(d / "pids.max", str(max_processes))
        self._oom_base = self.oom_kills()

    def set_cpu(self, cpus: float | None) -> None:
        """Limit the whole group to ``cpus`` CPUs (None: no limit)."""
        quota = -1 if cpus is None else max(1000, round(cpus * PERIOD_US))
        if quota == self._quota:
            return
        self._quota = quota
        if self.version == 1:
            d = self._dir("cpu")
            _write(d / "cpu.cfs_period_us", str(PERIOD_US))
            _write(d / "cpu.cfs_quota_us", str(quota))
        else:
            _write(self._dir("") / "cpu.max", f"{'max' if quota < 0 else quota} {PERIOD_US}")

    def freeze(self) -> None:
        if self.version == 1:
            _write(self._dir("freezer") / "freezer.state", "FROZEN")
        else:
            _write(self._dir("") / "cgroup.freeze", "1")

    def thaw(self) -> None:
        if self.version == 1:
            _write(self._dir("freezer") / "freezer.state", "THAWED")
        else:
            _write(self._dir("") / "cgroup.freeze", "0")

    def pids(self) -> list[int]:
        d = self._dir("pids") if self.version == 1 else self._dir("")
        return [int(p) for p in _read(d / "cgroup.procs").split()]

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer ended in this group so far."""
        if self.version == 1:
            text = _read(self._dir("memory") / "memory.oom_control")
        else:
            text = _read(self._dir("") / "memory.events")
        match = re.search(r"oom_kill (\d+)", text)
        return int(match.group(1)) if match else 0

    def out_of_memory(self) -> bool:
        return self.oom_kills() > self._oom_base

    def rearm(self) -> None:
        """A new process in the group: earlier OOM kills are not its own."""
        self._oom_base = self.oom_kills()

    def kill(self) -> None:
        """SIGKILL every process in the group. Frozen v1 tasks die only once thawed."""
        import signal

        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self.thaw()
            time.sleep(0.001)

    def remove(self) -> None:
        self.thaw()
        if self.version == 1 and self.owner is not None and self.dirs["pids"].exists():
            self.owner.refused_gone += _refused(self.dirs["pids"])
        for d in self.dirs.values():
            _rmdir(d)


def _refused(group: Path) -> int:
    match = re.search(r"^max (\d+)", _read(group / "pids.events"), re.M)
    return int(match.group(1)) if match else 0


LATCH = "frozen-latch"


def _hold_freezer_on(base: Path) -> None:
    """Keep one empty group frozen for the manager's life (cgroup v1).

    The v1 freezer turns a kernel-wide static key on when the first group freezes and off when
    the last one thaws. Each switch rewrites kernel code on every CPU (``static_key_slow_inc``
    / ``_dec``, text poking with IPIs): 60-70 µs per write of ``freezer.state`` on this 2-CPU
    VM, and it stalls the other CPU. With one environment warm, every invoke paid it twice
    (the thaw, then the freeze). With this empty group frozen the key stays on and a freeze or
    a thaw writes in about 1 µs. An empty frozen group holds no process and no memory."""
    latch = base / LATCH
    try:
        latch.mkdir()
    except FileExistsError:
        pass
    except OSError:
        return
    _write(latch / "freezer.state", "FROZEN")


def _rmdir(path: Path) -> None:
    for _ in range(20):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                return
            time.sleep(0.005)


def sweep(bases: dict[str, Path]) -> None:
    """Remove the groups of managers whose process is gone (a killed kernel)."""
    for base in bases.values():
        parent = base.parent
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        for name in names:
            if not name.startswith(PREFIX) or parent / name == base:
                continue
            try:
                pid = int(name[len(PREFIX):].split("-")[0])
            except ValueError:
                continue
            if os.path.exists(f"/proc/{pid}"):
                continue
            stale = parent / name
            for child in stale.iterdir():
                if child.is_dir():
                    _write(child / "freezer.state", "THAWED")
                    _rmdir(child)
            _rmdir(stale)
