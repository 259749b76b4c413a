"""The container manager: functions and versions, the pool of environments, routing, the clock.

One per kernel (``get_manager()``), or as many independent ones as you like.
"""

from __future__ import annotations

import atexit
import datetime
import json
import os
import queue
import random
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from traitlets import HasTraits, Int

from lambda_widget.engine import logs, steps
from lambda_widget.engine.asyncq import (
    FUNCTION_ERRORS,
    MAX_ASYNC_REQUEST,
    RETRY_DELAYS,
    THROTTLE_BACKOFF_MAX,
    AsyncQueue,
    deliver,
    destination_record,
)
from lambda_widget.engine.clock import Clock
from lambda_widget.engine.environment import ExecutionEnvironment, Launcher, log_stream_name, zygote_environ
from lambda_widget.engine.errors import (
    InvalidParameterValueException,
    RequestTooLargeException,
    ResourceNotFoundException,
)
from lambda_widget.engine.monitor import Monitor
from lambda_widget.engine.records import Function, Invocation, LifecycleEvent
from lambda_widget.engine.runtime_api import Delivery, RuntimeApiServer
from lambda_widget.engine.validation import MAX_SYNC_REQUEST, encode_event, validate_config
from lambda_widget.engine.watchdog import Watchdog
from lambda_widget.engine.zygote import Zygote

INIT_LIMIT = 10.0  # seconds Lambda allows an on-demand init before it retries inside the invoke
_managers: weakref.WeakSet = weakref.WeakSet()


