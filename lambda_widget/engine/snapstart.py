"""SnapStart: Init once at publish, then every cold start restores the snapshot.

Publishing a version with ``snap_start=True`` starts one environment with
``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``. Its runtime runs Init and the before-snapshot
hooks and then waits in ``GET /runtime/restore/next``: that initialised process, frozen, is the
version's snapshot. A cold start of the version restores it: the snapshot forks (see
``lambda_widget.runtime.platform``), and the child becomes a new environment with its own
log pipe, Runtime API connection, ``/tmp``, groups and (sandboxed) namespaces. The child's
runtime returns from ``restore/next``, runs the after-restore hooks and asks for its event.
Restore plus hooks must finish within 10 s (``SnapStartTimeoutException``).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import select
import shutil
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_widget.engine import logs
from lambda_widget.engine.environment import ExecutionEnvironment, log_stream_name
from lambda_widget.engine.errors import InvalidParameterValueException
from lambda_widget.engine.isolation import tree
from lambda_widget.engine.records import LATEST
from lambda_widget.runtime.platform import SNAPSHOT_SIGNAL

if TYPE_CHECKING:
    from lambda_widget.engine.records import Function

RESTORE_LIMIT = 10.0  # seconds for restore plus after-restore hooks
RESTORED_TMP = ".restored"  # sandboxed: restored environments' /tmp, below the snapshot's
# What a restored runtime reads as the answer to the restore/next its snapshot had asked.
RESTORED = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n"
SNAPSTART_ERRORS = ("Runtime.BeforeSnapshotError", "Runtime.AfterRestoreError")


def snapshot_init_limit(fn: Function) -> float:
    """SnapStart's Init may take the larger of 130 s and the function timeout."""
    return max(130.0, fn.timeout)


def write_opt(source: Path, opt: Path) -> Path:
    """Into this version's ``/opt``: ``source`` as ``extensions/`` (or, if it has an
    ``extensions/`` folder, as a layer laid over /opt), readable and runnable by the sandbox's
    user, read-only. Layers are merged over it afterwards."""
    target = opt if (source / "extensions").is_dir() else opt / "extensions"
    shutil.copytree(source, target, symlinks=False, dirs_exist_ok=True)
    for dirpath, _dirs, files in os.walk(opt):
        os.chmod(dirpath, 0o755)
        for name in files:
            path = os.path.join(dirpath, name)
            mode = os.stat(path).st_mode
            os.chmod(path, 0o555 if mode & 0o111 else 0o444)
    return opt


