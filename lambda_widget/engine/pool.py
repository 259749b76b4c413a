"""The live environments, indexed for placement: what a routing decision reads, kept as it changes.

Per function version, the idle environments in an :class:`~lambda_widget.placement.IdleSet` (the
one placement picks on top); per function, how many run (initialising or busy); per version, how
many are alive. The manager tells the index when an environment is created, taken, released and
ended, under its lock, so a placement never scans the pool.
"""

from __future__ import annotations

from typing import Any

from lambda_widget.placement import EnvView, IdleSet, Placement


def env_seq(env: Any) -> int:
    """An environment's creation order: ``env-7`` is the 7th."""
    return int(env.id.split("-")[1])


class EnvPool:
    """The index of one manager's live environments (callers hold the manager's lock)."""

    def __init__(self) -> None:
        self._idle: dict[tuple, IdleSet] = {}
        self._envs: dict[int, Any] = {}     # seq -> environment, for every live one
        self._running: dict[str, int] = {}  # function -> its initialising or busy environments
        self._alive: dict[tuple, int] = {}  # version key -> its live environments
        self._where: dict[int, str] = {}    # seq -> "running" | "idle"
        self.running_total = 0

    def __len__(self) -> int:
        return len(self._envs)

    def running(self, function: str) -> int:
        return self._running.get(function, 0)

    def alive(self, key: tuple) -> bool:
        """Does version ``key`` have a live environment (in any state)?"""
        return self._alive.get(key, 0) > 0

    def idle(self, key: tuple) -> int:
        found = self._idle.get(key)
        return len(found) if found is not None else 0

    # -- transitions -----------------------------------------------------------
    def add(self, env: Any) -> None:
        """A new environment: it starts initialising (it counts as running)."""
        seq = env_seq(env)
        self._envs[seq] = env
        key = env.function.key
        self._alive[key] = self._alive.get(key, 0) + 1
        self._set(seq, env, "running")

    def release(self, env: Any, placement: Placement) -> None:
        """Back to the pool, idle: placement may pick it."""
        seq = env_seq(env)
        if seq not in self._envs:
            return
        self._set(seq, env, "idle")
        key = env.function.key
        found = self._idle.get(key)
        if found is None:
            found = self._idle[key] = IdleSet()
        found.add(seq, placement.rank_key(env.provisioned, env.alive, seq))

    def take(self, key: tuple, placement: Placement) -> Any | None:
        """The idle environment of version ``key`` that placement ranks first, now running; or None."""
        found = self._idle.get(key)
        if not found:
            return None

        def current(seq: int) -> int | None:
            env = self._envs.get(seq)
            if env is None or env.state != "idle" or env.retiring:
                return None
            return placement.rank_key(env.provisioned, env.alive, seq)

        seq = found.take(current)
        if seq is None:
            return None
        env = self._envs[seq]
        self._set(seq, env, "running")
        return env

    def remove(self, env: Any) -> None:
        """Ended (or about to be): it neither serves nor counts any more. Idempotent."""
        seq = env_seq(env)
        if self._envs.pop(seq, None) is None:
            return
        self._set(seq, env, None)
        key = env.function.key
        found = self._idle.get(key)
        if found is not None:
            found.discard(seq)
            if not found:
                del self._idle[key]
        left = self._alive.get(key, 0) - 1
        if left > 0:
            self._alive[key] = left
        else:
            self._alive.pop(key, None)

    def clear(self) -> None:
        self.__init__()

    def _set(self, seq: int, env: Any, where: str | None) -> None:
        was = self._where.pop(seq, None)
        if where is not None:
            self._where[seq] = where
        delta = (where == "running") - (was == "running")
        if delta:
            name = env.function_name
            self._running[name] = self._running.get(name, 0) + delta
            self.running_total += delta

    @staticmethod
    def view(env: Any) -> EnvView:
        """What placement needs to know about ``env``."""
        return EnvView(env_seq(env), env.function_name, env.function.key, env.state, env.provisioned,
                       env.alive, env.retiring, env.reset_reason)
