"""Part of ContainerManager: the lifecycle beyond Init and Invoke -- extensions and Shutdown.

The Extensions API calls arrive on the Runtime API server (``_on_platform``); Init waits for
the extensions to be ready; each invocation's INVOKE event goes to them and the Invoke phase
waits for them to come back to ``next``; an environment that ends goes through the Shutdown
phase (``lambda_widget.engine.shutdown``).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from lambda_widget.engine import shutdown
from lambda_widget.engine.extensions import PREFIX as EXT_PREFIX
from lambda_widget.engine.extensions import ApiAnswer, Extensions, external_names, owner_pid
from lambda_widget.engine.runtime_api import ACCEPTED, Delivery

if TYPE_CHECKING:
    from lambda_widget.engine.environment import ExecutionEnvironment


class LifecycleMixin:
    """Extensions and the Shutdown phase (mixed into ContainerManager)."""

    # ------------------------------------------------------------------ Init
    def _arm_extensions(self, env: ExecutionEnvironment) -> None:
        """Before a new process starts: a fresh set of extensions for it."""

        def failed(error_type: str, name: str, message: str) -> None:
            ext.failure = (error_type, name, message)
            with ext.cond:
                ext.cond.notify_all()
            if not ext.shutting_down and not env.killing:
                env.outcomes.put(("extension", error_type, name, message))

        ext = Extensions(external_names(str(env.master_opt) if env.master_opt else None), failed)
        ext.failure = None
        env.ext = ext

    def _wait_extensions_ready(self, env: ExecutionEnvironment, left: float) -> tuple | None:
        """After the runtime's first ``next``: Init ends when every extension waits in ``next``
        too. Returns None, or the failure (error type, message)."""
        ext = env.ext
        if ext is None:
            return None
        deadline = time.monotonic() + max(0.0, left)
        ready = False
        while not ready and time.monotonic() < deadline:
            ready = ext.wait(lambda: ext.ready() or ext.failure is not None,
                             min(0.1, max(0.0, deadline - time.monotonic())))
            if not ready and _extension_gone(env, ext):
                break  # one exited before it registered: no need to wait out the Init limit
        ext.init_done = True
        if ext.failure is not None:
            return ext.failure[0], ext.failure[2]
        if not ready:
            missing = [n for n in ext.expected if n not in {e.name for e in ext.by_id.values()}]
            what = f"did not register: {', '.join(missing)}" if missing else "did not call event/next"
            return "Extension.InitError", f"Extensions {what} (Init limit)"
        return None

    # ------------------------------------------------------------------ Invoke
    def _invoke_extensions(self, env: ExecutionEnvironment, rid: str, deadline_ms: int, arn: str,
                           trace_id: str) -> list:
        if env.ext is None or not env.ext.by_id:
            return []
        return env.ext.deliver({"eventType": "INVOKE", "deadlineMs": deadline_ms, "requestId": rid,
                                "invokedFunctionArn": arn,
                                "tracing": {"type": "X-Amzn-Trace-Id", "value": trace_id}})

    def _wait_invoke_extensions(self, env: ExecutionEnvironment, told: list, left: float) -> tuple:
        """The Invoke phase ends when every extension told of it is back in ``next``. Returns an
        outcome item: ``("done",)``, ``("timeout",)`` or the extension failure."""
        ext = env.ext
        if not told or ext is None:
            return ("done",)
        ok = ext.wait(lambda: ext.back_in_next(told) or ext.failure is not None, left)
        if ext.failure is not None:
            return ("extension",) + tuple(ext.failure)
        return ("done",) if ok else ("timeout",)

    # ------------------------------------------------------------------ the API
    def _on_platform(self, env: ExecutionEnvironment, handler, body: bytes) -> None:
        """A call on the Extensions API or SnapStart's restore paths (see runtime_api)."""
        path = handler.path
        try:
            if not path.startswith(EXT_PREFIX):
                self._on_restore_call(env, handler, body)
                return
            ext = env.ext
            if ext is None:
                raise ApiAnswer(403, "Extension.InvalidState", "This environment runs no extensions")
            action = path[len(EXT_PREFIX):]
            ext_id = handler.headers.get("Lambda-Extension-Identifier")
            if action == "/register" and handler.command == "POST":
                pid = owner_pid(env.group_pids(), handler.client_address[1], self._server.server_address[1])
                fn = env.function
                new_id, answer = ext.register(
                    handler.headers.get("Lambda-Extension-Name", ""), body, pid, env.runtime_pid,
                    {"name": fn.name, "version": env.version_label, "handler": fn.handler_spec,
                     "account": self.account_id})
                handler._send(200, answer, {"Lambda-Extension-Identifier": new_id})
            elif action == "/event/next" and handler.command == "GET":
                answered = threading.Event()

                def reply(data: bytes) -> None:
                    handler.send_delivery(Delivery("", data, _event_headers()))
                    answered.set()
                event = ext.next(ext_id, reply)
                if event is not None:
                    reply(event)
                # Extensions often ask with "Connection: close": this request's thread holds the
                # connection open until the event is sent (or the environment is gone).
                while not answered.wait(0.5) and env.alive and ext is env.ext:
                    pass
            elif action in ("/init/error", "/exit/error") and handler.command == "POST":
                ext.error(ext_id, action[1:5], handler.headers.get("Lambda-Extension-Function-Error-Type", ""),
                          body)
                handler._reply(ACCEPTED)
            else:
                raise ApiAnswer(404, "NotFound", "Not found")
        except ApiAnswer as answer:
            handler._send(answer.status, answer.body())

    def _on_restore_call(self, env: ExecutionEnvironment, handler, body: bytes) -> None:
        raise ApiAnswer(403, "InvalidStateTransition", "This environment is not a SnapStart snapshot")

    # ------------------------------------------------------------------ Shutdown
    def _shut_down(self, env: ExecutionEnvironment, why: str, reset: bool = False) -> dict[str, Any]:
        """The Shutdown phase (or a reset's): record it, and an event the timeline marks."""
        if not reset:
            env.shut_down = True
        record = shutdown.run(env, why, reset)
        record["at"] = self.clock.now()
        record["logs"] = env.take_output()[0]  # what the runtime and extensions wrote meanwhile
        env.shutdown = record
        if record["budget_ms"]:  # with no extension there is nothing to mark: the sandbox is killed
            self._event(env, "shutdown", record["reason"])
        return record

    def _kill_for_reset(self, env: ExecutionEnvironment, why: str) -> None:
        """A timeout or a failure resets the environment: its extensions hear of it
        (``SHUTDOWN``, reason TIMEOUT or FAILURE) where it has any; otherwise it is killed."""
        if env.alive and shutdown.budget(env)[0] and env.ext is not None and env.ext.external:
            self._shut_down(env, why, reset=True)
        else:
            env.kill()

    def _shut_down_many(self, envs: list[ExecutionEnvironment], reason: str) -> None:
        """Graceful shutdowns overlap: each has its own budget, the longest is 2 s."""
        threads = [threading.Thread(target=self._shut_down, args=(e, reason), daemon=True) for e in envs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def _extension_gone(env: ExecutionEnvironment, ext: Extensions) -> bool:
    """Fewer processes beside the runtime than extensions it started: one of them has exited."""
    own = 2 if env.mode == "namespaces" else 1  # the runtime (and the sandbox's init)
    return sum(_running(pid) for pid in env.group_pids()) - own < len(ext.expected)


def _running(pid: int) -> bool:
    """Not a zombie (an exited extension stays its parent's, the runtime's, until reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:][:1] not in (b"Z", b"X")


def _event_headers() -> dict[str, str]:
    return {"Lambda-Extension-Event-Identifier": str(uuid.uuid4()), "Content-Type": "application/json"}


def now_ms() -> int:
    return int(time.time() * 1000)
