"""CPU in proportion to memory, as Lambda allocates it.

Lambda gives a function ``memory_mb / 1769`` of a vCPU (one full vCPU at 1,769 MB), on a
number of vCPUs that grows with the memory size, up to 6 at 10,240 MB. The Init phase of a
new environment is measured to run unthrottled on all its vCPUs (see ``INIT_BOOST``).

Where cgroups are writable the kernel enforces the share (a CFS quota per ``PERIOD``). Elsewhere
a ``Governor`` thread holds each busy environment's process tree to it with SIGSTOP/SIGCONT:
a token bucket filled at ``cpus`` CPU-seconds per second, holding at most one period's share,
and drained by the CPU time the tree used, so the long-run share is exact whatever the polling
granularity.

Either way an invocation can run flat out only for what is left of one period's share (about
1.4 ms at 128 MB, 11.6 ms at 1,024 MB), as on Lambda: a short period, and a bucket that is not
refilled by a freeze beyond what the time frozen earns. (With a 100 ms period, work of up to
58 ms finished unthrottled at 1,024 MB, as fast as at 1,769 MB.)
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
# Lambda holds the share over 20 ms periods: measured on AWS by pwrdrvr/lambda-throttling
# (github.com/pwrdrvr/lambda-throttling, MIT, 2025): "AWS Lambda throttles CPU in 20ms intervals";
# a 128 MB function gets about 1.44 ms of CPU in every 20 ms. (At 128 MB that quota, 1,448 us,
# is above the kernel's 1 ms minimum.)
PERIOD = 0.02
BURST = PERIOD  # seconds of the share that can be used at once: one period's
TICK = 0.01  # /proc reports CPU time in 10 ms ticks: polling faster gains nothing
_PAUSED_KEPT = 256  # paused slots kept before those of dead processes are dropped


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
                 "throttled_s", "stopped_at")

    def __init__(self, pid: int, cpus: float, cpu: float, now: float) -> None:
        self.pid = pid
        self.cpus = cpus
        self.budget = cpus * BURST
        self.last_cpu = cpu  # the tree's CPU seconds when last charged
        self.last_t = now  # when the bucket was last filled
        self.members: list[int] = []
        self.members_at = 0.0
        self.stopped: list[int] | None = None
        self.stopped_at = 0.0
        self.throttled_s = 0.0

    def resume(self, cpus: float, now: float) -> None:
        """Back from a pause (a freeze): the bucket earns the time paused, up to one period."""
        self.budget = min(cpus * BURST, self.budget + self.cpus * (now - self.last_t))
        self.cpus, self.last_t = cpus, now
        self.members_at = 0.0
        self.throttled_s = 0.0


class Governor:
    """Holds busy environments' process trees to their CPU share (the portable fallback).

    ``run`` starts holding one (after a thaw), ``release`` stops (before a freeze or kill):
    after ``release`` returns the governor never signals that tree again, and anything it had
    stopped is continued, so it never fights with the freeze.

    A released tree's account is kept for its next ``run``: the CPU it used since it was last
    charged is charged then (a process's CPU time does not move while it is frozen), and its
    bucket earns only the time that passed. So no stretch of an invocation escapes the share:
    not the start (before the governor's first look), nor an overrun at the end.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, thread: bool = True) -> None:
        """``clock`` and ``thread=False`` (no polling thread: call ``poll``) are for tests."""
        self._clock = clock
        self._threaded = thread
        self._lock = threading.Lock()
        self._slots: dict[object, _Slot] = {}
        self._paused: dict[object, _Slot] = {}
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def run(self, key: object, pid: int, cpus: float, fresh: bool = False) -> None:
        """Hold ``pid``'s tree to ``cpus``. ``fresh``: a process just started, so all the CPU
        time it has used counts (otherwise counting starts now, at the thaw)."""
        with self._lock:
            now = self._clock()
            slot = self._slots.get(key)
            if slot is not None and slot.pid == pid:
                slot.cpus = cpus  # already held: keep its bucket (and what it stopped)
                return
            if slot is not None and slot.stopped is not None:
                tree.signal_all(slot.stopped, signal.SIGCONT)
            paused = self._paused.pop(key, None)
            if paused is not None and paused.pid == pid and not fresh:
                paused.resume(cpus, now)
                slot = paused
            else:
                cpu = 0.0 if fresh else tree.cpu_seconds(tree.members(pid), children=True)
                slot = _Slot(pid, cpus, cpu, now)
            self._slots[key] = slot
            if self._thread is None and self._threaded:
                self._thread = threading.Thread(target=self._loop, name="lambda-cpu-governor",
                                                daemon=True)
                self._thread.start()
        self._wake.set()

    def release(self, key: object, resume: bool = True) -> float:
        """Stop holding ``key``; continue what it stopped (unless ``resume`` is False).
        Returns the seconds the tree spent stopped by the governor since ``run``."""
        with self._lock:
            slot = self._slots.pop(key, None)
            if slot is None:
                return 0.0
            if slot.stopped is not None:
                slot.throttled_s += self._clock() - slot.stopped_at
                if resume:
                    tree.signal_all(slot.stopped, signal.SIGCONT)
                slot.stopped = None
            self._paused[key] = slot
            if len(self._paused) > _PAUSED_KEPT:
                self._drop_dead()
            return slot.throttled_s

    def _drop_dead(self) -> None:
        for key, slot in list(self._paused.items()):
            if not os.path.exists(f"/proc/{slot.pid}"):
                del self._paused[key]

    def stop(self) -> None:
        with self._lock:
            keys = list(self._slots)
        for key in keys:
            self.release(key)
        with self._lock:
            self._paused.clear()
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
            self.poll()
            time.sleep(TICK)

    def poll(self) -> None:
        """One look at every tree held: charge the CPU it used, stop or continue it."""
        with self._lock:
            now = self._clock()
            for slot in list(self._slots.values()):
                self._step(slot, now)

    @staticmethod
    def _step(slot: _Slot, now: float) -> None:
        if slot.stopped is None and now - slot.members_at > 0.1:
            slot.members = tree.members(slot.pid)
            slot.members_at = now
        cpu = tree.cpu_seconds(slot.members, children=True)
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
