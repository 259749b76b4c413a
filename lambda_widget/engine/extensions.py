"""The Lambda Extensions API (``/2020-01-01/extension/...``) for one execution environment.

Served by the same loopback server as the Runtime API. An extension registers (the name of
an external one is its file's name in ``/opt/extensions``), then calls ``event/next`` and gets
``INVOKE`` and ``SHUTDOWN`` events; ``init/error`` and ``exit/error`` report failures. One
registered from the runtime's own process is internal (it may not ask for ``SHUTDOWN``).

The engine asks this object three things: are all extensions ready (Init ends when the runtime
and every extension have called ``next``), hand them an event, and has each one come back to
``next`` (the Invoke phase ends then; that time is part of the Duration).
"""

from __future__ import annotations

import json
import os
import select
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PREFIX = "/2020-01-01/extension"
EVENTS = ("INVOKE", "SHUTDOWN")
# Variables that make the bundled runtime start a fresh interpreter (an internal extension's
# way in on Lambda: a wrapper script, or the language's own start-up options).
STARTUP_VARIABLES = ("AWS_LAMBDA_EXEC_WRAPPER", "PYTHONSTARTUP", "PYTHONWARNINGS", "PYTHONDEVMODE",
                     "PYTHONPROFILEIMPORTTIME", "PYTHONTRACEMALLOC", "PYTHONFAULTHANDLER",
                     "PYTHONOPTIMIZE", "PYTHONSAFEPATH", "PYTHONUTF8", "PYTHONINSPECT")


def external_names(opt: str | None) -> list[str]:
    """The external extensions an environment starts: executables in ``<opt>/extensions``."""
    directory = Path(opt) / "extensions" if opt else None
    if directory is None or not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir() if p.is_file() and os.access(p, os.X_OK))


def internal_startup(env: dict[str, str]) -> list[str]:
    """The function's variables that bring an internal extension in at start-up."""
    return [k for k in STARTUP_VARIABLES if env.get(k)]


