"""The Shutdown phase of an execution environment: budgets, SIGTERM, SHUTDOWN events, the kill.

Lambda's budget depends on what the environment runs: 0 ms with no extension (the sandbox is
killed at once), 500 ms with internal extensions only, 2,000 ms with external ones. The
runtime gets ``SIGTERM`` only where an extension is registered; external extensions
registered for it get a ``SHUTDOWN`` event with ``shutdownReason`` and ``deadlineMs``. What
still runs at the deadline is killed.

On a reset (a timeout or a failure) the runtime is stopped rather than told: it was killed on
Lambda; here its extensions are its children, so it is held (``SIGSTOP``) until they are done.
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_widget.engine.environment import ExecutionEnvironment

NONE_MS, INTERNAL_MS, EXTERNAL_MS = 0, 500, 2000

# Why an environment ends -> the shutdownReason its extensions are told.
REASONS = {"idle-timeout": "SPINDOWN", "new-version": "SPINDOWN", "function-deleted": "SPINDOWN",
           "shutdown": "SPINDOWN", "fork-server-lost": "SPINDOWN", "internal-error": "FAILURE",
           "timeout": "TIMEOUT", "failure": "FAILURE"}


def budget(env: ExecutionEnvironment) -> tuple[int, str]:
    """(milliseconds, why) of this environment's Shutdown budget."""
    ext = env.ext
    if ext is not None and (ext.external or ext.expected):
        return EXTERNAL_MS, "external extensions"
    if (ext is not None and ext.internal) or env.internal_startup:
        return INTERNAL_MS, "internal extensions only"
    return NONE_MS, "no extensions"


def run(env: ExecutionEnvironment, why: str, reset: bool = False) -> dict[str, Any]:
    """Shut ``env``'s process down and return the record of it (plain data). ``why``: an end
    reason of the manager's (``idle-timeout``...) or ``timeout`` / ``failure`` for a reset."""
    reason = REASONS.get(why, "SPINDOWN")
    ms, kind = budget(env)
    record: dict[str, Any] = {"reason": reason, "budget_ms": ms, "budget_for": kind, "runtime": "",
                              "extensions": [], "duration_ms": 0.0}
    t0 = time.monotonic()
    runtime = env.runtime_pid
    if ms == 0 or not env.alive or runtime is None:
        record["runtime"] = "killed at once" if ms == 0 or env.alive else "already gone"
        env.kill()
        return record
    ext = env.ext
    env.thaw()  # a frozen process could not act on what it is told
    if reset:
        _signal(runtime, signal.SIGSTOP)
        record["runtime"] = "stopped (reset)"
    else:
        _signal(runtime, signal.SIGTERM)
        record["runtime"] = "SIGTERM"
    told = []
    if ext is not None:
        ext.shutting_down = True
        deadline_ms = int(time.time() * 1000) + ms
        told = ext.deliver({"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline_ms})
    proc = env.proc

    def finished() -> bool:
        if proc is None or proc.poll() is not None:
            return True
        # A stopped runtime never exits: done when its external extensions are.
        return reset and ext is not None and all(
            e.state in ("exited", "crashed", "failed") for e in ext.external)

    limit = t0 + ms / 1000
    while not finished() and time.monotonic() < limit:
        if ext is not None:
            ext.wait(finished, min(0.02, max(0.0, limit - time.monotonic())))
        else:
            time.sleep(0.01)
    ended = finished()
    elapsed = (time.monotonic() - t0) * 1000
    if not reset:
        record["runtime"] += ", exited" if ended else ", still running at the deadline: killed"
    if ext is not None:
        for e in ext.by_id.values():
            done = e.exited_at is not None and e.exited_at <= t0 + ms / 1000
            entry = {"name": e.name, "internal": e.internal, "got": "SHUTDOWN" if e in told else "-",
                     "exited_after_ms": round((e.exited_at - t0) * 1000, 2) if done else None}
            record["extensions"].append(entry)
    env.kill()
    record["duration_ms"] = round(min(elapsed, ms) if not ended else elapsed, 2)
    return record


def words(record: dict[str, Any] | None) -> str:
    """One line for the step table: reason, what ran, how long."""
    if not record or not record.get("budget_ms"):
        return ""  # no extension: the sandbox is simply killed, as step 8 has always said
    parts = [f"Shutdown ({record['reason']}), budget {record['budget_ms']:,} ms ({record['budget_for']})"]
    if record.get("runtime"):
        parts.append(f"runtime: {record['runtime']}")
    for e in record.get("extensions", []):
        kind = "internal" if e["internal"] else "extension"
        after = e["exited_after_ms"]
        fate = f"exited after {after:.0f} ms" if after is not None else "killed at the deadline"
        parts.append(f"{kind} {e['name']}: {e['got']}, {fate}")
    parts.append(f"took {record['duration_ms']:.0f} ms")
    return "; ".join(parts)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
