"""Routing an event: a warm environment of the current version, a reset one, a new one, or a throttle."""

from __future__ import annotations

import datetime

from lambda_widget.engine.environment import ExecutionEnvironment, log_stream_name
from lambda_widget.engine.execution import StaleInvocation
from lambda_widget.engine.records import Function, Invocation
from lambda_widget.placement import EnvView, Limits, Placement


def env_seq(env: ExecutionEnvironment) -> int:
    """An environment's creation order: ``env-7`` is the 7th."""
    return int(env.id.split("-")[1])


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
                self._throttle(inv, fn, reason)
                return inv
            self._execute(inv, env, fn, payload, cold, reason, client_context)
        except StaleInvocation:  # queued before a reset(): it never runs
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

    def _acquire(self, inv: Invocation):
        with self._lock:
            fn = self._functions.get(inv.function_name)
            if fn is None or getattr(inv, "_generation", self._generation) != self._generation:
                raise StaleInvocation(inv.request_id)
            inv.version = fn.version
            inv.source = fn.source
            by_seq = {env_seq(e): e for e in self._envs}
            views = [EnvView(seq, e.function_name, e.version, e.state, e.provisioned, e.alive,
                             e.retiring, e.reset_reason) for seq, e in by_seq.items()]
            reserved_by = {f.name: f.reserved_concurrency for f in self._functions.values()
                           if f.reserved_concurrency is not None}
            key = (fn.name, fn.version)
            decision = self.placement.place(
                views, fn.name, fn.version, self.clock.now(), reserved=fn.reserved_concurrency,
                reserved_by=reserved_by, last_end=self._last_end.get(key), had_env=key in self._had_env)
            if decision.kind == "throttle":
                return None, fn, True, decision.reason
            if decision.env is None:
                env = self._new_env(fn, decision.reason)
                env.current = inv
                return env, fn, True, decision.reason
            env = by_seq[decision.env]
            env.state = "busy"
            env.current = inv
            prev = env.last_invocation
            if prev is not None:
                self._append_end(prev, "reused" if env.alive else "reinit")
            return env, fn, decision.kind == "cold", decision.reason

    def _new_env(self, fn: Function, reason: str, provisioned: bool = False) -> ExecutionEnvironment:
        self._counters["env"] += 1
        hex32 = f"{self._rng.getrandbits(128):032x}"
        stream = log_stream_name(datetime.datetime.now(datetime.timezone.utc), hex32)
        env = ExecutionEnvironment(f"env-{self._counters['env']}", fn, self._root / "envs",
                                   self.clock.now(), reason, provisioned, stream, self._isolation)
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

