"""Routing an event: a warm environment of the current version, a reset one, a new one, or a throttle."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from lambda_widget.engine.environment import ExecutionEnvironment, log_stream_name
from lambda_widget.engine.execution import StaleInvocation
from lambda_widget.engine.records import Function, Invocation

if TYPE_CHECKING:
    pass



class RoutingMixin:
    """Part of ContainerManager: pick the environment an event runs in, and say why it is cold."""

    def _run(self, inv: Invocation, payload: bytes, client_context: str | None) -> Invocation:
        env = None
        try:
            if getattr(inv, "_cancel_requested", False) or self._closed:
                self._finish_unrun(inv, "cancelled")
                return inv
            env, fn, cold, reason = self._acquire(inv)
            if env is None:
                self._throttle(inv, fn)
                return inv
            self._execute(inv, env, fn, payload, cold, reason, client_context)
        except StaleInvocation:  # queued before a reset(): it never runs
            self._finish_unrun(inv, "cancelled")
        except Exception as exc:  # noqa: BLE001 - never lose an invocation, never keep an environment busy
            self._internal_error(inv, env, exc)
        return inv

    def _acquire(self, inv: Invocation):
        with self._lock:
            fn = self._functions.get(inv.function_name)
            if fn is None or getattr(inv, "_generation", self._generation) != self._generation:
                raise StaleInvocation(inv.request_id)
            inv.version = fn.version
            inv.source = fn.source
            mine = [e for e in self._envs if e.function_name == fn.name]
            idle = [e for e in mine if e.version == fn.version and e.state == "idle" and not e.retiring]
            if idle:
                if len(idle) > 1:
                    idle.sort(key=lambda e: (not e.provisioned, not e.alive, int(e.id.split("-")[1])))
                env = idle[0]
                cold = not env.alive
                reason = env.reset_reason if cold else None
                env.state = "busy"
                env.current = inv
                prev = env.last_invocation
                if prev is not None:
                    self._append_end(prev, "reused" if env.alive else "reinit")
                return env, fn, cold, reason
            running = [e for e in mine if e.state in ("initializing", "busy")]
            if fn.reserved_concurrency is not None and len(running) >= fn.reserved_concurrency:
                return None, fn, True, None
            if any(e.version == fn.version for e in mine):
                reason = "all-busy"
            elif self._last_end.get((fn.name, fn.version)) == "idle-timeout":
                reason = "idle-expired"
            elif (fn.name, fn.version) in self._had_env:
                reason = "all-busy"
            elif fn.version > 1:
                reason = "new-version"
            else:
                reason = "first-invocation"
            env = self._new_env(fn, reason)
            env.current = inv
            return env, fn, True, reason

    def _new_env(self, fn: Function, reason: str, provisioned: bool = False) -> ExecutionEnvironment:
        self._counters["env"] += 1
        hex32 = f"{self._rng.getrandbits(128):032x}"
        stream = log_stream_name(datetime.datetime.now(datetime.timezone.utc), hex32)
        env = ExecutionEnvironment(f"env-{self._counters['env']}", fn, self._root / "envs",
                                   self.clock.now(), reason, provisioned, stream)
        self._envs.append(env)
        self._had_env.add((fn.name, fn.version))
        self._event(env, "create", reason)
        self._changed(env)
        return env

    def _busy_envs(self) -> list[ExecutionEnvironment]:
        with self._lock:
            return [e for e in self._envs if e.state in ("busy", "initializing") and e.alive]

    def _live_envs(self) -> list[ExecutionEnvironment]:
        with self._lock:
            return list(self._envs)

