"""Plain records of what happened. Every record has ``to_dict()`` that ``json.dumps`` accepts.

Invocations and environments are traitlets objects so views can observe them:
``revision`` goes up by one on every change.
"""

from __future__ import annotations

import copy
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from traitlets import HasTraits, Int, Unicode

from lambda_widget.engine.isolation.cpu import cpu_share

UNDEFINED = "undefined"


def bump(record: HasTraits) -> None:
    """``record.revision += 1``. With nobody observing the record, nobody needs the
    notification: skip traitlets' validate-and-notify path, the bulk of an update's cost.
    (Reads traitlets' private observer table; any other traitlets takes the public path.)"""
    if getattr(record, "_trait_notifiers", True) or "revision" not in getattr(record, "_trait_values", ()):
        record.revision += 1
    else:
        record._trait_values["revision"] = record.revision + 1


@dataclass
class Step:
    """One row of the step table; ``variables`` is the tracker column after the step (handler
    locals, tracked expressions, ``container_state``); ``globals``, the module globals the handler
    reads or writes, after the step (the global frame)."""

    number: int
    action: str
    container_state: str
    handler_execution: str
    output: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    kind: str = "line"  # event | init | reuse | line | return | error | stop | warm | end | truncated
    line: int | None = None
    globals: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        # By hand: dataclasses.asdict deep-copies recursively and is ~40x slower, and views
        # convert whole histories.
        return {"number": self.number, "action": self.action, "container_state": self.container_state,
                "handler_execution": self.handler_execution, "output": self.output,
                "variables": dict(self.variables), "kind": self.kind, "line": self.line,
                "globals": dict(self.globals)}


@dataclass
class LifecycleEvent:
    """A transition of one environment, at a time on the manager's clock."""

    time: float
    container_id: str
    function_name: str
    version: str  # "$LATEST" or a published version's number, as a string
    kind: str  # create | init-start | init-done | init-error | invoke | idle | freeze | thaw | reset | terminate
    reason: str = ""
    request_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time, "container_id": self.container_id, "function_name": self.function_name,
                "version": self.version, "kind": self.kind, "reason": self.reason,
                "request_id": self.request_id}


LATEST = "$LATEST"