class ContainerManager(HasTraits):
    """Runs Lambda functions in real execution environments (one OS process each).

    ``seed`` makes request ids reproducible; ``virtual_clock`` stops real time from
    ageing idle environments (only ``advance()`` moves the clock); ``max_concurrency``
    is how many invocations run at once (more wait their turn).
    """

    revision = Int(0)

    def __init__(self, *, seed: int | None = None, region: str = "us-east-1",
                 account_id: str = "123456789012", max_concurrency: int = 64,
                 virtual_clock: bool = False, max_history: int = 10_000,
                 fork_server: bool = True) -> None:
        super().__init__()
        self.region = region
        self.account_id = account_id
        self.seed = seed
        self.clock = Clock(virtual=virtual_clock)
        self.max_history = max_history
        self._rng = random.Random(seed) if seed is not None else random.Random()
        self._lock = threading.RLock()
        self._functions: dict[str, Function] = {}
        self._versions: dict[str, list[Function]] = {}
        self._envs: list[ExecutionEnvironment] = []
        self._ended: list[ExecutionEnvironment] = []
        self._last_end: dict[tuple[str, int], str] = {}
        self._had_env: set[tuple[str, int]] = set()
        self.history: list[Invocation] = []
        self.events: list[LifecycleEvent] = []
        self._counters = {"env": 0, "inv": 0}
        self._closed = False
        self._root = Path(tempfile.mkdtemp(prefix="lambda-widget-"))
        (self._root / "envs").mkdir()
        (self._root / "functions").mkdir()
        self._launcher = Launcher()
        self._zygote = Zygote(self._launcher, zygote_environ()) if fork_server else None
        self._server = RuntimeApiServer(self._live_envs, self._on_next, self._on_outcome)
        self._server.start()
        self._async = AsyncQueue(self)
        self._monitor = Monitor(self._on_exit, self._tick)
        self._monitor.start()
        self._watchdog = Watchdog(self._busy_envs)
        self._watchdog.start()
        self._executor = ThreadPoolExecutor(max_workers=max_concurrency,
                                            thread_name_prefix="lambda-invoke")
        _managers.add(self)

    # ------------------------------------------------------------------ records
    @property
    def containers(self) -> list[ExecutionEnvironment]:
        """Live environments (not terminated), oldest first."""
        with self._lock:
            return list(self._envs)

    @property
    def all_containers(self) -> list[ExecutionEnvironment]:
        """Every environment this manager ever created, oldest first."""
        with self._lock:
            return sorted(self._envs + self._ended, key=lambda e: int(e.id.split("-")[1]))

    @property
    def functions(self) -> dict[str, Function]:
        with self._lock:
            return dict(self._functions)

    @property
    def runtime_api(self) -> str:
        return self._server.address

    def versions(self, name: str) -> list[Function]:
        return list(self._versions.get(name, []))

    def function(self, name: str) -> Function:
        with self._lock:
            fn = self._functions.get(name)
            if fn is None:
                raise ResourceNotFoundException(self._not_found(name))
            return fn

    def _not_found(self, name: str) -> str:
        known = ", ".join(sorted(self._functions)) or "none yet"
        return (f"Function not found: arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
                f" (registered: {known})")

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "functions": {n: f.to_dict() for n, f in self._functions.items()},
                "containers": [e.to_dict() for e in self.all_containers],
                "history": [i.to_dict() for i in self.history],
                "events": [e.to_dict() for e in self.events],
                "clock": self.clock.now(),
            }

    def _event(self, env: ExecutionEnvironment, kind: str, reason: str = "",
               request_id: str = "") -> None:
        self.events.append(LifecycleEvent(self.clock.now(), env.id, env.function_name,
                                          env.version, kind, reason, request_id))

    def _changed(self, *records) -> None:
        for record in records:
            if record is not None:
                record.touch()
        self.revision += 1

    def _request_id(self) -> str:
        with self._lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    # ------------------------------------------------------------------ register
    def register(self, name: str, source: str, *, handler: str = "lambda_handler",
                 timeout: float = 3.0, memory_mb: int = 128, idle_timeout: float = 600.0,
                 env: dict[str, str] | None = None, track: tuple[str, ...] | list[str] = (),
                 trace: bool = True, reserved_concurrency: int | None = None,
                 provisioned_concurrency: int = 0, runtime: str = "bundled",
                 max_steps: int = 500, max_retry_attempts: int = 2, max_event_age: float = 21600.0,
                 on_success=None, on_failure=None) -> Function:
        """Register ``source`` as function ``name``; registering a name again publishes a new version."""
        self._check_open()
        env = dict(env or {})
        validate_config(name, source, handler, timeout, memory_mb, idle_timeout, env,
                  reserved_concurrency, provisioned_concurrency, runtime, max_steps)
        with self._lock:
            previous = self._functions.get(name)
            fn = Function(name=name, version=(previous.version + 1) if previous else 1,
                          source=source, handler=handler, timeout=float(timeout),
                          memory_mb=int(memory_mb), idle_timeout=float(idle_timeout), env=env,
                          track=tuple(track), trace=trace,
                          reserved_concurrency=reserved_concurrency,
                          provisioned_concurrency=int(provisioned_concurrency), runtime=runtime,
                          max_steps=int(max_steps), registered_at=self.clock.now(),
                          max_retry_attempts=max_retry_attempts,
                          max_event_age=float(max_event_age), on_success=on_success,
                          on_failure=on_failure)
            self._write_task_root(fn)
            self._functions[name] = fn
            self._versions.setdefault(name, []).append(fn)
            retire_now = []
            for e in self._envs:
                if e.function_name == name and e.version < fn.version:
                    if e.state == "idle":
                        retire_now.append(e)
                        e.state = "terminated"
                    else:
                        e.retiring = True
        for e in retire_now:
            self._terminate(e, "new-version", already_marked=True)
        if fn.provisioned_concurrency:
            self._provision(fn)
        self._changed()
        return fn

    def _write_task_root(self, fn: Function) -> None:
        root = self._root / "functions" / fn.name / f"v{fn.version}"
        path = root / (fn.module.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fn.source, encoding="utf-8")
        path.chmod(0o444)  # the task root is read-only on Lambda

    def _provision(self, fn: Function) -> None:
        created = []
        with self._lock:
            for _ in range(fn.provisioned_concurrency):
                created.append(self._new_env(fn, "provisioned", provisioned=True))
        threads = [threading.Thread(target=self._init_env, args=(e, INIT_LIMIT)) for e in created]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for e in created:
            with self._lock:
                if e.state == "initializing":
                    self._release(e)
        self._changed()

    # ------------------------------------------------------------------ invoke
    def invoke(self, name: str, event: Any = None, *, invocation_type: str = "RequestResponse",
               client_context: dict | None = None) -> Invocation:
        """Invoke and wait. Ctrl-C (KeyboardInterrupt) cancels the invocation and re-raises.

        ``invocation_type="Event"`` queues the event and returns its record at once (status
        ``queued``); ``"DryRun"`` only validates.
        """
        future = self.submit(name, event, invocation_type=invocation_type,
                             client_context=client_context)
        if invocation_type == "Event":
            return future.invocation
        try:
            return future.result()
        except KeyboardInterrupt:
            self.cancel(future.invocation)
            raise

    def submit(self, name: str, event: Any = None, *, invocation_type: str = "RequestResponse",
               client_context: dict | None = None) -> Future:
        """Queue one invocation; returns a Future of its Invocation (``future.invocation`` at once)."""
        self._check_open()
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise InvalidParameterValueException(
                f"Unsupported invocation type {invocation_type!r}: use 'RequestResponse', "
                f"'Event' or 'DryRun'")
        fn = self.function(name)
        payload = encode_event(event)
        limit = MAX_ASYNC_REQUEST if invocation_type == "Event" else MAX_SYNC_REQUEST
        if len(payload) > limit:
            raise RequestTooLargeException(
                f"{len(payload)} byte payload is too large for the {invocation_type} invocation "
                f"type (limit {limit} bytes)")
        with self._lock:
            self._counters["inv"] += 1
            inv = Invocation(self._counters["inv"], self._request_id(), fn, json.loads(payload),
                             self.clock.now(), invocation_type)
            if invocation_type == "DryRun":
                inv.status = "dry-run"
            self.history.append(inv)
            if len(self.history) > self.max_history:
                del self.history[: len(self.history) - self.max_history]
        self._changed(inv)
        if invocation_type == "DryRun":
            future: Future = Future()
            future.set_result(inv)
        elif invocation_type == "Event":
            future = self._executor.submit(self._run_event, inv, payload, inv, 0)
        else:
            future = self._executor.submit(self._run, inv, payload, client_context)
        future.invocation = inv  # type: ignore[attr-defined]
        return future

    def cancel(self, inv: Invocation) -> None:
        """Stop a running invocation: its environment is killed and reset."""
        with self._lock:
            env = next((e for e in self._envs if e.current is inv), None)
        if env is not None:
            env.outcomes.put(("cancel",))
        else:
            inv._cancel_requested = True

    # ------------------------------------------------------------------ async (Event)
    def _run_event(self, inv: Invocation, payload: bytes, first: Invocation, throttles: int) -> Invocation:
        self._run(inv, payload, None)
        with self._lock:
            fn = self._functions.get(inv.function_name)
        if fn is None:
            return inv
        arn = fn.arn(self.region, self.account_id)
        if inv.status == "succeeded":
            deliver(fn.on_success, destination_record(fn, first, inv, "Success", inv.attempt, arn))
        elif inv.status == "throttled":
            delay = min(THROTTLE_BACKOFF_MAX, 2.0 ** throttles)
            self._schedule_attempt(fn, first, inv, payload, inv.attempt, delay, throttles + 1)
        elif inv.status in FUNCTION_ERRORS:
            if inv.attempt <= fn.max_retry_attempts:
                self._schedule_attempt(fn, first, inv, payload, inv.attempt + 1,
                                       RETRY_DELAYS[inv.attempt - 1], throttles)
            else:
                deliver(fn.on_failure, destination_record(fn, first, inv, "RetriesExhausted",
                                                          inv.attempt, arn))
        return inv

    def _schedule_attempt(self, fn: Function, first: Invocation, last: Invocation, payload: bytes,
                          attempt: int, delay: float, throttles: int) -> None:
        """Queue the next attempt of an Event invocation ``delay`` seconds from now (clock time)."""
        due = self.clock.now() + delay
        with self._lock:
            self._counters["inv"] += 1
            nxt = Invocation(self._counters["inv"], first.request_id, fn, first.event, due, "Event")
            nxt.attempt = attempt
            self.history.append(nxt)
        self._changed(nxt)

        def run() -> Future | None:
            if self._closed:
                return None
            if self.clock.now() - first.submitted_at > fn.max_event_age:
                nxt.error = {"errorMessage": "Event dropped: older than max_event_age",
                             "errorType": "EventAgeExceeded"}
                nxt.status = "dropped"
                self._changed(nxt)
                deliver(fn.on_failure, destination_record(fn, first, last, "EventAgeExceeded",
                                                          last.attempt if last.status != "throttled" else 0,
                                                          fn.arn(self.region, self.account_id)))
                return None
            return self._executor.submit(self._run_event, nxt, payload, first, throttles)

        self._async.schedule(due, run)

    def _run_due(self) -> list[Future]:
        futures = []
        for action in self._async.due():
            future = action()
            if future is not None:
                futures.append(future)
        return futures

    def _tick(self) -> None:
        self._reap()
        if not self._closed:
            self._run_due()

    # ------------------------------------------------------------------ routing
    def _run(self, inv: Invocation, payload: bytes, client_context: dict | None) -> Invocation:
        try:
            if getattr(inv, "_cancel_requested", False) or self._closed:
                self._finish_unrun(inv, "cancelled")
                return inv
            inv.status = "running"
            self._changed(inv)
            env, fn, cold, reason = self._acquire(inv)
            if env is None:
                self._throttle(inv, fn)
                return inv
            self._execute(inv, env, fn, payload, cold, reason, client_context)
        except Exception as exc:  # noqa: BLE001 - never lose an invocation
            if not inv.done:
                inv.error = {"errorMessage": f"lambda_widget internal error: {exc!r}",
                             "errorType": "ServiceException", "requestId": inv.request_id,
                             "stackTrace": []}
                inv.status = "failed"
                self._changed(inv)
        return inv

    def _acquire(self, inv: Invocation):
        with self._lock:
            fn = self._functions[inv.function_name]
            inv.version = fn.version
            inv.source = fn.source
            mine = [e for e in self._envs if e.function_name == fn.name]
            idle = [e for e in mine if e.version == fn.version and e.state == "idle" and not e.retiring]
            if idle:
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

    # ------------------------------------------------------------------ init
    def _init_env(self, env: ExecutionEnvironment, limit: float) -> tuple[str, float, Any]:
        """Start the process and wait for its first ``/next``. Returns (outcome, ms, detail)."""
        with env.lock:
            env.state = "initializing"
            env.reset_reason = None
        self._event(env, "init-start")
        self._changed(env)
        t0 = time.perf_counter()
        env.spawn(env.environ(self._server.address, self.region, self.account_id), self._launcher,
                  self._zygote)
        self._monitor.watch(env)
        try:
            item = _get(env.outcomes, limit)
        except queue.Empty:
            item = ("timeout",)
        ms = (time.perf_counter() - t0) * 1000
        kind = item[0]
        if kind == "ready":
            self._event(env, "init-done")
            return "ready", ms, None
        if kind == "init-error":
            error = _load_error(item[1], item[2])
            env.kill()
            self._event(env, "init-error", error.get("errorType", ""))
            return "error", ms, error
        if kind == "exit":
            self._event(env, "init-error", "Runtime.ExitError")
            return "exit", ms, item[1]
        env.kill()
        self._event(env, "init-error", "timeout")
        return "timeout", ms, None

    # ------------------------------------------------------------------ execute
    def _execute(self, inv: Invocation, env: ExecutionEnvironment, fn: Function, payload: bytes,
                 cold: bool, reason: str | None, client_context: dict | None) -> None:
        rid = inv.request_id
        inv.cold, inv.cold_reason, inv.container_id = cold, reason, env.id
        inv.started_at = self.clock.now()
        self._changed(inv)
        log: list[str] = []
        init_output: list[str] = []
        init_error: dict | None = None
        extra_ms = 0.0  # a suppressed init counts inside Duration
        budget = fn.timeout
        if cold:
            suppressed = env.inits > 0
            if not suppressed:
                log.append(logs.init_start())
            outcome, ms, detail = self._init_env(env, INIT_LIMIT if not suppressed else budget)
            lines, _ = env.take_output()
            init_output += lines
            log += lines
            if outcome != "ready" and not suppressed:
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
        else:
            self._event(env, "thaw", request_id=rid)

        # Deliver the event.
        budget_left = max(0.0, fn.timeout - extra_ms / 1000)
        deadline_ms = int(time.time() * 1000 + budget_left * 1000)
        headers = {
            "Lambda-Runtime-Aws-Request-Id": rid,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": fn.arn(self.region, self.account_id),
            "Lambda-Runtime-Trace-Id": _trace_id(self._rng),
            "Content-Type": "application/json",
        }
        if client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = json.dumps(client_context)
        log.append(logs.start(rid))
        env.trace_offset = 0
        _truncate(env.trace_path)
        with env.lock:
            env.state = "busy"
            env.current = inv
            env.polling = False
            env.thaw()
            env.invocations += 1
            env.delivery.put(Delivery(rid, payload, headers))
        self._event(env, "invoke", request_id=rid)
        self._changed(env)
        t0 = time.perf_counter()
        try:
            item = _get(env.outcomes, budget_left, skip=("ready",))
        except queue.Empty:
            item = ("timeout",)
        duration = (time.perf_counter() - t0) * 1000 + extra_ms
        kind = item[0]
        memory = env.peak_memory_mb()
        if kind in ("response", "error") and memory is not None and memory > fn.memory_mb:
            kind = "oom"  # the poll missed it, but the peak says the sandbox would have been killed
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
            status = "failed"
            error = {"errorMessage": f"Response payload size ({item[2]} bytes) exceeded maximum "
                                     f"allowed payload size (6291556 bytes).",
                     "errorType": "Function.ResponseSizeTooLarge"}
        elif kind == "timeout":
            status, duration = "timed-out", fn.timeout * 1000
            env.kill()
            error = {"errorMessage": f"RequestId: {rid} Error: Task timed out after "
                                     f"{fn.timeout:.2f} seconds", "errorType": "Sandbox.Timedout"}
        elif kind == "oom":
            # Over its memory size the sandbox is killed, even if a response was on its way.
            status, result, memory = "out-of-memory", None, fn.memory_mb
            env.kill()
            crash_msg = "Runtime exited with error: signal: killed"
            error = {"errorMessage": f"RequestId: {rid} Error: {crash_msg}",
                     "errorType": "Runtime.OutOfMemory"}
        elif kind == "cancel":
            status = "cancelled"
            env.kill()
            crash_msg = "Invocation cancelled by KeyboardInterrupt in the kernel"
            error = {"errorMessage": f"RequestId: {rid} Error: {crash_msg}",
                     "errorType": "Client.Cancelled"}
        else:  # exit
            status = "crashed"
            crash_msg = logs.exit_message(item[1])
            if len(item) > 2:  # killed by the watchdog
                env.kill()
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
        log.append(logs.end(rid))
        if memory is None:
            memory = getattr(env, "last_memory_mb", None) or 0
        env.last_memory_mb = memory
        if status == "timed-out":
            report_status, report_type = "timeout", None
        elif status != "succeeded":
            report_status, report_type = "error", error["errorType"]
        else:
            report_status = report_type = None
        billed = logs.billed(duration, inv.init_duration_ms)
        log.append(logs.report(rid, duration, billed, fn.memory_mb, memory, inv.init_duration_ms,
                               report_status, report_type))

        records = env.read_trace() if inv.traced else []
        body_steps, facts = steps.from_trace(records, rid)
        if not inv.traced:
            body_steps = [steps.untraced(lines)]
        first_use = env.provisioned and env.invocations == 1 and not cold
        all_steps = steps.opening(cold, reason, "\n".join(init_output),
                                  provisioned_first=first_use) + body_steps + \
            steps.closing(body_steps, status, result, error, fn.timeout, crash_msg, inv.traced)
        all_steps = steps.number_and_fill(all_steps, facts["entry"], list(fn.track))

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

    def _after_invocation(self, env: ExecutionEnvironment, inv: Invocation, status: str) -> None:
        reset = status in ("timed-out", "crashed", "cancelled", "out-of-memory")
        with self._lock:
            env.current = None
            env.last_invocation = inv
            env.last_used_at = self.clock.now()
            if reset:
                env.reset_reason = "reset-after-timeout" if status == "timed-out" else "reset-after-crash"
                self._event(env, "reset", env.reset_reason, inv.request_id)
            retire = env.retiring
            if retire:
                env.state = "terminated"
            else:
                self._release(env)
        if retire:
            self._terminate(env, "new-version", already_marked=True)
        self._changed(inv, env)

    def _release(self, env: ExecutionEnvironment) -> None:
        """Back to the pool: idle, and frozen once the runtime waits on ``/next``."""
        with env.lock:
            env.state = "idle"
            env.current = None
            if env.polling and env.delivery.empty():
                env.freeze()
        self._event(env, "idle", env.reset_reason or "")

    def _finish_init_failure(self, inv, env, fn, log, init_output, error, extra_ms) -> None:
        rid = inv.request_id
        log.append(logs.start(rid))
        log.append(logs.end(rid))
        duration = extra_ms
        billed = logs.billed(duration, inv.init_duration_ms)
        log.append(logs.report(rid, duration, billed, fn.memory_mb, 0, None, "error",
                               error["errorType"]))
        all_steps = steps.opening(True, inv.cold_reason, "\n".join(init_output), error) + \
            steps.closing([], "init-failed", error=error)
        all_steps = steps.number_and_fill(all_steps, {}, list(fn.track))
        with inv._lock:
            inv.error = error
            inv.logs = log
            inv.steps = all_steps
            inv.duration_ms = round(duration, 2)
            inv.billed_duration_ms = billed
            inv.max_memory_used_mb = 0
            inv.ended_at = self.clock.now()
            inv.status = "failed"
        with self._lock:
            env.current = None
            env.last_invocation = inv
            env.last_used_at = self.clock.now()
            env.reset_reason = "reset-after-init-error"
            self._event(env, "reset", env.reset_reason, rid)
            retire = env.retiring
            if retire:
                env.state = "terminated"
            else:
                self._release(env)
        if retire:
            self._terminate(env, "new-version", already_marked=True)
        self._changed(inv, env)

    def _throttle(self, inv: Invocation, fn: Function) -> None:
        error = {"errorMessage": "Rate Exceeded.", "errorType": "TooManyRequestsException",
                 "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User"}
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

    # ------------------------------------------------------------------ runtime API callbacks
    def _on_next(self, env: ExecutionEnvironment) -> Delivery | None:
        with env.lock:
            if env.killing:
                return None
            env.polling = True
            if env.state == "initializing":
                env.outcomes.put(("ready",))
            elif env.state == "idle" and env.delivery.empty():
                env.freeze()
        return env.delivery.get()

    def _on_outcome(self, env: ExecutionEnvironment, item: tuple) -> None:
        env.outcomes.put(item)

    def _on_exit(self, env: ExecutionEnvironment, proc, code: int | None) -> None:
        if getattr(proc, "lw_killed", False) or proc is not env.proc:
            return  # we killed it, or it is an earlier process of this environment
        with self._lock, env.lock:
            if env.state in ("initializing", "busy"):
                env.outcomes.put(("exit", code))
                return
            if env.state == "idle":
                env.reset_reason = "reset-after-crash"
                self._event(env, "reset", "exited while idle")
                if env.last_invocation is not None:
                    self._append_end(env.last_invocation, "crashed-idle")
        self._changed(env)

    # ------------------------------------------------------------------ reaping
    def advance(self, seconds: float) -> list[ExecutionEnvironment]:
        """Move the clock forward and reap at once; returns the environments reaped."""
        self._check_open()
        self.clock.advance(seconds)
        reaped = self._reap()
        for future in self._run_due():  # retries that came due run now, and advance() waits
            future.result()
        self._changed()
        return reaped

    def _reap(self) -> list[ExecutionEnvironment]:
        if self._closed:
            return []
        now = self.clock.now()
        doomed = []
        with self._lock:
            for env in self._envs:
                if env.state == "idle" and not env.provisioned and \
                        now - env.last_used_at >= env.function.idle_timeout - 1e-9:
                    env.state = "terminated"
                    doomed.append(env)
        for env in doomed:
            self._terminate(env, "idle-timeout", already_marked=True)
        return doomed

    def _terminate(self, env: ExecutionEnvironment, reason: str, already_marked: bool = False) -> None:
        with self._lock:
            env.state = "terminated"
            env.ended_at = self.clock.now()
            env.end_reason = reason
            if env in self._envs:
                self._envs.remove(env)
                self._ended.append(env)
            self._last_end[(env.function_name, env.version)] = reason
            if env.last_invocation is not None:
                self._append_end(env.last_invocation, reason)
            self._event(env, "terminate", reason)
        env.kill()
        env.close()
        self._changed(env)

    def _append_end(self, inv: Invocation, reason: str) -> None:
        with inv._lock:
            if getattr(inv, "_ended", False) or not inv.steps:
                return
            if inv.steps[-1].kind not in ("warm", "stop", "error"):
                return
            inv._ended = True
            inv.steps.append(steps.end_step(len(inv.steps) + 1, reason, inv.steps[-1]))
        inv.touch()

    # ------------------------------------------------------------------ shutdown
    def reset(self) -> None:
        """Terminate every environment and forget functions and history (a fresh start)."""
        self._async.clear()
        with self._lock:
            envs = list(self._envs)
            for e in envs:
                e.state = "terminated"
        for e in envs:
            self._terminate(e, "shutdown", already_marked=True)
        with self._lock:
            self._functions.clear()
            self._versions.clear()
            self.history.clear()
            self.events.clear()
            self._ended.clear()
            self._last_end.clear()
            self._had_env.clear()
        self._changed()

    def shutdown(self) -> None:
        """Kill and reap every environment and stop the server. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            envs = list(self._envs)
            for e in envs:
                e.state = "terminated"
        for e in envs:
            self._terminate(e, "shutdown", already_marked=True)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._monitor.stop()
        self._watchdog.stop()
        self._server.stop()
        if self._zygote is not None:
            self._zygote.stop()
        self._launcher.stop()
        shutil.rmtree(self._root, ignore_errors=True)
        self._changed()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this ContainerManager has been shut down")

    def __enter__(self) -> ContainerManager:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        with self._lock:
            return (f"<ContainerManager functions={len(self._functions)} "
                    f"containers={len(self._envs)} invocations={len(self.history)}>")


# ---------------------------------------------------------------------- helpers
def _get(q: queue.Queue, timeout: float, skip: tuple[str, ...] = ()) -> tuple:
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        item = q.get(timeout=max(0.0, deadline - time.monotonic()))
        if item[0] not in skip:
            return item


def _load_error(body: bytes, error_type: str) -> dict:
    try:
        error = json.loads(body)
        if not isinstance(error, dict):
            raise ValueError
    except ValueError:
        error = {"errorMessage": body.decode("utf-8", "replace"), "errorType": error_type or "Runtime.Unknown"}
    return error


def _init_error_type(outcome: str, detail: Any) -> str:
    if outcome == "error" and isinstance(detail, dict):
        return detail.get("errorType") or "Runtime.Unknown"
    if outcome == "timeout":
        return "Runtime.Unknown"
    return "Runtime.ExitError"


def _init_error_payload(outcome: str, detail: Any, rid: str, timeout: float) -> dict:
    if outcome == "error":
        return {"errorMessage": detail.get("errorMessage", ""), "errorType": detail.get("errorType", ""),
                "requestId": rid, "stackTrace": detail.get("stackTrace", [])}
    if outcome == "timeout":
        return {"errorMessage": f"RequestId: {rid} Error: Task timed out after {timeout:.2f} seconds",
                "errorType": "Sandbox.Timedout"}
    return {"errorMessage": f"RequestId: {rid} Error: {logs.exit_message(detail)}",
            "errorType": "Runtime.ExitError"}


def _trace_id(rng: random.Random) -> str:
    return (f"Root=1-{int(time.time()):08x}-{rng.getrandbits(96):024x};"
            f"Parent={rng.getrandbits(64):016x};Sampled=0;Lineage=1:00000000:0")


def _truncate(path: Path) -> None:
    try:
        os.truncate(path, 0)
    except OSError:
        pass


_default: ContainerManager | None = None
_default_lock = threading.Lock()


def get_manager() -> ContainerManager:
    """The kernel's manager, created on first use."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = ContainerManager()
        return _default


@atexit.register
def _shutdown_all() -> None:
    for mgr in list(_managers):
        try:
            mgr.shutdown()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
