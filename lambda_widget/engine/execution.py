"""Running one invocation in one environment: init, delivery, the outcome, the records."""

from __future__ import annotations

import json
import os
import queue
import random
import resource
import time
from pathlib import Path
from typing import Any

from lambda_widget.engine import logs, steps
from lambda_widget.engine.environment import ExecutionEnvironment
from lambda_widget.engine.outcomes import _get, _init_error_payload, _init_error_type, _load_error
from lambda_widget.engine.records import Function, Invocation
from lambda_widget.engine.runtime_api import Delivery
from lambda_widget.engine.snapstart import SNAPSTART_ERRORS, billed_restore, restore_report, restore_start

INIT_LIMIT = 10.0  # seconds Lambda allows an on-demand init before it retries inside the invoke
OPEN_FILES = 1024  # Lambda's file descriptor quota
# What the outcome queue may hold; an item tagged with a request id counts only for that one.
class StaleInvocation(Exception):
    """The invocation belongs to a manager state that ``reset()`` has ended: it must not run."""


class ExecutionMixin:
    """Part of ContainerManager: what happens between routing and the environment going back to the pool."""

    def _init_env(self, env: ExecutionEnvironment, limit: float) -> tuple[str, float, Any]:
        """Start the process and wait for its first ``/next``. Returns (outcome, ms, detail)."""
        with self._lock, env.lock:
            if env.state == "terminated":  # ended (reset, shutdown) before its process started
                return "exit", 0.0, -9
            env.state = "initializing"
            env.reset_reason = None
        if env.restore is not None:  # SnapStart: a fork of the version's snapshot, not an Init
            return self._restore_env(env, limit)
        zygote = self._zygote_for(env.function)
        if zygote is not None and env.function.runtime == "bundled":
            zygote.wait_ready()  # the template's own start-up is not this environment's init
        self._event(env, "init-start")
        self._changed(env)
        self._arm_extensions(env)
        t0 = time.perf_counter()
        # Services' variables (AWS_ENDPOINT_URL_SQS, ...) first: the function's own env wins.
        env.spawn({**self.service_env, **env.environ(self._server.address, self.region, self.account_id)},
                  self._launcher, zygote, self._server.preconnect)
        with self._lock, env.lock:
            ended = env.state == "terminated"
        if ended:  # terminated while it was being started: nothing of it may stay
            env.kill()
            return "exit", (time.perf_counter() - t0) * 1000, -9
        self._sentinel.track(env.id, env.pid)  # its process group dies with the kernel
        if env.function.runtime != "bundled":  # the bundled runtime sets it itself, before init
            _limit_open_files(env.pid)
        self._monitor.watch(env)
        try:
            item = _get(env.outcomes, limit)
        except queue.Empty:
            item = ("timeout",)
        ms = (time.perf_counter() - t0) * 1000
        kind = item[0]
        if kind == "ready":
            failure = self._wait_extensions_ready(env, limit - ms / 1000)
            ms = (time.perf_counter() - t0) * 1000
            if failure is not None:
                item = ("extension", failure[0], "", failure[1])
                kind = "extension"
        if kind == "ready":
            env.last_memory_mb = env.peak_memory_mb()  # what a crash in the first invocation reports
            self._event(env, "init-done")
            return "ready", ms, None
        if kind == "extension":  # Extension.InitError, .ExitError or .Crash: Init fails
            env.kill()
            self._event(env, "init-error", item[1])
            return "error", ms, {"errorMessage": item[3], "errorType": item[1]}
        if kind == "init-error":
            error = _load_error(item[1], item[2])
            if item[2] in SNAPSTART_ERRORS:  # a hook's error: the platform's type, as AWS reports it
                error["errorType"] = item[2]
            env.last_memory_mb = env.peak_memory_mb()  # before the kill: what init used, if still readable
            env.kill()
            self._event(env, "init-error", error.get("errorType", ""))
            return "error", ms, error
        if kind == "exit":
            env.kill()
            self._event(env, "init-error", "Runtime.ExitError")
            return "exit", ms, item[1]
        env.kill()
        self._event(env, "init-error", "timeout")
        return "timeout", ms, None

    def _execute(self, inv: Invocation, env: ExecutionEnvironment, fn: Function, payload: bytes,
                 cold: bool, reason: str | None, client_context: dict | None) -> None:
        rid = inv.request_id
        inv.cold, inv.cold_reason, inv.container_id = cold, reason, env.id
        inv.python_version = env.python_version
        inv.cpu = env.cpu.to_dict()
        inv.started_at = self.clock.now()
        env.requests += 1
        log: list[str] = []
        init_output: list[str] = []
        init_error: dict | None = None
        extra_ms = 0.0  # a suppressed init counts inside Duration
        budget = fn.timeout
        if cold:
            inv.status = "running"  # one notification: running, and where
            self._changed(inv)
            restoring = env.restore is not None  # SnapStart: the snapshot is restored instead
            suppressed = env.inits > 0 and not restoring
            if restoring:
                log.append(restore_start(self.region, env.python_version))
            elif not suppressed:
                log.append(logs.init_start(self.region, env.python_version))
            outcome, ms, detail = self._init_env(env, INIT_LIMIT if not suppressed else budget)
            lines, _ = env.take_output()
            init_output += lines
            log += lines
            if restoring:
                inv.restored = True
                if outcome == "ready":
                    inv.restore_duration_ms = round(ms, 2)
                    inv.billed_restore_duration_ms = billed_restore(ms, getattr(env, "restore_fork_ms", 0.0))
                    log.append(restore_report(ms))
                else:
                    log.append(restore_report(ms, "timeout" if outcome == "timeout" else "error",
                                              _init_error_type(outcome, detail)))
            elif outcome != "ready" and not suppressed:
                # Lambda retries a failed init once, inside the invoke, under the function timeout.
                log.append(logs.init_report(ms, "init", "timeout" if outcome == "timeout" else "error",
                                            _init_error_type(outcome, detail)))
                outcome, ms2, detail = self._init_env(env, budget)
                lines, _ = env.take_output()
                log += lines
                extra_ms = ms2
                if outcome != "ready":
                    log.append(logs.init_report(ms2, "invoke", "timeout" if outcome == "timeout"
                                                else "error", _init_error_type(outcome, detail)))
            elif suppressed:
                extra_ms = ms
            else:
                inv.init_duration_ms = round(ms, 2)
            if outcome != "ready":
                init_error = _init_error_payload(outcome, detail, rid, fn.timeout)
                self._finish_init_failure(inv, env, fn, log, init_output, init_error, extra_ms)
                return

        # Deliver the event: only what the runtime needs comes before the hand-over.
        budget_left = max(0.0, fn.timeout - extra_ms / 1000)
        deadline_ms = int(time.time() * 1000 + budget_left * 1000)
        headers = {
            "Lambda-Runtime-Aws-Request-Id": rid,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            # With the qualifier the caller used, as on Lambda (an alias's name, not its version).
            "Lambda-Runtime-Invoked-Function-Arn": fn.arn(self.region, self.account_id, inv.qualifier),
            "Lambda-Runtime-Trace-Id": _trace_id(self._rng),
            "Content-Type": "application/json",
        }
        told: list = []
        if client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = client_context  # JSON, checked at admission
        if inv.traced:
            env.trace_offset = 0
            _truncate(env.trace_path)
        delivery = Delivery(rid, payload, headers)
        with env.lock:
            send = None
            if env.state != "terminated":  # else its outcome queue already says so
                env.state = "busy"
                env.current = inv
                env.polling = False
                env.invocations += 1
                send, env.waiter = env.waiter, None
                if send is None:
                    env.pending = delivery  # the runtime has not asked yet: /next will find it
                # Thawed before the event is written: a frozen runtime reads nothing, and an
                # event larger than the socket buffers would never be taken.
                env.thaw()
            t0 = time.perf_counter()  # Duration and the timeout start when the event is handed over
        if send is not None:
            send(delivery)  # never blocks: what the socket cannot take at once goes on a thread
        if env.ext is not None and env.ext.by_id:  # the extensions' INVOKE event
            told = self._invoke_extensions(env, rid, deadline_ms, headers["Lambda-Runtime-Invoked-Function-Arn"],
                                           headers["Lambda-Runtime-Trace-Id"])
        # The rest of the bookkeeping runs while the handler does.
        if not cold:
            self._event(env, "thaw", request_id=rid)
            inv.status = "running"  # one notification: running, and where
        self._event(env, "invoke", request_id=rid)
        log.append(logs.start(rid, fn.version))
        self._changed(inv, env)
        try:
            item = _get(env.outcomes, budget_left - (time.perf_counter() - t0), rid, skip=("ready",))
        except queue.Empty:
            item = ("timeout",)
        if told and item[0] in ("response", "error"):
            # The Invoke phase ends when every extension is back in event/next: that time counts.
            after = self._wait_invoke_extensions(env, told, budget_left - (time.perf_counter() - t0))
            if after[0] != "done":
                item = after
        duration = (time.perf_counter() - t0) * 1000 + extra_ms
        kind = item[0]
        memory = env.peak_memory_mb()
        if kind in ("response", "error") and memory is not None and memory > fn.memory_mb:
            kind = "oom"  # the poll missed it, but the peak says the sandbox would have been killed
        if kind in ("response", "error", "exit") and env.out_of_memory():
            kind = "oom"  # the kernel's OOM killer ended a process of the sandbox (cgroup limit)
        status, result, error, crash_msg = "succeeded", None, None, ""
        if kind == "response":
            body, ctype = item[2], item[3]
            if ctype == "application/json":
                try:
                    result = json.loads(body)
                except ValueError:
                    result = body.decode("utf-8", "replace")
            else:
                result = body
        elif kind == "error":
            status, error = "failed", _load_error(item[2], item[3])
        elif kind == "too-large":
            # The runtime was told 413; awslambdaric exits on it. Reset, so the next event re-inits.
            status = "failed"
            env.kill()
            # The response as recorded (2025-11); the log line names the size too.
            error = {"errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                     "errorType": "Function.ResponseSizeTooLarge"}
            crash_msg = (f"[ERROR] {error['errorType']}: Response payload size ({item[2]} bytes) exceeded "
                         f"maximum allowed payload size (6291556 bytes).")
        elif kind == "timeout":
            status, duration = "timed-out", fn.timeout * 1000
            self._kill_for_reset(env, "timeout")
            error = {"errorMessage": f"RequestId: {rid} Error: Task timed out after "
                                     f"{fn.timeout:.2f} seconds", "errorType": "Sandbox.Timedout"}
        elif kind == "oom":
            # Over its memory size the sandbox is killed, even if a response was on its way.
            status, result, memory = "out-of-memory", None, fn.memory_mb
            self._kill_for_reset(env, "failure")
            crash_msg = "Runtime exited with error: signal: killed"
            error = {"errorMessage": f"RequestId: {rid} Error: {crash_msg}",
                     "errorType": "Runtime.OutOfMemory"}
        elif kind == "cancel":
            status = "cancelled"
            env.kill()
            crash_msg = "Invocation cancelled by KeyboardInterrupt in the kernel"
            error = {"errorMessage": f"RequestId: {rid} Error: {crash_msg}",
                     "errorType": "Client.Cancelled"}
        elif kind == "extension":  # an extension failed during the invoke: the environment resets
            status, result = "crashed", None
            self._kill_for_reset(env, "failure")
            crash_msg = item[3]
            error = {"errorMessage": f"RequestId: {rid} Error: {crash_msg}", "errorType": item[1]}
        else:  # exit
            status = "crashed"
            crash_msg = logs.exit_message(item[1])
            if len(item) > 2:  # killed by the watchdog
                self._kill_for_reset(env, "failure")
                crash_msg = f"Runtime exited with error: signal: killed ({item[2]})"
            error = {"errorMessage": f"RequestId: {rid} Error: {crash_msg}",
                     "errorType": "Runtime.ExitError"}
        lines, dropped = env.take_output()
        log += lines
        if dropped:
            log.append(f"[lambda_widget] {dropped} more bytes of output were not kept "
                       f"(each invocation keeps its first 1 MiB)")
        if status in ("crashed", "cancelled", "out-of-memory"):
            log += [f"RequestId: {rid} Error: {crash_msg}", error["errorType"]]
        elif kind == "too-large":
            log.append(crash_msg)
            crash_msg = ""
        log.append(logs.end(rid))
        if memory is None:  # the process is gone: what we saw of it while it ran
            memory = max(getattr(env, "last_memory_mb", None) or 0, -(-env.peak_rss // 2**20))
        env.last_memory_mb = memory
        if status == "timed-out":
            report_status, report_type = "timeout", None
        elif status != "succeeded" and kind != "error":  # AWS writes no Status for a handled exception
            report_status, report_type = "error", error["errorType"]
        else:
            report_status = report_type = None
        billed = logs.billed(duration, inv.init_duration_ms if not inv.restored
                             else inv.billed_restore_duration_ms)
        log.append(logs.report(rid, duration, billed, fn.memory_mb, memory, inv.init_duration_ms,
                               report_status, report_type, inv.restore_duration_ms,
                               inv.billed_restore_duration_ms))

        body_steps, facts = _body_steps(env, inv, lines, fn.source)
        first_use = env.provisioned and env.invocations == 1 and not cold
        all_steps = steps.opening(cold, reason, "\n".join(init_output),
                                  provisioned_first=first_use, restored=inv.restored) + body_steps + \
            steps.closing(body_steps, status, result, error, fn.timeout, crash_msg, inv.traced)
        all_steps = steps.number_and_fill(all_steps, facts["entry"], list(fn.track), facts["globals_before"])

        with inv._lock:
            inv.result, inv.error = result, error
            inv.logs = log
            inv.steps = all_steps
            inv.duration_ms = round(duration, 2)
            inv.billed_duration_ms = billed
            inv.max_memory_used_mb = memory
            inv.globals_before = facts["globals_before"]
            inv.globals_after = facts["globals_after"]
            inv.trace_truncated = facts["truncated"]
            inv.ended_at = self.clock.now()
            inv.status = status
        self._after_invocation(env, inv, status)

    def _internal_error(self, inv: Invocation, env: ExecutionEnvironment | None, exc: BaseException) -> None:
        """An error of the engine's own: the invocation still ends (failed), its environment is
        killed and reset, and its concurrency is freed. Nothing stays busy for ever."""
        if env is not None:
            try:
                env.kill()
            except Exception:  # noqa: BLE001 - the environment is reset regardless
                pass
        with inv._lock:
            if not inv.done:
                inv.error = {"errorMessage": f"lambda_widget internal error: {exc!r}",
                             "errorType": "ServiceException", "requestId": inv.request_id,
                             "stackTrace": []}
                inv.ended_at = self.clock.now()
                inv.status = "failed"
        if env is None:
            self._changed(inv)
            return
        try:
            with self._lock:
                mine = env.current is inv or env.current is None
            if mine:
                self._after_invocation(env, inv, "crashed")
        except Exception:  # noqa: BLE001 - last resort: take it out of the pool
            with self._lock:
                env.current = None
            self._terminate(env, "internal-error")
        self._changed(inv)

    def _after_invocation(self, env: ExecutionEnvironment, inv: Invocation, status: str) -> None:
        reset = status in ("timed-out", "crashed", "cancelled", "out-of-memory") or not env.alive
        with self._lock:
            env.last_invocation = inv  # before current: the Runtime API reads them in the other order
            env.current = None
            env.last_used_at = self.clock.now()
            if reset:
                env.reset_reason = "reset-after-timeout" if status == "timed-out" else "reset-after-crash"
                self._event(env, "reset", env.reset_reason, inv.request_id)
            retire = self._settle(env, inv)
        if retire:
            self._terminate(env, retire, already_marked=True)
        self._changed(inv, env)

    def _settle(self, env: ExecutionEnvironment, inv: Invocation) -> str | None:
        """After an invocation: back to the pool, or (already) gone. The reason if it must retire now."""
        if env.state == "terminated":  # ended while this invocation ran (shutdown, reset)
            self._append_end(inv, env.end_reason or "shutdown")
            return None
        if env.retiring:  # its version changed or went while it ran
            env.state = "terminated"
            self._pool.remove(env)
            return getattr(env, "retire_reason", None) or "function-updated"
        self._release(env)
        return None

    def _release(self, env: ExecutionEnvironment) -> None:
        """Back to the pool: idle, and frozen once the runtime waits on ``/next``."""
        with env.lock:
            env.state = "idle"
            env.current = None
            if env.polling and env.pending is None:
                env.freeze()
        self._pool.release(env, self.placement)
        self._event(env, "idle", env.reset_reason or "")

    def _finish_init_failure(self, inv, env, fn, log, init_output, error, extra_ms) -> None:
        rid = inv.request_id
        log.append(logs.start(rid, fn.version))
        log.append(logs.end(rid))
        duration = extra_ms
        billed = logs.billed(duration, inv.init_duration_ms)
        # What the failed init used, read before its process was killed (None: it was gone first).
        memory = getattr(env, "last_memory_mb", None) or (-(-env.peak_rss // 2**20) or None)
        log.append(logs.report(rid, duration, billed, fn.memory_mb, memory or 0, None, "error",
                               error["errorType"]))
        all_steps = steps.opening(True, inv.cold_reason, "\n".join(init_output), error,
                                  restored=inv.restored) + \
            steps.closing([], "init-failed", error=error)
        all_steps = steps.number_and_fill(all_steps, {}, list(fn.track))
        with inv._lock:
            inv.error = error
            inv.logs = log
            inv.steps = all_steps
            inv.duration_ms = round(duration, 2)
            inv.billed_duration_ms = billed
            inv.max_memory_used_mb = memory
            inv.ended_at = self.clock.now()
            inv.status = "failed"
        with self._lock:
            env.current = None
            env.last_invocation = inv
            env.last_used_at = self.clock.now()
            env.reset_reason = "reset-after-init-error"
            self._event(env, "reset", env.reset_reason, rid)
            retire = self._settle(env, inv)
        if retire:
            self._terminate(env, retire, already_marked=True)
        self._changed(inv, env)

    def _throttle(self, inv: Invocation, fn: Function,
                  reason: str = "ReservedFunctionConcurrentInvocationLimitExceeded") -> None:
        error = {"errorMessage": "Rate Exceeded.", "errorType": "TooManyRequestsException",
                 "Reason": reason, "Type": "User"}
        all_steps = steps.number_and_fill(steps.opening(True, None, throttled=True), {}, list(fn.track))
        with inv._lock:
            inv.error = error
            inv.steps = all_steps
            inv.cold = None
            inv.ended_at = self.clock.now()
            inv.status = "throttled"
        self._changed(inv)

    def _finish_unrun(self, inv: Invocation, status: str) -> None:
        inv.error = {"errorMessage": "The invocation was cancelled before it ran",
                     "errorType": "Client.Cancelled", "requestId": inv.request_id, "stackTrace": []}
        inv.ended_at = self.clock.now()
        inv.status = status
        self._changed(inv)


def _body_steps(env: ExecutionEnvironment, inv: Invocation, lines: list[str], source: str):
    """The handler's steps from its trace; a trace the handler tampered with costs the steps,
    never the invocation."""
    if inv.traced:
        try:
            records = [r for r in env.read_trace() if isinstance(r, dict)]
            return steps.from_trace(records, inv.request_id, source)
        except Exception:  # noqa: BLE001 - the trace file is writable by handler code
            note = "[lambda_widget] the trace of this invocation could not be read"
            return [steps.untraced(lines + [note])], steps.no_facts()
    return [steps.untraced(lines)], steps.no_facts()


def _limit_open_files(pid: int | None) -> None:
    """Lambda's quota of 1,024 file descriptors, for a runtime that does not set it itself."""
    if pid is None:
        return
    try:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))
    except (OSError, ValueError):
        pass


def _trace_id(rng: random.Random) -> str:
    return (f"Root=1-{int(time.time()):08x}-{rng.getrandbits(96):024x};"
            f"Parent={rng.getrandbits(64):016x};Sampled=0;Lineage=1:00000000:0")


def _truncate(path: Path) -> None:
    try:
        os.truncate(path, 0)
    except OSError:
        pass