@dataclass
class Function:
    """One version of a function and its configuration: ``$LATEST`` (updated in place by every
    re-registration: a new ``revision``) or a published version (``"1"``, ``"2"``...), immutable."""

    name: str
    version: str
    source: str
    handler: str = "lambda_handler"
    timeout: float = 3.0
    memory_mb: int = 128
    idle_timeout: float = 600.0
    env: dict[str, str] = field(default_factory=dict)
    track: tuple[str, ...] = ()
    trace: bool = True
    reserved_concurrency: int | None = None
    provisioned_concurrency: int = 0
    runtime: str = "bundled"
    max_steps: int = 500
    registered_at: float = 0.0
    max_retry_attempts: int = 2
    max_event_age: float = 21600.0
    architecture: str = "x86_64"  # "x86_64" | "arm64": only the price depends on it here
    on_success: Any = field(default=None, repr=False)
    on_failure: Any = field(default=None, repr=False)
    cpu_scaling: bool = True  # CPU in proportion to memory (memory_mb / 1769 of a vCPU)
    cpu_mode: str = ""  # how the share is held: cgroup | throttle | off (set by the manager)
    task_files: dict = field(default_factory=dict, repr=False, compare=False)  # the code, as registered
    path: str | None = None  # a code directory (register(path=...)): the task root is a copy of it
    description: str = ""
    # Which update of $LATEST this is (1, 2, ...); a published version keeps the one it was made
    # from. Environments, code directories and placement are keyed by it; users see ``version``.
    revision: int = 1
    code_revision: int = 1  # the update whose code this runs (a configuration update keeps the code)
    revision_id: str = ""  # RevisionId: changes with every update of $LATEST (a uuid)
    published_at: float | None = None  # clock time a numbered version was published
    extensions: str | None = None  # a directory of external extensions (register(extensions=...))
    snap_start: bool = False  # SnapStart (ApplyOn: PublishedVersions): Init at publish, restores after
    snapshot: dict | None = None  # SnapStart: the snapshot taken at publish (plain facts)
    layers: tuple[str, ...] = ()  # directories or zip files merged in order at /opt (register(layers=...))
    # Which Python runs it: the Lambda runtime asked for ("python3.12"; "" for the kernel's own), the
    # interpreter found for it (lambda_widget.engine.interpreters: executable, version, base_prefix,
    # source) and, when that is not the one asked for, why ("python3.14 is not on this machine: ...").
    python_runtime: str = ""
    python: dict = field(default_factory=dict)
    python_note: str = ""

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0] if "." in self.handler else "lambda_function"

    @property
    def handler_spec(self) -> str:
        """The ``_HANDLER`` value: ``module.function``."""
        return self.handler if "." in self.handler else f"lambda_function.{self.handler}"

    @property
    def handler_name(self) -> str:
        return self.handler_spec.rsplit(".", 1)[1]

    @property
    def executable(self) -> str:
        """The interpreter its bundled runtime runs on (the kernel's unless its runtime names another)."""
        return self.python.get("executable") or sys.executable

    @property
    def python_version(self) -> str:
        """The version of that interpreter (``3.12.1``)."""
        return self.python.get("version") or ".".join(map(str, sys.version_info[:3]))

    @property
    def published(self) -> bool:
        return self.version != LATEST

    @property
    def key(self) -> tuple[str, str, int]:
        """What environments are placed by: one function version (and update of $LATEST)."""
        return self.name, self.version, self.revision

    def arn(self, region: str, account: str, qualifier: str | None = None) -> str:
        """The unqualified ARN, or with ``:qualifier`` (a version or an alias name)."""
        base = f"arn:aws:lambda:{region}:{account}:function:{self.name}"
        return f"{base}:{qualifier}" if qualifier else base

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in ("on_success", "on_failure", "task_files")}
        data["env"] = dict(self.env)
        data["track"] = list(self.track)
        data["python"] = dict(self.python)
        data["python_version"] = self.python_version
        data["cpu_share"] = cpu_share(self.memory_mb) if self.cpu_scaling else None
        for key in ("on_success", "on_failure"):
            dest = getattr(self, key)
            data[key] = None if dest is None else (
                f"callable {getattr(dest, '__qualname__', type(dest).__name__)}" if callable(dest)
                else f"list ({len(dest)} records)")
        return data


@dataclass
class Alias:
    """A named pointer to a published version (or ``$LATEST``), optionally splitting traffic with a
    second version: ``routing`` maps that version to its weight (0..1), as ``AdditionalVersionWeights``."""

    name: str
    function_name: str
    function_version: str
    description: str = ""
    routing: dict[str, float] = field(default_factory=dict)
    revision_id: str = ""

    def arn(self, region: str, account: str) -> str:
        return f"arn:aws:lambda:{region}:{account}:function:{self.function_name}:{self.name}"

    def versions(self) -> list[tuple[str, float]]:
        """(version, weight) pairs: the primary version takes what the others leave."""
        extra = sorted(self.routing.items())
        return [(self.function_version, 1.0 - sum(w for _, w in extra))] + extra

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "function_name": self.function_name,
                "function_version": self.function_version, "description": self.description,
                "routing": dict(self.routing), "revision_id": self.revision_id}