class RestoredProcess:
    """A Popen-like handle on a restored environment's first process (its supervisor), which
    writes the runtime's wait status to a pipe when the runtime ends."""

    def __init__(self, pid: int, stdout_fd: int, status_fd: int) -> None:
        self.pid = pid
        self.stdout = os.fdopen(stdout_fd, "rb", buffering=0)
        self.returncode: int | None = None
        self._status = status_fd
        self._lock = threading.Lock()

    def _read_status(self, timeout: float | None) -> int | None:
        with self._lock:
            if self.returncode is not None:
                return self.returncode
            if not select.select([self._status], [], [], timeout)[0]:
                return None
            data = os.read(self._status, 4)
            os.close(self._status)
            status = int.from_bytes(data, sys.byteorder, signed=True) if len(data) == 4 else None
            self.returncode = os.waitstatus_to_exitcode(status) if status is not None else -signal.SIGKILL
            return self.returncode

    def poll(self) -> int | None:
        return self._read_status(0)

    def wait(self, timeout: float | None = None) -> int | None:
        code = self._read_status(timeout)
        if code is None:
            import subprocess

            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
        return code

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Snapshot:
    """A published version's initialised, frozen runtime process, and its control channel."""

    def __init__(self, env: ExecutionEnvironment, control: socket.socket) -> None:
        self.env = env
        self.control = control
        self.lock = threading.Lock()
        self.restores = 0
        self.retired = False  # its version is gone: it goes when its last restored environment does

    def freeze(self) -> None:
        """Only the snapshot's own process stops: in the fallback its restored environments are
        its children, and must not stop with it."""
        env = self.env
        env._release_cpu()  # the fallback's CPU throttle must not stop and start it meanwhile
        if env.cgroup is not None and env.mode == "namespaces":
            env.cgroup.freeze()
        elif env.runtime_pid is not None:
            _signal(env.runtime_pid, signal.SIGSTOP)

    def thaw(self) -> None:
        env = self.env
        if env.cgroup is not None and env.mode == "namespaces":
            env.cgroup.thaw()
        elif env.runtime_pid is not None:
            _signal(env.runtime_pid, signal.SIGCONT)

    def fork(self, env: ExecutionEnvironment, preconnect) -> tuple[RestoredProcess, float]:
        """Restore: a new environment forked from the snapshot. Returns it and the fork's ms."""
        t0 = time.perf_counter()
        log_r, log_w = os.pipe()
        status_r, status_w = os.pipe()
        go_r, go_w = os.pipe()
        api = preconnect(env, greeting=RESTORED)
        api.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        extra: dict[str, int] = {}
        sandboxed = env.mode == "namespaces"
        if env.function.trace and env.function.runtime == "bundled":
            extra["trace"] = os.open(env.trace_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        variables = {"TMPDIR": "/tmp" if sandboxed else str(env.tmp)}
        sent = [log_w, api.fileno(), status_w, go_r] + list(extra.values())
        try:
            with self.lock:
                self.restores += 1
                cmd = {"id": self.restores, "env": variables, "extra": list(extra), "sandbox": sandboxed,
                       "tmp": "/tmp/" + os.path.relpath(env.tmp, self.env.tmp) if sandboxed else None,
                       "keep": env.isolation.keep if sandboxed and env.isolation is not None else []}
                socket.send_fds(self.control, [json.dumps(cmd).encode()], sent)
                self.thaw()
                try:
                    reply = self._ask(cmd["id"])
                finally:
                    self.freeze()
            pid = self._child_pid(reply["pid"], sandboxed)
        except (OSError, ValueError, KeyError, TypeError, LookupError) as exc:
            for fd in (log_r, status_r, go_w):
                os.close(fd)
            raise RuntimeError(f"the snapshot did not restore: {exc}") from None
        finally:
            for fd in sent:
                try:
                    os.close(fd)
                except OSError:
                    pass
            api.detach()
        if env.cgroup is not None:  # its own groups before it runs anything of the function's
            for procs in env.cgroup.procs_files:
                try:
                    Path(procs).write_text(str(pid))
                except OSError:
                    pass
        os.write(go_w, b"g")
        os.close(go_w)
        return RestoredProcess(pid, log_r, status_r), (time.perf_counter() - t0) * 1000

    def _ask(self, ident: int, limit: float = 5.0) -> dict:
        """Signal the snapshot until it answers restore ``ident``. Again and again: a signal that
        arrives while the snapshot's handler still runs for an earlier restore is only noted, and
        the snapshot would go back to waiting in restore/next without seeing the new command."""
        deadline = time.monotonic() + limit
        while True:
            _signal(self.env.runtime_pid, SNAPSHOT_SIGNAL)
            self.control.settimeout(max(0.001, min(0.1, deadline - time.monotonic())))
            try:
                reply = json.loads(self.control.recv(4096))
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise
                continue
            if reply.get("restored") == ident:  # else a late answer to an earlier restore
                return reply

    def _child_pid(self, pid: int, sandboxed: bool) -> int:
        """The snapshot's new child ``pid`` (as its PID namespace numbers it) on this machine. The
        answer comes from inside the environment: anything but a child of the snapshot is refused."""
        parent = self.env.runtime_pid
        for child in tree.children(parent) if parent else []:
            if (tree.ns_pid(child) if sandboxed else child) == int(pid):
                return child
        raise LookupError(f"the restored process {pid!r} is not a child of the snapshot")

    @property
    def alive(self) -> bool:
        proc = self.env.proc
        return proc is not None and proc.poll() is None

    def close(self) -> None:
        try:
            self.control.close()
        except OSError:
            pass
        proc = self.env.proc
        if proc is not None and proc.returncode is None:  # only its own process (see freeze)
            self.env.killing = True
            proc.lw_killed = True  # type: ignore[attr-defined]
            self.thaw()
            _signal(self.env.runtime_pid or proc.pid, signal.SIGKILL)
            _signal(proc.pid, signal.SIGKILL)
            try:
                proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - gone or not, the directory goes
                pass
        self.env.close()


class SnapStartMixin:
    """SnapStart in ContainerManager: the snapshot at publish, restores at cold starts."""

    @property
    def _snapshots(self) -> dict[tuple[str, int], Snapshot]:
        return self.__dict__.setdefault("_snapshot_table", {})

    def _api_envs(self) -> list[ExecutionEnvironment]:
        """Environments the Runtime API serves: the pool's, and the snapshots'."""
        return self._live_envs() + [s.env for s in list(self._snapshots.values())]

    def _check_snap_start(self, snap_start: bool, provisioned: int, extensions: str | None) -> None:
        if not isinstance(snap_start, bool):
            raise InvalidParameterValueException(f"snap_start must be True or False, not {snap_start!r}")
        if snap_start and provisioned:
            raise InvalidParameterValueException(
                "SnapStart cannot be used with provisioned concurrency (AWS refuses the combination)")
        if snap_start and extensions is not None:
            raise InvalidParameterValueException(
                "SnapStart with extensions is not supported here: a restore is a fork of the runtime's "
                "process, which does not carry the extensions' processes")

    def _take_snapshot(self, fn: Function) -> None:
        """Publish: Init once (with the before-snapshot hooks), then keep it frozen."""
        with self._lock:
            self._counters["snapshot"] = self._counters.get("snapshot", 0) + 1
            hex32 = f"{self._rng.getrandbits(128):032x}"
            env = ExecutionEnvironment(f"snapshot-{self._counters['snapshot']}", fn, self._root / "envs",
                                       self.clock.now(), "publish", False,
                                       log_stream_name(datetime.datetime.now(datetime.timezone.utc), hex32),
                                       self._isolation)
            env.init_type = "snap-start"
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            env.snapshot_control = theirs.fileno()
            snap = Snapshot(env, ours)
            self._snapshots[fn.key] = snap
        log = [logs.init_start(self.region, env.python_version)]
        try:
            outcome, ms, detail = self._init_env(env, snapshot_init_limit(fn))
        finally:
            theirs.close()
        lines, _ = env.take_output()
        log += lines
        facts: dict[str, Any] = {"environment": env.id, "taken_at": self.clock.now(),
                                 "init_duration_ms": round(ms, 2), "restores": 0}
        if outcome == "ready":
            snap.freeze()
            env.state = "snapshot"
            facts["state"] = "ready"
            log.append(f"INIT_REPORT Init Duration: {ms:.2f} ms\tPhase: init\tStatus: success")
        else:
            from lambda_widget.engine.outcomes import _init_error_payload, _init_error_type

            error_type = _init_error_type(outcome, detail)
            log.append(logs.init_report(ms, "init", "timeout" if outcome == "timeout" else "error", error_type))
            facts["state"] = "failed"
            facts["error"] = _init_error_payload(outcome, detail, "", snapshot_init_limit(fn))
            with self._lock:
                self._snapshots.pop(fn.key, None)
            self._drop_snapshot(snap)
        facts["logs"] = log
        fn.snapshot = facts
        self._event(env, "snapshot", facts["state"])

    def _publish_version(self, fn: Function) -> None:
        """Publishing a SnapStart version: its Init runs now, once, and the snapshot is kept,
        before the version is published (as Lambda's version stays Pending until then)."""
        if fn.snap_start:
            self._take_snapshot(fn)
        super()._publish_version(fn)

    def _delete_version(self, name: str, version: str) -> None:
        super()._delete_version(name, version)
        self._release_snapshots(name)

    def _snapshot_failed(self, inv) -> bool:
        """An invocation of a version whose snapshot failed ends at once with the snapshot's error
        (on Lambda the version is in the Failed state and cannot be invoked)."""
        with self._lock:
            fn = self._current(inv)
        facts = fn.snapshot if fn.snap_start and fn.version != LATEST else None
        if not facts or facts.get("state") != "failed":
            return False
        from lambda_widget.engine import steps

        error = dict(facts["error"], requestId=inv.request_id)
        message = (f"The function's SnapStart snapshot failed when version {fn.version} was published: "
                   f"{error.get('errorType')}: {error.get('errorMessage')}")
        table = steps.opening(True, inv.cold_reason, "\n".join(facts["logs"]), error, restored=True) + \
            steps.closing([], "init-failed", error=error)
        with inv._lock:
            inv.error = error
            inv.logs = [f"[lambda_widget] {message}"]
            inv.steps = steps.number_and_fill(table, {}, list(fn.track))
            inv.cold, inv.restored = True, True
            inv.ended_at = self.clock.now()
            inv.status = "failed"
        self._changed(inv)
        return True

    def _prepare_restore(self, env: ExecutionEnvironment) -> None:
        """A new environment of a SnapStart version is restored, not initialised."""
        snap = self._snapshots.get(env.function.key)
        if snap is None:
            return
        if not snap.alive:  # killed from outside: this environment initialises as usual
            self._snapshots.pop(env.function.key, None)
            if env.function.snapshot:
                env.function.snapshot["state"] = "lost"
            threading.Thread(target=self._drop_snapshot, args=(snap,), daemon=True).start()
            return
        env.restore = snap
        env.init_type = "snap-start"
        if env.mode == "namespaces" and snap.env.uid is not None:  # it runs as the snapshot's user
            env.uid = snap.env.uid
            # Its /tmp must be reachable from the snapshot's mount namespace, where the restored
            # process makes its own: a directory in the snapshot's /tmp, then bound over /tmp.
            shutil.rmtree(env.tmp, ignore_errors=True)
            env.tmp = snap.env.tmp / RESTORED_TMP / env.id
            env.tmp.mkdir(parents=True, mode=0o700)
            os.chmod(env.tmp.parent, 0o711)
            os.chown(env.tmp, env.uid, env.uid)

    def _drop_snapshot(self, snap: Snapshot) -> None:
        snap.close()
        self._sentinel.untrack(snap.env.id)

    def _restore_env(self, env: ExecutionEnvironment, limit: float) -> tuple[str, float, Any]:
        """The restore, in place of an Init: (outcome, ms, detail) as ``_init_env`` returns."""
        from lambda_widget.engine.outcomes import _get

        snap: Snapshot = env.restore
        self._event(env, "restore-start")
        self._changed(env)
        env.begin_process()
        env.ext = None
        t0 = time.perf_counter()
        env.spawning = True
        try:
            proc, fork_ms = snap.fork(env, self._server.preconnect)
        except RuntimeError as exc:
            env.spawning = False
            self._event(env, "init-error", "SnapStartException")
            return "error", (time.perf_counter() - t0) * 1000, {"errorType": "SnapStartException",
                                                               "errorMessage": str(exc)}
        env.proc, env.pid, env.spawning = proc, proc.pid, False
        os.set_blocking(proc.stdout.fileno(), False)
        env.restore_fork_ms = fork_ms
        with self._lock, env.lock:
            ended = env.state == "terminated"
        if ended:
            env.kill()
            return "exit", (time.perf_counter() - t0) * 1000, -9
        self._sentinel.track(env.id, env.pid)
        if env.cpu.mode == "throttle":
            env._apply_cpu(env.cpu.current, fresh=True)
        self._monitor.watch(env)
        try:
            item = _get(env.outcomes, min(limit, RESTORE_LIMIT))
        except Exception:  # noqa: BLE001 - queue.Empty: the restore limit passed
            item = ("timeout",)
        ms = (time.perf_counter() - t0) * 1000
        if item[0] == "ready":
            env.last_memory_mb = env.peak_memory_mb()
            self._event(env, "init-done", "restored")
            return "ready", ms, None
        env.kill()
        if item[0] == "init-error":
            from lambda_widget.engine.outcomes import _load_error

            error = _load_error(item[1], item[2])
            error["errorType"] = item[2] or error.get("errorType", "")
            self._event(env, "init-error", error["errorType"])
            return "error", ms, error
        if item[0] == "timeout":
            self._event(env, "init-error", "SnapStartTimeoutException")
            return "error", ms, {"errorType": "SnapStartTimeoutException",
                                 "errorMessage": f"Restore and the after-restore hooks took longer than "
                                                 f"{RESTORE_LIMIT:.0f} seconds"}
        self._event(env, "init-error", "Runtime.ExitError")
        return "exit", ms, item[1] if len(item) > 1 else None

    def _on_restore_call(self, env: ExecutionEnvironment, handler, body: bytes) -> None:
        """``GET /runtime/restore/next`` from a snapshot (it is ready: it waits there for ever) and
        ``POST /runtime/restore/error`` from a restored environment (its after-restore hook failed)."""
        from lambda_widget.engine.extensions import ApiAnswer
        from lambda_widget.engine.runtime_api import ACCEPTED, PREFIX

        if handler.path == PREFIX + "/restore/next" and handler.command == "GET" \
                and env.init_type == "snap-start" and env.restore is None and env.state == "initializing":
            env.outcomes.put(("ready",))
            return  # parked: the snapshot is taken while it waits
        if handler.path == PREFIX + "/restore/error" and handler.command == "POST" and env.restore is not None:
            env.outcomes.put(("init-error", body, handler.headers.get("Lambda-Runtime-Function-Error-Type", "")
                              or "Runtime.AfterRestoreError"))
            handler._reply(ACCEPTED)
            return
        raise ApiAnswer(403, "InvalidStateTransition", "This environment is not being snapshotted or restored")

    def _release_snapshots(self, name: str | None = None, keep_current: bool = True) -> None:
        """Snapshots of versions that are gone: closed once no environment restored from them lives."""
        with self._lock:
            live = {id(e.restore) for e in self._envs if e.restore is not None}
            doomed = []
            for key, snap in list(self._snapshots.items()):
                if name is not None and key[0] != name:
                    continue
                gone = not keep_current or key[1] not in self.__dict__.get("_published", {}).get(key[0], {})
                if gone:
                    snap.retired = True
                if snap.retired and id(snap) not in live:
                    doomed.append(snap)
                    del self._snapshots[key]
        for snap in doomed:
            self._drop_snapshot(snap)


def restore_report(ms: float, status: str | None = None, error_type: str | None = None) -> str:
    line = f"RESTORE_REPORT Restore Duration: {ms:.2f} ms"
    if status:
        line += f"\tStatus: {status}"
        if error_type:
            line += f"\tError Type: {error_type}"
    return line


def restore_start(region: str = "us-east-1", python_version: str | None = None) -> str:
    return logs.init_start(region, python_version).replace("INIT_START", "RESTORE_START", 1)


def billed_restore(ms: float, fork_ms: float) -> int:
    """What AWS bills of a restore: loading the runtime and the after-restore hooks (the
    snapshot's own restore is not billed); here, the restore less the fork."""
    return math.ceil(round(max(0.0, ms - fork_ms), 2))


def _signal(pid: int | None, sig: int) -> None:
    if pid is None:
        return
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
