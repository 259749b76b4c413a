"""Words for the engine's codes (cold reasons, statuses, states), shared by every renderer."""

from __future__ import annotations

from typing import Any

COLD_REASONS = {
    "first-invocation": "first invocation: no execution environment existed for this function yet",
    "all-busy": "every existing environment was busy, so Lambda created another one",
    "idle-expired": "the previous environment was reaped after its idle timeout",
    "reset-after-timeout": "the environment was reset after a timeout, so init runs again",
    "reset-after-crash": "the environment was reset after its runtime exited, so init runs again",
    "reset-after-init-error": "the last init failed, so init runs again",
    "new-version": "a new version was published, and no environment of it existed yet",
    "function-updated": "$LATEST was updated (the cell ran again), and its earlier environments cannot serve it",
    "provisioned": "provisioned concurrency: initialised before any event arrived",
}

END_REASONS = {
    "idle-timeout": "idle timeout",
    "function-updated": "$LATEST updated",  # short: the timeline's state column is 190 px
    "version-deleted": "version deleted",
    "function-deleted": "function deleted",
    "deprovisioned": "deprovisioned",
    "fork-server-lost": "fork server lost",
    "shutdown": "manager shut down",
}

STATUS_WORDS = {
    "queued": "queued",
    "running": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "timed-out": "timed out",
    "crashed": "crashed",
    "out-of-memory": "out of memory",
    "dropped": "dropped (event too old)",
    "throttled": "throttled",
    "cancelled": "cancelled",
    "dry-run": "dry run (not executed)",
}

ERROR_STATUSES = ("failed", "timed-out", "crashed", "out-of-memory", "throttled", "cancelled", "dropped")
RESET_STATUSES = ("timed-out", "crashed", "out-of-memory", "cancelled")  # the environment is reset


def version_tag(version: Any) -> str:
    """How a function version is named in a view: ``$LATEST``, or ``v1`` for published version 1."""
    text = str(version)
    return text if text == "$LATEST" or not text.isdigit() else f"v{text}"


def weight_words(weight: float) -> str:
    """A routing weight as a percentage: 0.1 -> ``10 %``."""
    return f"{weight * 100:.4g} %"


def alias_words(alias: dict[str, Any]) -> str:
    """``live -> v1`` or ``live -> v1 90 %, v2 10 %`` (a weighted alias)."""
    if not alias.get("routing"):
        return f"{alias['name']} -> {version_tag(alias['function_version'])}"
    extra = sum(alias["routing"].values())
    parts = [f"{version_tag(alias['function_version'])} {weight_words(1 - extra)}"] + \
        [f"{version_tag(v)} {weight_words(w)}" for v, w in sorted(alias["routing"].items())]
    return f"{alias['name']} -> {', '.join(parts)}"


def cold_reason(reason: str | None) -> str:
    """A cold-start reason code in words."""
    if not reason:
        return "no reason recorded"
    return COLD_REASONS.get(reason, reason.replace("-", " "))


THROTTLE_REASONS = {
    "ReservedFunctionConcurrentInvocationLimitExceeded": "the function's reserved concurrency was all in use",
    "ConcurrentInvocationLimitExceeded": "the account's concurrency (shared by every function without a "
                                         "reservation) was all in use",
    "FunctionInvocationRateLimitExceeded": "the function was scaling out faster than 1,000 new environments "
                                           "every 10 seconds",
}


def throttle_reason(inv: dict[str, Any]) -> str:
    """Why an invocation was throttled, in words, from its error's ``Reason``."""
    reason = (inv.get("error") or {}).get("Reason")
    return THROTTLE_REASONS.get(reason, "a concurrency limit was reached")


def start_kind(inv: dict[str, Any]) -> str:
    """``cold``, ``warm`` or ``none`` (throttled, queued, dry run) for an invocation dict."""
    if inv.get("cold") is None:
        return "none"
    return "cold" if inv["cold"] else "warm"


def start_words(inv: dict[str, Any]) -> str:
    """One line: "cold start (reason in words)" / "warm start (reused env-1)" / the status."""
    kind = start_kind(inv)
    if kind == "cold" and inv.get("restored"):  # SnapStart
        return f"cold start, restored from the SnapStart snapshot ({cold_reason(inv.get('cold_reason'))})"
    if kind == "cold":
        return f"cold start ({cold_reason(inv.get('cold_reason'))})"
    if kind == "warm":
        return f"warm start (reused {inv.get('container_id') or 'an idle environment'})"
    if inv.get("status") == "throttled":
        return "no start (throttled: the concurrency limit was reached)"
    return "not started yet" if inv.get("status") in ("queued", "running") else "not started"


def status_words(status: str) -> str:
    return STATUS_WORDS.get(status, status)


def env_state_words(env: dict[str, Any]) -> str:
    """An environment's state for a card: idle (frozen), reset, terminated (reason)..."""
    state = env.get("state", "")
    if state == "terminated":
        reason = env.get("end_reason")
        return f"terminated ({END_REASONS.get(reason, reason)})" if reason else "terminated"
    if state == "idle" and env.get("reset_reason"):
        return "idle, reset (next invocation re-runs init)"
    if state == "idle":  # frozen between invocations, as Lambda does (the SIGSTOP itself lags a little)
        return "idle (frozen)"
    return state


def seconds(value: float | None) -> str:
    """A duration on the manager clock, short: 0.25 s, 12.3 s, 10 min, 1.5 h."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.3g} min"
    return f"{value / 3600:.3g} h"


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def served_words(env: dict[str, Any]) -> tuple[str, str]:
    """What an environment served and how often it ran init: every request routed to it counts,
    also those whose init failed before the handler could run."""
    ran = env["invocations"]
    requests = max(env.get("requests", ran), ran)
    served = _plural(ran, "invocation") if requests == ran else \
        f"{_plural(requests, 'request')} ({ran} reached the handler)"
    return served, _plural(env.get("inits", 0), "init")


def runtime_words(fn: dict[str, Any]) -> str:
    """A function's runtime, and the Python it runs on when its runtime names one:
    ``bundled on Python 3.12.1 (python3.12, pyenv)``; a Python the machine lacks is said."""
    runtime = fn.get("runtime", "bundled")
    asked = fn.get("python_runtime") or ""
    python = fn.get("python") or {}
    if runtime != "bundled" or not asked or not python.get("version"):
        return runtime
    source = python.get("source", "")
    return f"bundled on Python {python['version']} ({asked}{', ' + source if source != 'kernel' else ''})"


def other_python(inv: dict[str, Any]) -> str | None:
    """The Python an invocation ran on, when it is not the kernel's (``runtime="python3.12"``)."""
    import sys

    version = inv.get("python_version")
    return version if version and version != ".".join(map(str, sys.version_info[:3])) else None
