"""Routing an event: which function version runs it, then a warm environment of that version, a
reset one, a new one, or a throttle."""

from __future__ import annotations

import datetime

from lambda_widget.engine.environment import ExecutionEnvironment, log_stream_name
from lambda_widget.engine.errors import InvalidParameterValueException, ResourceNotFoundException
from lambda_widget.engine.execution import StaleInvocation
from lambda_widget.engine.pool import env_seq
from lambda_widget.engine.records import LATEST, Alias, Function, Invocation
from lambda_widget.placement import Limits, Placement

__all__ = ["RoutingMixin", "env_seq", "split_qualifier"]


def split_qualifier(name: str, qualifier: str | None = None) -> tuple[str, str | None]:
    """``"fn:live"`` -> ``("fn", "live")``; a qualifier given both ways must agree (as on Lambda)."""
    if isinstance(name, str) and ":" in name:
        name, derived = name.split(":", 1)
        if qualifier not in (None, "", derived):
            raise InvalidParameterValueException(
                "The derived qualifier from the function name does not match the specified qualifier.")
        qualifier = derived
    if qualifier is not None and not isinstance(qualifier, str):
        raise InvalidParameterValueException(f"qualifier must be a version or an alias name, not {qualifier!r}")
    return name, qualifier or None


class RoutingMixin:
    """Part of ContainerManager: resolve a qualifier, pick the environment an event runs in, say why it is cold."""

    def _run(self, inv: Invocation, payload: bytes, client_context: str | None) -> Invocation:
        env = None
        try:
            if getattr(inv, "_cancel_requested", False) or self._closed:
                self._finish_unrun(inv, "cancelled")
                return inv
            if self._snapshot_failed(inv):  # SnapStart: the version's publish failed; nothing runs
                return inv
            env, fn, cold, reason = self._acquire(inv)
            if env is None:
                self._throttle(inv, fn, reason)
                return inv
            self._execute(inv, env, fn, payload, cold, reason, client_context)
        except StaleInvocation:  # queued before a reset(), or its version was deleted: it never runs
            self._finish_unrun(inv, "cancelled")
        except Exception as exc:  # noqa: BLE001 - never lose an invocation, never keep an environment busy
            self._internal_error(inv, env, exc)
        finally:
            self._payloads.count(inv)  # the history's byte budget: older records may be truncated now
        return inv

    @property
    def placement(self) -> Placement:
        """The placement policy this manager routes by (shared with the traffic simulator)."""
        policy, clock = self.__dict__.get("_placement", (None, None))
        if policy is None or clock is not self.clock:  # reset() starts a new clock: and new buckets
            policy = Placement(Limits(self.account_concurrency))
            self.__dict__["_placement"] = (policy, self.clock)
        return policy

    # -- which version -------------------------------------------------------------
    def _target(self, name: str, qualifier: str | None) -> Function | Alias:
        """What ``name`` and ``qualifier`` name: $LATEST, a published version or an alias (lock held)."""
        latest = self._functions.get(name)
        if latest is None:
            raise ResourceNotFoundException(self._not_found(name))
        if qualifier in (None, LATEST):
            return latest
        found = self._published.get(name, {}).get(qualifier) or self._aliases.get(name, {}).get(qualifier)
        if found is None:
            raise ResourceNotFoundException(f"Function not found: {latest.arn(self.region, self.account_id, qualifier)}")
        return found

    def _pick(self, target: Function | Alias) -> Function:
        """The version that runs an event sent to ``target``: an alias with a routing configuration
        draws from the manager's seeded random numbers, so a seeded lesson splits the same way."""
        if isinstance(target, Function):
            return target
        version = target.function_version
        if target.routing:
            draw, edge = self._rng.random(), 0.0
            for extra, weight in sorted(target.routing.items()):
                edge += weight
                if draw < edge:
                    version = extra
                    break
        return self._version_record(target.function_name, version)

    def _version_record(self, name: str, version: str) -> Function:
        if version == LATEST:
            return self._functions[name]
        return self._published[name][version]

    def _current(self, inv: Invocation) -> Function:
        """The version record ``inv`` runs now: $LATEST as it is now (it may have been updated since
        the event was admitted), or its published version (immutable)."""
        latest = self._functions.get(inv.function_name)
        if latest is None or getattr(inv, "_generation", self._generation) != self._generation:
            raise StaleInvocation(inv.request_id)
        fn = latest if inv.version == LATEST else self._published.get(inv.function_name, {}).get(inv.version)
        if fn is None:
            raise StaleInvocation(inv.request_id)
        if fn is not inv.function:
            inv.function, inv.source, inv.track = fn, fn.source, list(fn.track)
            inv.memory_size_mb, inv.timeout = fn.memory_mb, fn.timeout
            inv.traced = fn.trace and fn.runtime == "bundled"
        return fn

    def _first_reason(self, fn: Function) -> str:
        """Why the first environment of a version starts cold."""
        before = self._had_any.get(fn.name, ())
        if fn.version == LATEST and LATEST in before:
            return "function-updated"
        return "new-version" if before else "first-invocation"

    # -- which environment -----------------------------------------------------------
    def _acquire(self, inv: Invocation):
        with self._lock:
            fn = self._current(inv)
            placement, pool, key = self.placement, self._pool, fn.key
            env = pool.take(key, placement)
            reserved = self._functions[fn.name].reserved_concurrency  # reserved concurrency is per function
            reserved_running = sum(pool.running(f) for f in self._reserved)
            decision = placement.decide(
                pool.view(env) if env is not None else None, fn.name, self.clock.now(),
                running=pool.running(fn.name), running_unreserved=pool.running_total - reserved_running,
                reserved=reserved, reserved_elsewhere=self._reserved_total - (reserved or 0),
                live_same_version=pool.alive(key), last_end=self._last_end.get(key),
                had_env=key in self._had_env, first=self._first_reason(fn))
            if decision.kind == "throttle":
                return None, fn, True, decision.reason
            if env is None:
                env = self._new_env(fn, decision.reason)
                env.current = inv
                return env, fn, True, decision.reason
            env.state = "busy"
            env.current = inv
            prev = env.last_invocation
            if prev is not None:
                self._append_end(prev, "reused" if env.alive else "reinit")
            return env, fn, decision.kind == "cold", decision.reason

    def _new_env(self, fn: Function, reason: str, provisioned: bool = False) -> ExecutionEnvironment:
        self._counters["env"] += 1
        hex32 = f"{self._rng.getrandbits(128):032x}"
        stream = log_stream_name(datetime.datetime.now(datetime.timezone.utc), hex32, fn.version)
        env = ExecutionEnvironment(f"env-{self._counters['env']}", fn, self._root / "envs",
                                   self.clock.now(), reason, provisioned, stream, self._isolation)
        if fn.snap_start:
            self._prepare_restore(env)  # SnapStart: a restore of the version's snapshot, not an Init
        self._envs.append(env)
        self._pool.add(env)
        self._had_env.add(fn.key)
        self._had_any.setdefault(fn.name, set()).add(fn.version)
        self._event(env, "create", reason)
        self._changed(env)
        return env

    def _busy_envs(self) -> list[ExecutionEnvironment]:
        with self._lock:
            return [e for e in self._envs if e.state in ("busy", "initializing") and e.alive]

    def _idle_processes(self, running: set) -> int:
        """Processes the frozen environments hold (the fallback's freeze stopped and listed them),
        but for those in ``running`` (counted as they run)."""
        with self._lock:
            envs = list(self._envs)
        return sum(e.frozen_processes for e in envs if e not in running)

    def _live_envs(self) -> list[ExecutionEnvironment]:
        with self._lock:
            return list(self._envs)
