"""The container manager: functions and their versions, the pool of environments, routing, the clock.

This is the engine's manager. ``lambda_widget.ContainerManager`` (``lambda_widget.manager``) is this
class with the services built on it (HTTP front, traffic simulation, power tuning); the kernel's one is
``lambda_widget.get_manager()``.
"""

from __future__ import annotations

import _signal
import atexit
import json
import py_compile
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, NamedTuple

from traitlets import HasTraits, Int

from lambda_widget.engine import capacity, steps
from lambda_widget.engine.asyncq import (
    MAX_ASYNC_REQUEST,
    AsyncMixin,
    AsyncQueue,
)
from lambda_widget.engine.clock import Clock
from lambda_widget.engine.environment import ExecutionEnvironment, Launcher, _signal_group, zygote_environ
from lambda_widget.engine.errors import (
    InvalidParameterValueException,
    RequestTooLargeException,
)
from lambda_widget.engine.execution import INIT_LIMIT, ExecutionMixin
from lambda_widget.engine.history import HISTORY_BYTES, PayloadBudget
from lambda_widget.engine.interpreters import LAMBDA_PYTHONS, choose
from lambda_widget.engine.isolation import CODE_IN_MEMORY, Isolation, read_task_files
from lambda_widget.engine.leftovers import Sentinel, make_root, sweep_stale
from lambda_widget.engine.lifecycle import LifecycleMixin
from lambda_widget.engine.monitor import Monitor
from lambda_widget.engine.pool import EnvPool
from lambda_widget.engine.records import LATEST, Function, Invocation, LifecycleEvent, bump
from lambda_widget.engine.routing import RoutingMixin, split_qualifier
from lambda_widget.engine.runtime_api import CLOSE, RuntimeApiServer
from lambda_widget.engine.shutdown import budget
from lambda_widget.engine.shutdown import words as shutdown_words
from lambda_widget.engine.snapstart import SnapStartMixin, write_opt
from lambda_widget.engine.validation import (
    MAX_SYNC_REQUEST,
    encode_client_context,
    encode_event,
    validate_config,
    validate_track,
)
from lambda_widget.engine.versions import VersionsMixin, check_description, new_revision_id
from lambda_widget.engine.watchdog import Watchdog
from lambda_widget.engine.workers import Workers
from lambda_widget.engine.zygote import Zygote
from lambda_widget.placement import reap_due
from lambda_widget.placement.limits import ACCOUNT_CONCURRENCY, Limits

_managers: weakref.WeakSet = weakref.WeakSet()


class StagedCode(NamedTuple):
    """A version's task root, made outside the manager's lock (``_stage_code``)."""

    root: Path
    task_files: dict


