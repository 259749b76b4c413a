"""Plain-data snapshots of a manager for the pool, history and burst renderers."""

from __future__ import annotations

from typing import Any

MAX_TIMELINE_ROWS = 40


MAX_TIMELINE_EVENTS = 1000  # the timeline draws the most recent lifecycle events, up to this many
_CARRIED = ("init-start", "invoke", "idle")  # events that open a bar: one still open at the cut is carried in


def pool_snapshot(manager: Any, function_name: str | None = None) -> dict[str, Any]:
    """Environments, their recent lifecycle events, invocation outcomes and the clock, as dicts.

    Only the last ``MAX_TIMELINE_EVENTS`` events are taken, so a render costs the same after
    ten thousand invocations as after ten; ``since`` is then where the timeline starts, and
    each environment's bar that was open at that moment starts there.
    """
    envs = [e for e in manager.all_containers
            if function_name is None or e.function_name == function_name]
    ids = {e.id for e in envs}
    history = list(manager.events)
    recent: list[Any] = []
    i = len(history)
    while i > 0 and len(recent) < MAX_TIMELINE_EVENTS:
        i -= 1
        if history[i].container_id in ids:
            recent.append(history[i])
    recent.reverse()
    since = None
    if any(ev.container_id in ids for ev in history[:i]):
        since = recent[0].time
        carried, unseen = [], set(ids) - {ev.container_id for ev in recent if ev.kind in ("create", "init-start")}
        while i > 0 and unseen:  # the last earlier event of each environment: was a bar open?
            i -= 1
            ev = history[i]
            if ev.container_id in unseen:
                unseen.discard(ev.container_id)
                if ev.kind in _CARRIED:
                    carried.append(_event(ev, time=since))
        events = carried + [_event(ev) for ev in recent]
    else:
        events = [_event(ev) for ev in recent]
    wanted = {ev["request_id"] for ev in events if ev["request_id"]}
    outcomes = {inv.request_id: inv.status for inv in list(manager.history) if inv.request_id in wanted}
    return {
        "function_name": function_name,
        "now": manager.clock.now(),
        "isolation": getattr(manager, "isolation", None),
        "containers": [_env(e) for e in envs],
        "events": events,
        "since": since,
        "outcomes": outcomes,
        "versions": version_rows(manager, function_name),
    }


def version_rows(manager: Any, function_name: str | None) -> list[dict[str, Any]]:
    """The manager's versions and aliases (``ContainerManager.version_rows``), if it has any."""
    rows = getattr(manager, "version_rows", None)
    return rows(function_name) if rows is not None else []


def _env(env: Any) -> dict[str, Any]:
    data = env.to_dict()
    data["provisioned_for"] = getattr(env, "provisioned_for", None)  # the alias or version it is provisioned for
    return data


def _event(ev: Any, time: float | None = None) -> dict[str, Any]:
    # Built by hand: asdict() on thousands of events would make every render slow.
    return {"time": ev.time if time is None else time, "container_id": ev.container_id, "kind": ev.kind,
            "reason": ev.reason, "request_id": ev.request_id}


def history_rows(manager: Any, function_name: str | None = None) -> list[dict[str, Any]]:
    """One small dict per past invocation, oldest first (no steps or logs)."""
    return [invocation_row(inv) for inv in list(manager.history)
            if function_name is None or inv.function_name == function_name]


def history_window(manager: Any, function_name: str | None, last: int) -> tuple[list[dict[str, Any]], int]:
    """The rows of the ``last`` most recent invocations, oldest first, and how many there are in all.

    A history view shows only the recent rows: building them all would make every render
    slower as the session goes on.
    """
    invs = [inv for inv in list(manager.history) if function_name is None or inv.function_name == function_name]
    return [invocation_row(inv) for inv in invs[-last:]], len(invs)


def invocation_row(inv: Any) -> dict[str, Any]:
    return {"number": inv.number, "function_name": inv.function_name, "version": inv.version,
            "qualifier": getattr(inv, "qualifier", None),
            "status": inv.status, "cold": inv.cold, "cold_reason": inv.cold_reason,
            "container_id": inv.container_id, "duration_ms": inv.duration_ms,
            "request_id": inv.request_id}


def function_stats(manager: Any, name: str) -> dict[str, Any]:
    """Live environments and invocation counts of one function, its versions and aliases, for its card."""
    live = [e for e in manager.containers if e.function_name == name]
    invs = [i for i in list(manager.history) if i.function_name == name]
    try:
        latest = manager.function(name).revision
    except Exception:  # noqa: BLE001 - the function may be gone after a reset
        latest = None
    return {"latest_revision": latest, "environments": len(live),
            "busy": sum(e.state in ("busy", "initializing") for e in live),
            "invocations": len(invs), "cold": sum(i.cold is True for i in invs),
            "versions": version_rows(manager, name)}


def history_entry(inv: Any, *, steps: bool = False) -> dict[str, Any]:
    """The parts of an earlier invocation that key moments cite (its steps only if asked)."""
    return {**invocation_row(inv), "globals_before": dict(inv.globals_before),
            "globals_after": dict(inv.globals_after),
            "steps": [s.to_dict() for s in list(inv.steps)] if steps else []}