class Invocation(HasTraits):
    """One event's journey: routing, the steps, the logs, the result or the error."""

    # queued | running | succeeded | failed | timed-out | crashed | out-of-memory | throttled
    # | cancelled | dry-run | dropped (an Event older than max_event_age)
    status = Unicode("queued")
    revision = Int(0)

    def __init__(self, number: int, request_id: str, function: Function, event: Any,
                 submitted_at: float, invocation_type: str = "RequestResponse",
                 qualifier: str | None = None) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self.number = number
        self.request_id = request_id
        self.function_name = function.name
        self.version = function.version  # the version that runs it (ExecutedVersion)
        self.qualifier = qualifier  # what the caller named: None, a version or an alias
        self.function = function  # the version record it runs (not in to_dict: see ``version``)
        self.memory_size_mb = function.memory_mb
        self.timeout = function.timeout
        self.event = event
        self.invocation_type = invocation_type
        self.submitted_at = submitted_at
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.cold: bool | None = None
        self.cold_reason: str | None = None
        self.container_id: str | None = None
        self.cpu: dict | None = None  # the environment's CPU when it ran: mode, share, vcpus
        self.python_version: str | None = None  # the interpreter its environment ran (``3.12.1``)
        self.result: Any = None
        self.error: dict | None = None
        self.logs: list[str] = []
        self.steps: list[Step] = []
        self.duration_ms: float | None = None
        self.billed_duration_ms: int | None = None
        self.init_duration_ms: float | None = None
        self.restored = False  # SnapStart: this cold start restored the version's snapshot
        self.restore_duration_ms: float | None = None
        self.billed_restore_duration_ms: int | None = None
        self.max_memory_used_mb: int | None = None
        self.globals_before: dict[str, str] = {}
        self.globals_after: dict[str, str] = {}
        self.trace_truncated = False
        self.attempt = 1  # Event invocations: 1, then 2 and 3 for the retries
        self.source = function.source
        self.track = list(function.track)
        self.traced = function.trace and function.runtime == "bundled"

    @property
    def done(self) -> bool:
        return self.status not in ("queued", "running")

    def touch(self) -> None:
        """Tell observers something changed."""
        bump(self)

    def variable_names(self) -> list[str]:
        """Tracker rows: handler locals in order of appearance, tracked expressions, container_state."""
        names: list[str] = []
        for step in self.steps:
            for name in step.variables:
                if name not in names:
                    names.append(name)
        tail = [n for n in self.track if n in names] + (["container_state"] if "container_state" in names else [])
        return [n for n in names if n not in tail] + tail

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "number": self.number,
                "request_id": self.request_id,
                "function_name": self.function_name,
                "version": self.version,
                "qualifier": self.qualifier,
                "invocation_type": self.invocation_type,
                "status": self.status,
                "event": copy.deepcopy(self.event) if not isinstance(self.event, bytes) else self.event.decode("utf-8", "replace"),
                "cold": self.cold,
                "cold_reason": self.cold_reason,
                "container_id": self.container_id,
                "cpu": dict(self.cpu) if self.cpu else None,
                "python_version": self.python_version,
                "result": self.result if not isinstance(self.result, bytes) else self.result.decode("utf-8", "replace"),
                "error": copy.deepcopy(self.error),
                "logs": list(self.logs),
                "steps": [s.to_dict() for s in self.steps],
                "duration_ms": self.duration_ms,
                "billed_duration_ms": self.billed_duration_ms,
                "init_duration_ms": self.init_duration_ms,
                "restored": self.restored,
                "restore_duration_ms": self.restore_duration_ms,
                "billed_restore_duration_ms": self.billed_restore_duration_ms,
                "max_memory_used_mb": self.max_memory_used_mb,
                "memory_size_mb": self.memory_size_mb,
                "timeout": self.timeout,
                "submitted_at": self.submitted_at,
                "started_at": self.started_at,
                "ended_at": self.ended_at,
                "globals_before": dict(self.globals_before),
                "globals_after": dict(self.globals_after),
                "trace_truncated": self.trace_truncated,
                "attempt": self.attempt,
                "traced": self.traced,
                "track": list(self.track),
                "source": self.source,
            }

    def __repr__(self) -> str:
        kind = "throttled" if self.status == "throttled" else ("cold" if self.cold else "warm")
        return f"<Invocation {self.function_name}:{self.version} #{self.number} {self.status} {kind}>"