class ContainerManager(RoutingMixin, SnapStartMixin, VersionsMixin, ExecutionMixin, LifecycleMixin, AsyncMixin,
                       HasTraits):
    """Runs Lambda functions in real execution environments (one OS process each).

    ``seed`` makes request ids reproducible; ``virtual_clock`` stops real time from
    ageing idle environments (only ``advance()`` moves the clock). ``account_concurrency``
    is Lambda's account limit (1,000 by default, as AWS sets it; more is a quota increase):
    invocations beyond it are throttled. ``max_concurrency`` is how many invocations this
    machine runs at once (more wait their turn); by default the account concurrency, or less
    if the machine's memory or limits cannot hold that many environments (see ``capacity``).
    ``isolation``: ``"auto"`` (namespaces and cgroups where the machine allows, else the
    portable fallback), ``"namespaces"`` or ``"process"`` (default: ``$LAMBDA_WIDGET_ISOLATION`` or auto).
    ``history`` keeps the last ``max_history`` invocations, and their payloads (events, results,
    errors, log output) whole up to ``max_history_bytes`` in all (64 MiB); older ones over 1 KiB are
    then kept truncated, behind a marker (see ``lambda_widget.engine.history``).
    """

    revision = Int(0)

    def __init__(self, *, seed: int | None = None, region: str = "us-east-1",
                 account_id: str = "123456789012", max_concurrency: int | None = None,
                 account_concurrency: int = ACCOUNT_CONCURRENCY,
                 virtual_clock: bool = False, max_history: int = 10_000,
                 max_history_bytes: int = HISTORY_BYTES,
                 fork_server: bool = True, isolation: str | None = None) -> None:
        for option, value in (("max_history", max_history), ("max_history_bytes", max_history_bytes)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidParameterValueException(f"Invalid {option} {value!r}: a whole number >= 1")
        super().__init__()
        try:
            Limits(account_concurrency)
        except ValueError as exc:
            raise InvalidParameterValueException(str(exc)) from None
        if max_concurrency is None:
            max_concurrency = capacity.default_concurrency(account_concurrency)
        elif not isinstance(max_concurrency, int) or isinstance(max_concurrency, bool) or max_concurrency < 1:
            raise InvalidParameterValueException(
                f"max_concurrency must be a whole number >= 1, not {max_concurrency!r}")
        capacity.raise_limits()  # a descriptor soft limit of 1,024 stops a burst at ~200 environments
        self.max_concurrency = max_concurrency
        self.account_concurrency = account_concurrency
        self.region = region
        self.account_id = account_id
        self.seed = seed
        self.clock = Clock(virtual=virtual_clock)
        self.max_history = max_history
        self._payloads = PayloadBudget(max_history_bytes)  # see lambda_widget.engine.history
        self._rng = random.Random(seed) if seed is not None else random.Random()
        self._lock = threading.RLock()
        self._functions: dict[str, Function] = {}  # name -> $LATEST
        self._init_versions()  # published versions, aliases, provisioned concurrency
        self._envs: list[ExecutionEnvironment] = []
        self._pool = EnvPool()  # the live environments, indexed for placement
        self._ended: list[ExecutionEnvironment] = []
        self._last_end: dict[tuple, str] = {}  # version key -> how its last environment ended
        self._had_env: set[tuple] = set()  # version keys that ever had an environment
        self._had_any: dict[str, set[str]] = {}  # function -> versions that ever had an environment
        self._reserved: dict[str, int] = {}  # function -> its reserved concurrency
        self.history: list[Invocation] = []
        self.events: list[LifecycleEvent] = []
        self._counters = {"env": 0, "inv": 0}
        self._generation = 0  # reset() moves it on: work admitted before then never runs
        self._closed = False
        # Services built on the engine (lambda_widget.front.sqs: the SQS endpoint and its pollers)
        # follow the clock and reset() through these, and give new environments their variables.
        self._advance_hooks: list[Callable[[], None]] = []
        self._reset_hooks: list[Callable[[], None]] = []
        self.service_env: dict[str, str] = {}
        self._shutdown_hooks: list[Callable[[], None]] = []
        sweep_stale()  # directories of managers whose process died without shutting down
        self._root = make_root()
        self._sentinel = Sentinel(self._root)
        (self._root / "envs").mkdir()
        (self._root / "functions").mkdir()
        self._isolation = Isolation(isolation, fork_server)
        self._launcher = Launcher()
        freezer = self._isolation.cgroups.freezer_base if self._isolation.cgroups else ""
        self._zygote = Zygote(self._launcher, zygote_environ(tmpdir=str(self._root)), freezer, self._on_fork_server_lost) \
            if fork_server else None
        self._freezer = freezer
        self._other_zygotes: dict[str, Zygote] = {}  # other Pythons' (runtime="python3.12"), by executable
        if self._zygote is not None:
            self._zygote.start()
        self._server = RuntimeApiServer(self._api_envs, self._on_next, self._on_outcome)
        self._server.on_platform = self._on_platform  # the Extensions API, SnapStart's restore calls
        self._server.start()
        self._async = AsyncQueue(self)
        self._monitor = Monitor(self._on_exit, self._tick)
        self._monitor.start()
        fallback_cap = self._isolation.max_processes if self._isolation.mode == "process" else None
        self._watchdog = Watchdog(self._busy_envs, self._idle_processes, fallback_cap)
        self._watchdog.start()
        self._executor = Workers(max_concurrency)
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
        """Every function's ``$LATEST``, by name."""
        with self._lock:
            return dict(self._functions)

    @property
    def runtime_api(self) -> str:
        return self._server.address

    def function(self, name: str, qualifier: str | None = None) -> Function:
        """Function ``name``: ``$LATEST``, or the version ``qualifier`` names (a number, or an alias:
        its version). ``name`` may carry the qualifier: ``"double:live"``."""
        name, qualifier = split_qualifier(name, qualifier)
        with self._lock:
            target = self._target(name, qualifier)
            return target if isinstance(target, Function) else self._version_record(name, target.function_version)

    @property
    def _reserved_total(self) -> int:
        return sum(self._reserved.values())

    def _not_found(self, name: str) -> str:
        known = ", ".join(sorted(self._functions)) or "none yet"
        return (f"Function not found: arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
                f" (registered: {known})")

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "functions": {n: f.to_dict() for n, f in self._functions.items()},
                "versions": {n: [f.to_dict() for f in sorted(v.values(), key=lambda f: int(f.version))]
                             for n, v in self._published.items() if v},
                "aliases": {n: [a.to_dict() for a in sorted(v.values(), key=lambda a: a.name)]
                            for n, v in self._aliases.items() if v},
                "containers": [e.to_dict() for e in self.all_containers],
                "history": [i.to_dict() for i in self.history],
                "events": [e.to_dict() for e in self.events],
                "clock": self.clock.now(),
                "isolation": self._isolation.to_dict(),
            }

    @property
    def isolation(self) -> str:
        """The active isolation mode: ``namespaces`` or ``process`` (the portable fallback)."""
        return self._isolation.mode

    def _event(self, env: ExecutionEnvironment, kind: str, reason: str = "",
               request_id: str = "") -> None:
        self.events.append(LifecycleEvent(self.clock.now(), env.id, env.function_name,
                                          env.version, kind, reason, request_id))

    def _changed(self, *records) -> None:
        for record in records:
            if record is not None:
                record.touch()
        bump(self)

    def _request_id(self) -> str:
        with self._lock:
            bits = self._rng.getrandbits(128)
        return _uuid4(bits)

    # ------------------------------------------------------------------ register
    def register(self, name: str, source: str | None = None, *, handler: str = "lambda_handler",
                 timeout: float = 3.0, memory_mb: int = 128, idle_timeout: float = 600.0,
                 env: dict[str, str] | None = None, track: tuple[str, ...] | list[str] = (),
                 trace: bool = True, reserved_concurrency: int | None = None,
                 provisioned_concurrency: int = 0, runtime: str = "bundled",
                 max_steps: int = 500, max_retry_attempts: int = 2, max_event_age: float = 21600.0,
                 on_success=None, on_failure=None, path: str | None = None,
                 cpu_scaling: bool = True, architecture: str = "x86_64", description: str = "",
                 layers=(), extensions: str | None = None, snap_start: bool = False) -> Function:
        """Register ``source`` as function ``name`` (its ``$LATEST``); registering a name again updates
        ``$LATEST``, whose warm environments then retire. ``publish(name)`` makes a numbered version.

        ``path`` instead of ``source``: a code directory (modules, packages, data files and a
        ``requirements.txt``), with ``handler`` as ``module.function`` (``"app.handlers.main"``).
        ``cpu_scaling=False``: the machine's CPUs instead of ``memory_mb / 1769`` of a vCPU.
        ``layers``: up to 5 directories or zip files, merged in order at ``/opt`` (``/opt/python`` on
        ``sys.path``), as Lambda extracts a function's layers.
        ``extensions``: a directory of external extensions (executables), started in every
        environment at Init as Lambda starts ``/opt/extensions``; a directory that has an
        ``extensions/`` folder is laid over ``/opt`` as a layer is (before the layers).
        ``snap_start=True``: SnapStart (``ApplyOn: PublishedVersions``): each version ``publish``
        makes runs Init once, then, and its cold starts restore that snapshot ($LATEST initialises
        as usual, as on Lambda).
        """
        self._check_open()
        if layers:
            from lambda_widget.engine.layers import check_layers

            layers = check_layers(layers)
        extensions = _check_extensions(extensions)
        self._check_snap_start(snap_start, provisioned_concurrency, extensions)
        if env is not None and not isinstance(env, dict):
            raise InvalidParameterValueException(f"env must be a dict of strings, not {type(env).__name__}")
        env = dict(env or {})
        track = validate_track(track)
        python_runtime, python, python_note = "", {}, ""
        if isinstance(runtime, str) and runtime in LAMBDA_PYTHONS:  # the bundled runtime on that Python
            python_runtime, runtime = runtime, "bundled"
            interpreter, python_note = choose(python_runtime)
            python = interpreter.to_dict()
        if path is not None:
            from lambda_widget.engine.package import prepare_code_dir

            if source is not None:
                raise InvalidParameterValueException("give source or path, not both")
            code_dir, source = prepare_code_dir(path, handler, python=python)  # pip runs here, outside the lock
            path = str(code_dir)
        elif source is None:
            raise InvalidParameterValueException("give the handler's source, or path= a code directory")
        validate_config(name, source, handler, timeout, memory_mb, idle_timeout, env,
                        reserved_concurrency, provisioned_concurrency, runtime, max_steps,
                        max_retry_attempts, max_event_age, on_success, on_failure,
                        cpu_scaling=cpu_scaling, architecture=architecture)
        check_description(description)
        # The copy, the bytecode and the modes are made before the lock: a 50,000-file package
        # takes seconds, and other functions' invocations must not wait for it.
        staged = self._stage_code(source, handler, path, python)
        with self._lock:
            previous = self._functions.get(name)
            revision = (previous.revision + 1) if previous else 1
            fn = Function(name=name, version=LATEST, revision=revision, code_revision=revision,
                          revision_id=new_revision_id(), description=description, source=source, handler=handler,
                          timeout=float(timeout),
                          memory_mb=int(memory_mb), idle_timeout=float(idle_timeout), env=env,
                          track=tuple(track), trace=trace,
                          reserved_concurrency=reserved_concurrency,
                          provisioned_concurrency=int(provisioned_concurrency), runtime=runtime,
                          max_steps=int(max_steps), registered_at=self.clock.now(),
                          max_retry_attempts=max_retry_attempts,
                          max_event_age=float(max_event_age), on_success=on_success,
                          on_failure=on_failure, path=path, cpu_scaling=cpu_scaling,
                          cpu_mode=self._isolation.cpu_mode if cpu_scaling else "off", architecture=architecture,
                          layers=tuple(layers or ()), extensions=extensions, snap_start=snap_start,
                          python_runtime=python_runtime, python=python, python_note=python_note)
            self._install_code(fn, staged)
            if extensions is not None:  # the code's /opt/extensions; its layers go over it
                write_opt(Path(extensions), self._task_root(fn).with_suffix(".opt"))
                self._isolation.publish(self._task_root(fn).with_suffix(".opt"))
            if fn.layers:
                self._write_layers(fn)
        return self._install_latest(fn)

    def _zygote_for(self, fn: Function) -> Zygote | None:
        """The fork server of ``fn``'s interpreter: the kernel's, or one per other Python, started
        on first use (None without fork servers)."""
        if self._zygote is None or fn.executable == sys.executable or fn.runtime != "bundled":
            return self._zygote
        with self._lock:
            zygote = self._other_zygotes.get(fn.executable)
            if zygote is None:
                zygote = self._other_zygotes[fn.executable] = Zygote(
                    self._launcher, zygote_environ(fn.executable, tmpdir=str(self._root)), self._freezer, self._on_fork_server_lost,
                    python=fn.executable)
        return zygote

    def _install_latest(self, fn: Function) -> Function:
        """``fn`` becomes its function's $LATEST: the environments of the one before retire (idle ones
        now, busy ones after their invocation), and its own provisioned ones start."""
        with self._lock:
            self._functions[fn.name] = fn
            if fn.reserved_concurrency is None:
                self._reserved.pop(fn.name, None)
            else:
                self._reserved[fn.name] = fn.reserved_concurrency
            retire_now = self._mark_ended(lambda e: e.function_name == fn.name and e.version == LATEST
                                          and e.function is not fn, "function-updated")
        self._terminate_many(retire_now, "function-updated")
        if fn.provisioned_concurrency:
            self._provision(fn, fn.provisioned_concurrency)
        self._changed()
        return fn

    def delete_function(self, name: str, qualifier: str | None = None) -> None:
        """Delete function ``name`` with all its versions and aliases, as DeleteFunction does: its
        environments are terminated (reason ``function-deleted``); its invocations stay in the
        history. With ``qualifier`` (a version number) only that version goes."""
        self._check_open()
        name, qualifier = split_qualifier(name, qualifier)
        if qualifier is not None:
            self._delete_version(name, qualifier)
            return
        with self._lock:
            self.function(name)  # ResourceNotFoundException names the registered ones
            doomed = [e for e in self._envs if e.function_name == name]
            for e in doomed:
                e.state = "terminated"
                self._pool.remove(e)
            del self._functions[name]
            self._reserved.pop(name, None)
            for table in (self._published, self._aliases, self._next_version, self._had_any):
                table.pop(name, None)
            for key in [k for k in self._provisioned if k[0] == name]:
                del self._provisioned[key]
            self._had_env = {k for k in self._had_env if k[0] != name}
            self._last_end = {k: v for k, v in self._last_end.items() if k[0] != name}
        self._terminate_many(doomed, "function-deleted")
        self._release_snapshots(name)
        shutil.rmtree(self._root / "functions" / name, ignore_errors=True)
        self._changed()

    def _stage_code(self, source: str, handler: str, path: str | None, python: dict | None = None) -> StagedCode:
        """A version's task root, made outside the lock in a staging directory: the code (a copy of
        ``path``, or ``source`` as the handler's module, compiled once), read-only, published to
        the sandbox's user. ``_install_code`` then moves it into place."""
        staging = self._root / "staging"
        staging.mkdir(exist_ok=True)
        root = Path(tempfile.mkdtemp(dir=staging))
        try:
            task_files = {}
            if path is not None:
                from lambda_widget.engine.package import write_task_root

                write_task_root(Path(path), root, python=python)
                if self._isolation.mode == "process":  # no read-only mount: each process gets a copy
                    task_files = read_task_files(root, CODE_IN_MEMORY) or {}
            else:
                module = handler.rsplit(".", 1)[0] if "." in handler else "lambda_function"
                file = root / (module.replace(".", "/") + ".py")
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_text(source, encoding="utf-8")
                try:  # bytecode once per version, not once per environment's init
                    py_compile.compile(str(file), doraise=True)
                except py_compile.PyCompileError:
                    pass  # a syntax error is the environment's to report, at init (Runtime.UserCodeSyntaxError)
                file.chmod(0o444)  # the task root is read-only on Lambda
                task_files = read_task_files(root)  # each new process's fresh copy comes from here
            self._isolation.publish(root)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return StagedCode(root, task_files)

    def _install_code(self, fn: Function, staged: StagedCode) -> None:
        """Under the lock: the staged task root becomes the function's (a rename)."""
        root = self._task_root(fn)
        root.parent.mkdir(parents=True, exist_ok=True)
        if root.exists():  # left by a deleted function of the same name: out of the way, deleted later
            root.rename(Path(tempfile.mkdtemp(dir=self._root / "staging")) / "stale")
        staged.root.rename(root)
        fn.task_files = staged.task_files

    def _task_root(self, fn: Function) -> Path:
        """A function's code as registered: one directory per update of $LATEST, which the versions
        published from it share."""
        return self._root / "functions" / fn.name / f"v{fn.code_revision}"

    def _write_layers(self, fn: Function) -> None:
        """The code's /opt: its layers merged in order, beside its task root (``v<code_revision>.opt``)."""
        from lambda_widget.engine.layers import merge_layers, tree_size

        root = self._task_root(fn)
        try:
            merge_layers(fn.layers, root.with_suffix(".opt"), tree_size(root))
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        self._isolation.publish(root.with_suffix(".opt"))

    def _provision(self, fn: Function, count: int, qualifier: str | None = None) -> None:
        """Create and initialise ``count`` provisioned environments of version ``fn`` (for the
        provisioned concurrency config of ``qualifier``, if any)."""
        created = []
        with self._lock:
            for _ in range(count):
                env = self._new_env(fn, "provisioned", provisioned=True)
                env.provisioned_for = qualifier
                created.append(env)
        outcomes: dict[str, str] = {}

        def init(env: ExecutionEnvironment) -> None:
            outcomes[env.id] = self._init_env(env, INIT_LIMIT)[0]
            env.take_output()  # init output of a provisioned environment is not any invocation's

        threads = [threading.Thread(target=init, args=(e,)) for e in created]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for e in created:
            with self._lock:
                if e.state == "initializing":
                    if outcomes.get(e.id) != "ready":
                        # Its first invocation will re-run init (and report the error if it persists).
                        e.reset_reason = "reset-after-init-error"
                    self._release(e)
        self._changed()

    # ------------------------------------------------------------------ invoke
    def invoke(self, name: str, event: Any = None, *, qualifier: str | None = None,
               invocation_type: str = "RequestResponse", client_context: dict | None = None) -> Invocation:
        """Invoke and wait. Ctrl-C (KeyboardInterrupt) cancels the invocation and re-raises.

        ``qualifier`` (or ``"name:qualifier"``) runs a published version or an alias instead of
        ``$LATEST``. ``invocation_type="Event"`` queues the event and returns its record at once
        (status ``queued``); ``"DryRun"`` only validates.
        """
        if invocation_type == "RequestResponse" and threading.current_thread() is threading.main_thread():
            context = encode_client_context(client_context)
            inv, payload = self._admit(name, event, invocation_type, qualifier)
            return self._invoke_here(inv, payload, context)
        future = self.submit(name, event, qualifier=qualifier, invocation_type=invocation_type,
                             client_context=client_context)
        if invocation_type == "Event":
            return future.invocation
        try:
            return future.result()
        except KeyboardInterrupt:
            self.cancel(future.invocation)
            _wait_through_interrupts(future)  # the environment is reset before we return
            raise

    def submit(self, name: str, event: Any = None, *, qualifier: str | None = None,
               invocation_type: str = "RequestResponse", client_context: dict | None = None) -> Future:
        """Queue one invocation; returns a Future of its Invocation (``future.invocation`` at once)."""
        client_context = encode_client_context(client_context)
        inv, payload = self._admit(name, event, invocation_type, qualifier)
        if invocation_type == "DryRun":
            future: Future = Future()
            future.set_result(inv)
        elif invocation_type == "Event":
            future = self._executor.submit(self._run_event, inv, payload, inv, 0)
        else:
            future = self._executor.submit(self._run, inv, payload, client_context)
        future.invocation = inv  # type: ignore[attr-defined]
        return future

    def _admit(self, name: str, event: Any, invocation_type: str,
               qualifier: str | None = None) -> tuple[Invocation, bytes]:
        """Validate a request as the Invoke API does and record it (status queued). The version
        that runs it is chosen here (an alias's weighted pick), in the order requests arrive."""
        self._check_open()
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise InvalidParameterValueException(
                f"Unsupported invocation type {invocation_type!r}: use 'RequestResponse', "
                f"'Event' or 'DryRun'")
        name, qualifier = split_qualifier(name, qualifier)
        with self._lock:
            target = self._target(name, qualifier)
        payload = encode_event(event)
        limit = MAX_ASYNC_REQUEST if invocation_type == "Event" else MAX_SYNC_REQUEST
        if len(payload) > limit:
            raise RequestTooLargeException(
                f"{len(payload)} byte payload is too large for the {invocation_type} invocation "
                f"type (limit {limit} bytes)")
        with self._lock:
            fn = self._pick(target)
            self._counters["inv"] += 1
            inv = Invocation(self._counters["inv"], self._request_id(), fn, json.loads(payload),
                             self.clock.now(), invocation_type, qualifier)
            inv._generation = self._generation
            if invocation_type == "DryRun":
                inv.status = "dry-run"
            self.history.append(inv)
            if len(self.history) > self.max_history:
                gone = len(self.history) - self.max_history
                self._payloads.forget(self.history[:gone])
                del self.history[:gone]
        if invocation_type == "DryRun":
            self._payloads.count(inv)
        self._changed(inv)
        return inv, payload

    def _invoke_here(self, inv: Invocation, payload: bytes, client_context: str | None) -> Invocation:
        """A blocking invoke from the main thread runs on it: no hand-off to a worker and back.

        Ctrl-C must not interrupt the engine halfway through an update, so while the
        invocation runs SIGINT only asks, from another thread, for it to be cancelled; the
        KeyboardInterrupt is raised once the environment has been reset.
        """
        interrupted: list[bool] = []

        def on_sigint(signum, frame) -> None:
            if not interrupted:
                interrupted.append(True)
                # A thread, because this handler may run while this thread holds a lock cancel() needs.
                threading.Thread(target=self.cancel, args=(inv,), daemon=True).start()

        # _signal, not signal: the enum conversions of signal.signal cost more than the call.
        try:
            previous = _signal.signal(_signal.SIGINT, on_sigint)
        except ValueError:  # not the main interpreter: the worker path handles Ctrl-C
            return self._executor.submit(self._run, inv, payload, client_context).result()
        try:
            self._run(inv, payload, client_context)
        finally:
            # None: the old handler was not set from Python; Python's own is the safe default.
            _signal.signal(_signal.SIGINT, previous if previous is not None else signal.default_int_handler)
        if interrupted:
            raise KeyboardInterrupt
        return inv

    def cancel(self, inv: Invocation) -> None:
        """Stop a running invocation: its environment is killed and reset."""
        with self._lock:
            env = next((e for e in self._envs if e.current is inv), None)
        if env is not None:  # tagged: a cancel that lands late must not hit the next invocation
            env.outcomes.put(("cancel", inv.request_id))
        else:
            inv._cancel_requested = True

    # ------------------------------------------------------------------ runtime API callbacks
    def _on_next(self, env: ExecutionEnvironment, send) -> object:
        """The runtime asks for the next event: hand over a waiting one, or park the request
        (``send`` answers it later) and freeze the environment if it is idle."""
        with env.lock:
            if env.killing:
                return CLOSE
            if env.pending is not None:
                delivery, env.pending = env.pending, None
                return delivery
            env.waiter = send
            env.polling = True
            if env.state == "initializing":
                env.outcomes.put(("ready",))
            elif env.state == "idle":
                env.freeze()
        return None

    def _on_outcome(self, env: ExecutionEnvironment, item: tuple) -> None:
        env.outcomes.put(item)

    def _on_fork_server_lost(self, pids: list[int]) -> None:
        """The zygote died (a handler may have killed it). Its environments live on: in-flight
        invocations finish, and then those environments retire; idle ones go now."""
        lost = set(pids)
        idle = []
        with self._lock:
            for env in self._envs:
                if env.pid in lost and env.proc is not None and env.proc.returncode is None:
                    if env.state == "idle":
                        env.state = "terminated"
                        idle.append(env)
                    else:
                        env.retiring = True
                        env.retire_reason = "fork-server-lost"
        for env in idle:
            self._terminate(env, "fork-server-lost", already_marked=True)

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
        self.clock.advance(seconds)  # a finite number >= 0, or ValueError
        reaped = self._reap()
        self._run_due()
        self._wait_async()  # retries that came due run now, and advance() waits for them
        for hook in list(self._advance_hooks):
            hook()  # e.g. the queue pollers do what came due, and advance() waits for them
        self._changed()
        return reaped

    def _reap(self) -> list[ExecutionEnvironment]:
        if self._closed:
            return []
        now = self.clock.now()
        doomed = []
        with self._lock:
            for env in self._envs:
                if reap_due(env.reaps_at, now):  # the placement policy's keep-alive rule
                    env.state = "terminated"
                    doomed.append(env)
        self._terminate_many(doomed, "idle-timeout")
        return doomed

    def _terminate_many(self, envs: list[ExecutionEnvironment], reason: str) -> None:
        """Terminate environments already marked terminated: every process is sent SIGKILL first,
        so the waits overlap (1,000 environments one after the other took seconds)."""
        graceful = [e for e in envs if e.alive and budget(e)[0]]
        for env in envs:
            proc = env.proc
            if env not in graceful and proc is not None and proc.returncode is None:
                env.killing = True
                proc.lw_killed = True  # type: ignore[attr-defined]
                _signal_group(proc.pid, signal.SIGKILL)
        self._shut_down_many(graceful, reason)  # extensions get their SHUTDOWN, at most 2 s for all
        for env in envs:
            self._terminate(env, reason, already_marked=True)

    def _terminate(self, env: ExecutionEnvironment, reason: str, already_marked: bool = False) -> None:
        with self._lock:
            with env.lock:  # an init in flight checks this state under the same locks
                env.state = "terminated"
        if not env.shut_down:
            self._shut_down(env, reason)  # the Shutdown phase, outside the manager's lock
        with self._lock:
            env.ended_at = self.clock.now()
            env.end_reason = reason
            if env in self._envs:
                self._envs.remove(env)
                self._ended.append(env)
            self._pool.remove(env)
            self._last_end[env.function.key] = reason
            if env.last_invocation is not None and env.current is None:
                self._append_end(env.last_invocation, reason, shutdown_words(env.shutdown))
            self._event(env, "terminate", reason)
            interrupted = env.current is not None
        if interrupted:  # an invocation was running: it ends now, not at its timeout
            env.outcomes.put(("exit", -9, f"environment terminated: {reason}"))
        env.kill()
        env.close()
        self._sentinel.untrack(env.id)
        if env.restore is not None and env.restore.retired:
            self._release_snapshots(env.function_name)
        self._changed(env)

    def _append_end(self, inv: Invocation, reason: str, note: str = "") -> None:
        with inv._lock:
            if getattr(inv, "_ended", False) or not inv.steps:
                return
            if inv.steps[-1].kind not in ("warm", "stop", "error"):
                return
            inv._ended = True
            inv.steps.append(steps.end_step(len(inv.steps) + 1, reason, inv.steps[-1], note))
        inv.touch()

    # ------------------------------------------------------------------ shutdown
    def _terminate_all(self) -> None:
        with self._lock:
            envs = list(self._envs)
            for e in envs:
                e.state = "terminated"  # no event is routed to them from here on
        self._terminate_many(envs, "shutdown")

    def reset(self, *, seed: int | None = None, virtual_clock: bool | None = None) -> None:
        """A fresh start: terminate every environment, forget functions and history, and
        restart numbering (env-1, invocation #1) and the clock. ``seed`` makes the request
        ids that follow reproducible (default: the manager's own seed)."""
        with self._lock:
            self._generation += 1  # queued and retried work of before never runs
        self._async.clear()
        self._terminate_all()
        self._release_snapshots(keep_current=False)
        with self._lock:
            # The forgotten functions' code goes too: a name registered again starts at v1.
            shutil.rmtree(self._root / "functions", ignore_errors=True)
            (self._root / "functions").mkdir(exist_ok=True)
            self._functions.clear()
            self._init_versions()
            self._pool.clear()
            self._reserved.clear()
            self.history.clear()
            self._payloads.clear()
            self.events.clear()
            self._ended.clear()
            self._last_end.clear()
            self._had_env.clear()
            self._had_any.clear()
            self._counters = {"env": 0, "inv": 0}
            if seed is not None:
                self.seed = seed
            self._rng = random.Random(self.seed) if self.seed is not None else random.Random()
            self.clock = Clock(virtual=self.clock.virtual if virtual_clock is None else virtual_clock)
        for hook in list(self._reset_hooks):
            hook()  # e.g. the event source mappings and queues are forgotten too
        self._changed()

    def shutdown(self) -> None:
        """Kill and reap every environment and stop the server. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for hook in reversed(self._shutdown_hooks):
            try:
                hook()
            except Exception:  # noqa: BLE001 - a service's failure must not keep environments alive
                pass
        self._terminate_all()
        self._release_snapshots(keep_current=False)
        self._executor.stop()
        self._monitor.stop()
        self._watchdog.stop()
        self._server.stop()
        if self._zygote is not None:
            self._zygote.stop()
        with self._lock:
            others, self._other_zygotes = list(self._other_zygotes.values()), {}
        for zygote in others:
            zygote.stop()
        self._launcher.stop()
        self._isolation.close()
        shutil.rmtree(self._root, ignore_errors=True)
        self._sentinel.stop()
        self._changed()

    def on_advance(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` at the end of every ``advance()``, after the clock moved and what came due ran."""
        self._check_open()
        self._advance_hooks.append(hook)

    def on_reset(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` at the end of every ``reset()``, once the new clock is in place."""
        self._check_open()
        self._reset_hooks.append(hook)
    def on_shutdown(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` when this manager shuts down, before its environments end: how the
        services built on the engine (HTTP endpoints, ...) close with it. Hooks run newest first."""
        self._check_open()
        self._shutdown_hooks.append(hook)

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


def _check_extensions(path) -> str | None:
    if path is None:
        return None
    if not isinstance(path, (str, Path)) or not Path(path).is_dir():
        raise InvalidParameterValueException(f"extensions must be a directory of executables, not {path!r}")
    return str(Path(path).resolve())


def _uuid4(bits: int) -> str:
    """``str(uuid.UUID(int=bits, version=4))``, without the UUID object."""
    bits = (bits & ~(0xC000 << 48) | 0x8000 << 48) & ~(0xF000 << 64) | 4 << 76
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _wait_through_interrupts(future: Future, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
            return
        except KeyboardInterrupt:
            continue
        except Exception:  # noqa: BLE001 - the outcome is in the record
            return


@atexit.register
def _shutdown_all() -> None:
    for mgr in list(_managers):
        try:
            mgr.shutdown()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
