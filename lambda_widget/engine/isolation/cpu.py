"""CPU in proportion to memory, as Lambda allocates it.

Lambda gives a function ``memory_mb / 1769`` of a vCPU (one full vCPU at 1,769 MB), on a
number of vCPUs that grows with the memory size, up to 6 at 10,240 MB. The Init phase of a
new environment is measured to run unthrottled on all its vCPUs (see ``INIT_BOOST``).

Where cgroups are writable the kernel enforces the share (CFS quota). Elsewhere a
``Governor`` thread holds each busy environment's process tree to it with SIGSTOP/SIGCONT:
a token bucket filled at ``cpus`` CPU-seconds per second and drained by the CPU time the
tree used, so the long-run share is exact whatever the polling granularity.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

from lambda_widget.engine.isolation import tree

MB_PER_VCPU = 1769
# (highest memory size in MB, vCPUs) -- AWS: "up to 6 vCPUs" at 10,240 MB; the ranges as measured
# by rwnx/lambda-cpuinfo (github.com/rwnx/lambda-cpuinfo, 2021): 2 vCPUs up to 3,008 MB, then
# one more at each further 1,769 MB.
VCPU_RANGES = ((3008, 2), (5307, 3), (7076, 4), (8845, 5), (10240, 6))
# Init runs at full speed on all the environment's vCPUs: measured by Luc van Donkersgoed,
# "Lambda Cold Starts and Bootstrap Code" (2022-04-08, lucvandonkersgoed.com): init code ran
# faster than the same code in the handler at every size up to 3 GB. AWS does not document it.
INIT_BOOST = True
BURST = 0.1  # seconds of the share that can be used at once (the CFS period)
TICK = 0.01  # /proc reports CPU time in 10 ms ticks: polling faster gains nothing


def vcpus(memory_mb: int) -> int:
    """The vCPU count Lambda gives an environment of this memory size."""
    for top, count in VCPU_RANGES:
        if memory_mb <= top:
            return count
    return VCPU_RANGES[-1][1]


def cpu_share(memory_mb: int) -> float:
    """CPUs (CPU-seconds per second) of an environment of this memory size."""
    return round(min(memory_mb / MB_PER_VCPU, vcpus(memory_mb)), 4)


def machine_cpus() -> int:
    global _machine_cpus
    if _machine_cpus is None:
        try:
            _machine_cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            _machine_cpus = os.cpu_count() or 1
    return _machine_cpus


_machine_cpus: int | None = None


class _Slot:
    __slots__ = ("pid", "cpus", "budget", "last_cpu", "last_t", "members", "members_at", "stopped",
                 "throttled_s", "stopped_at", "started")

    def __init__(self, pid: int, cpus: float) -> None:
        self.started = time.monotonic()
        self.pid = pid
        self.cpus = cpus
        self.budget = cpus * BURST
        self.last_cpu: float | None = None
        self.last_t = 0.0
        self.members: list[int] = []
        self.members_at = 0.0
        self.stopped: list[int] | None = None
        self.stopped_at = 0.0
        self.throttled_s = 0.0


class Governor:
    """Holds busy environments' process trees to their CPU share (the portable fallback).

    ``run`` starts holding one (after a thaw), ``release`` stops (before a freeze or kill):
    after ``release`` returns the governor never signals that tree again, and anything it had
    stopped is continued, so it never fights with the freeze.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[object, _Slot] = {}
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def run(self, key: object, pid: int, cpus: float, fresh: bool = False) -> None:
        """Hold ``pid``'s tree to ``cpus``. ``fresh``: a process just started, so all the CPU
        time it has used counts (otherwise counting starts at the governor's first look)."""
        with self._lock:
            slot = self._slots.get(key)
            if slot is not None and slot.pid == pid:
                slot.cpus = cpus  # already held: keep its bucket (and what it stopped)
                return
            if slot is not None and slot.stopped is not None:
                tree.signal_all(slot.stopped, signal.SIGCONT)
            slot = self._slots[key] = _Slot(pid, cpus)
            if fresh:
                slot.last_cpu, slot.last_t = 0.0, slot.started
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="lambda-cpu-governor",
                                                daemon=True)
                self._thread.start()
        self._wake.set()

    def release(self, key: object, resume: bool = True) -> float:
        """Stop holding ``key``; continue what it stopped (unless ``resume`` is False).
        Returns the seconds the tree spent stopped by the governor."""
        with self._lock:
            slot = self._slots.pop(key, None)
            if slot is None:
                return 0.0
            if slot.stopped is not None:
                slot.throttled_s += time.monotonic() - slot.stopped_at
                if resume:
                    tree.signal_all(slot.stopped, signal.SIGCONT)
            return slot.throttled_s

    def stop(self) -> None:
        with self._lock:
            keys = list(self._slots)
        for key in keys:
            self.release(key)
        self._stopped = True
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopped:
            with self._lock:
                empty = not self._slots
            if empty:
                self._wake.wait()
                self._wake.clear()
                time.sleep(TICK)  # an invocation shorter than a tick is never touched
                continue
            with self._lock:
                for slot in list(self._slots.values()):
                    self._step(slot, time.monotonic())
            time.sleep(TICK)

    @staticmethod
    def _step(slot: _Slot, now: float) -> None:
        if now - slot.started < TICK and slot.last_cpu is None:
            return
        if slot.stopped is None and now - slot.members_at > 0.1:
            slot.members = tree.members(slot.pid)
            slot.members_at = now
        cpu = tree.cpu_seconds(slot.members, children=True)
        if slot.last_cpu is None:
            slot.last_cpu, slot.last_t = cpu, now
            return
        used = max(0.0, cpu - slot.last_cpu)
        slot.last_cpu = cpu
        slot.budget = min(slot.cpus * BURST, slot.budget + slot.cpus * (now - slot.last_t) - used)
        slot.last_t = now
        if slot.stopped is None and slot.budget < 0:
            slot.stopped = tree.stop_tree(slot.pid)
            slot.stopped_at = now
        elif slot.stopped is not None and slot.budget >= 0:
            tree.signal_all(slot.stopped, signal.SIGCONT)
            slot.throttled_s += now - slot.stopped_at
            slot.stopped = None


class CpuLimit:
    """One environment's CPU: its share, the active mode, and the phase (init or invoke)."""

    def __init__(self, memory_mb: int, enabled: bool, mode: str,
                 apply: Callable[[float | None], None]) -> None:
        self.memory_mb = memory_mb
        self.enabled = enabled
        self.mode = mode if enabled else "off"  # cgroup | throttle | off
        self.share = cpu_share(memory_mb)
        self.vcpus = vcpus(memory_mb)
        self.phase = ""
        self._apply = apply

    def enter(self, phase: str) -> None:
        """``init`` (a new environment's Init phase: all its vCPUs) or ``invoke`` (the share)."""
        if not self.enabled or phase == self.phase:
            return
        self.phase = phase
        self._apply(self.current)

    @property
    def allowed(self) -> float | None:
        """CPUs allowed in the current phase (None: not limited)."""
        if not self.enabled or not self.phase:
            return None
        return float(self.vcpus) if self.phase == "init" and INIT_BOOST else self.share

    @property
    def current(self) -> float | None:
        """The limit to apply now: None where this machine has fewer CPUs than allowed."""
        cpus = self.allowed
        return None if cpus is None or cpus >= machine_cpus() else cpus

    def to_dict(self) -> dict:
        return {"mode": self.mode, "share": self.share if self.enabled else None,
                "vcpus": self.vcpus, "init_boost": INIT_BOOST and self.enabled}