class ApiAnswer(Exception):
    """An answer other than success: status, error type and message (AWS's error shape)."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message

    def body(self) -> bytes:
        return json.dumps({"errorMessage": self.message, "errorType": self.error_type}).encode()


@dataclass
class Extension:
    id: str
    name: str
    events: list[str]
    internal: bool
    pid: int | None
    registered_at: float
    state: str = "registered"  # registered | waiting | busy | exited | crashed | failed
    waiter: Callable[[bytes], None] | None = None
    pending: bytes | None = None
    error_type: str = ""
    exited_at: float | None = None
    shutdown_sent_at: float | None = None
    log: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "events": list(self.events), "internal": self.internal,
                "state": self.state, "error_type": self.error_type}


class Extensions:
    """The extensions of one environment process (a new process starts a new set)."""

    def __init__(self, expected: list[str], on_failure: Callable[[str, str, str], None]) -> None:
        self.expected = list(expected)  # external extensions started at Init
        self.on_failure = on_failure  # (error type, extension name, message)
        self.by_id: dict[str, Extension] = {}
        self.cond = threading.Condition()
        self.init_done = False
        self.shutting_down = False  # exits from here on are expected

    # -- facts ------------------------------------------------------------------
    @property
    def external(self) -> list[Extension]:
        return [e for e in self.by_id.values() if not e.internal]

    @property
    def internal(self) -> list[Extension]:
        return [e for e in self.by_id.values() if e.internal]

    def to_list(self) -> list[dict[str, Any]]:
        with self.cond:
            return [e.to_dict() for e in self.by_id.values()]

    def ready(self) -> bool:
        """Every expected extension registered, and every registered one waits in ``next``."""
        names = {e.name for e in self.by_id.values()}
        return all(n in names for n in self.expected) and \
            all(e.state in ("waiting", "exited") for e in self.by_id.values())

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + max(0.0, timeout)
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    # -- the API ----------------------------------------------------------------
    def register(self, name: str, body: bytes, pid: int | None, runtime_pid: int | None,
                 function: dict[str, str]) -> tuple[str, bytes]:
        if self.init_done:
            raise ApiAnswer(403, "Extension.InvalidState",
                            "Extensions may register only during the Init phase")
        if not name:
            raise ApiAnswer(400, "Extension.MissingExtensionName",
                            "Lambda-Extension-Name header is missing")
        try:
            events = json.loads(body or b"{}").get("events", [])
            if not isinstance(events, list) or any(e not in EVENTS for e in events):
                raise ValueError
        except (ValueError, AttributeError):
            raise ApiAnswer(400, "InvalidRequest",
                            f"events must be a list of {', '.join(EVENTS)}") from None
        internal = pid is not None and pid == runtime_pid
        if internal and "SHUTDOWN" in events:
            raise ApiAnswer(400, "ShutdownEventNotSupportedForInternalExtension",
                            "Internal extensions cannot register for the SHUTDOWN event")
        if not internal and name not in self.expected:
            raise ApiAnswer(403, "Extension.UnknownExtension",
                            f"Extension {name!r} is not in /opt/extensions (external extensions "
                            f"register with their file's name)")
        with self.cond:
            if any(e.name == name for e in self.by_id.values()):
                raise ApiAnswer(409, "Extension.AlreadyRegistered", f"Extension {name!r} is already registered")
            ext = Extension(str(uuid.uuid4()), name, events, internal, pid, time.monotonic())
            self.by_id[ext.id] = ext
            self.cond.notify_all()
        if pid is not None and not internal:
            threading.Thread(target=self._watch, args=(ext,), name="lambda-extension-watch",
                             daemon=True).start()
        answer = {"functionName": function["name"], "functionVersion": function["version"],
                  "handler": function["handler"], "accountId": function["account"]}
        return ext.id, json.dumps(answer).encode()

    def find(self, ext_id: str | None) -> Extension:
        if not ext_id:
            raise ApiAnswer(403, "Extension.MissingExtensionIdentifier",
                            "Lambda-Extension-Identifier header is missing")
        ext = self.by_id.get(ext_id)
        if ext is None:
            raise ApiAnswer(403, "Extension.UnknownExtensionIdentifier", "Unknown extension identifier")
        return ext

    def next(self, ext_id: str | None, reply: Callable[[bytes], None]) -> bytes | None:
        """``event/next``: an event already waiting, or None (``reply`` answers later)."""
        ext = self.find(ext_id)
        with self.cond:
            if ext.state in ("exited", "crashed", "failed"):
                raise ApiAnswer(403, "Extension.InvalidState", "The extension has exited")
            if ext.pending is not None:
                event, ext.pending = ext.pending, None
                ext.state = "busy"
                self.cond.notify_all()
                return event
            ext.state, ext.waiter = "waiting", reply
            self.cond.notify_all()
        return None

    def error(self, ext_id: str | None, kind: str, error_type: str, body: bytes) -> None:
        """``init/error`` or ``exit/error``: the extension fails, and with it the phase."""
        ext = self.find(ext_id)
        platform_type = "Extension.InitError" if kind == "init" else "Extension.ExitError"
        with self.cond:
            ext.state, ext.error_type = "failed", error_type or platform_type
            self.cond.notify_all()
        self.on_failure(platform_type, ext.name, _message(body, error_type))

    # -- the engine's side ------------------------------------------------------
    def deliver(self, event: dict[str, Any]) -> list[Extension]:
        """Send ``event`` to every extension registered for its type; returns them."""
        data = json.dumps(event).encode()
        sent = []
        with self.cond:
            for ext in self.by_id.values():
                if event["eventType"] not in ext.events or ext.state in ("exited", "crashed", "failed"):
                    continue
                if event["eventType"] == "SHUTDOWN":
                    ext.shutdown_sent_at = time.monotonic()
                send, ext.waiter = ext.waiter, None
                if send is not None:
                    ext.state = "busy"
                    send(data)
                else:
                    ext.pending = data
                sent.append(ext)
        return sent

    def back_in_next(self, exts: list[Extension]) -> bool:
        return all(e.state in ("waiting", "exited", "crashed", "failed") for e in exts)

    def _watch(self, ext: Extension) -> None:
        """An external extension's process: its exit is a crash unless it was told to shut down."""
        try:
            fd = os.pidfd_open(ext.pid)
        except OSError:
            return
        try:
            select.select([fd], [], [])
        finally:
            os.close(fd)
        with self.cond:
            ext.exited_at = time.monotonic()
            crashed = not self.shutting_down and ext.state != "failed"
            ext.state = "crashed" if crashed else "exited"
            self.cond.notify_all()
        if crashed:
            self.on_failure("Extension.Crash", ext.name, f"Extension {ext.name} exited unexpectedly")


def _message(body: bytes, error_type: str) -> str:
    try:
        data = json.loads(body)
        if isinstance(data, dict) and data.get("errorMessage"):
            return str(data["errorMessage"])
    except ValueError:
        pass
    return error_type or body.decode("utf-8", "replace")[:200]


def owner_pid(pids: list[int], local_port: int, server_port: int) -> int | None:
    """Which of ``pids`` holds the client end of the loopback connection ``local_port``."""
    from lambda_widget.engine.runtime_api import _holds, _socket_inode

    inode = _socket_inode(local_port, server_port)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    return next((pid for pid in pids if _holds(pid, target)), None)
