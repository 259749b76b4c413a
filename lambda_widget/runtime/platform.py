"""The platform's part inside an environment (standard library only).

On Lambda the platform, not the runtime, starts the external extensions found in
``/opt/extensions`` at Init, sends the runtime ``SIGTERM`` at Shutdown, and takes and restores
SnapStart snapshots. Here that work runs inside the environment's own process, before the
runtime: the bundled runtime calls it from its bootstrap, and any other runtime (awslambdaric)
is started through ``python -m lambda_widget.runtime.platform ... -- MODULE ARGS``, which does
it and then runs the runtime's module unmodified in the same process.

**SnapStart.** ``arm_snapshot`` makes the process a snapshot: once its runtime has run Init
and the before-snapshot hooks, it blocks in ``GET /runtime/restore/next`` (the point where
Lambda snapshots the microVM) and the engine freezes it. A restore is a fork of that frozen
process: the engine sends a command (and the new environment's descriptors) over the control
socket, then ``SNAPSHOT_SIGNAL``. The signal handler forks; the snapshot returns to its
blocked call, and the child becomes the new environment: its own session, log pipe, Runtime
API connection (put in place of the snapshot's, so the interrupted ``restore/next`` reads its
answer from the child's own connection), trace file, ``/tmp`` and (sandboxed) its own mount
and PID namespaces. Only the thread that took the signal survives a fork: threads started
at Init do not run in a restored environment.
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import json
import os
import runpy
import signal
import socket
import stat
import sys

SNAPSHOT_SIGNAL = signal.SIGRTMIN + 4
CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
MS_BIND, MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV, MS_NOEXEC = 4096, 16384, 1 << 18, 2, 4, 8

_extensions: list[int] = []  # pids of the external extensions this process started
_control: socket.socket | None = None  # the snapshot's command channel from the engine
_targets: dict[str, list[int]] = {"log": [1, 2], "api": [], "trace": []}  # descriptors a restore replaces


# ---------------------------------------------------------------------------- extensions
def start_extensions(opt: str | None) -> list[int]:
    """Start every executable in ``<opt>/extensions`` (Lambda's ``/opt/extensions``), in name
    order, as processes of this environment with its variables; their output is the function's.
    On Shutdown this process waits for them before it exits, so they get their whole budget."""
    directory = os.path.join(opt, "extensions") if opt else ""
    try:
        names = sorted(os.listdir(directory)) if directory else []
    except OSError:
        names = []
    started = []
    for name in names:
        path = os.path.join(directory, name)
        try:
            if not (stat.S_ISREG(os.stat(path).st_mode) and os.access(path, os.X_OK)):
                continue
        except OSError:
            continue
        pid = os.fork()
        if pid == 0:  # pragma: no cover - replaced by exec
            try:
                signal.pthread_sigmask(signal.SIG_SETMASK, set())
                for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGINT):
                    signal.signal(sig, signal.SIG_DFL)
                os.execve(path, [path], dict(os.environ))
            except BaseException as exc:  # noqa: BLE001 - reported, then the process ends
                os.write(2, f"[lambda_widget] extension {name} could not start: {exc}\n".encode())
            os._exit(127)
        started.append(pid)
    if started:
        _extensions.extend(started)
        atexit.register(wait_extensions)
        # The runtime's default on SIGTERM: exit (and wait for the extensions, as above). A
        # handler the function installs replaces this one, as it would on Lambda.
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _terminated)
    return started


def _terminated(signum, frame) -> None:
    raise SystemExit(128 + signal.SIGTERM)


def wait_extensions() -> None:
    """Before the runtime's process ends: let its extensions finish (the engine kills what is
    left when the Shutdown budget runs out)."""
    while _extensions:
        pid = _extensions.pop()
        try:
            os.waitpid(pid, 0)
        except (ChildProcessError, InterruptedError, OSError):
            continue


# ---------------------------------------------------------------------------- SnapStart
def arm_snapshot(control_fd: int, api_fds: list[int] | None = None, log_fds: list[int] | None = None,
                 trace_fds: list[int] | None = None) -> None:
    """Make this process a snapshot that the engine can fork restored environments from.

    ``api_fds``: descriptors of this runtime's Runtime API connection (found by looking when
    not given: the sockets connected to ``AWS_LAMBDA_RUNTIME_API``); ``log_fds``, ``trace_fds``:
    the runtime's own copies of its log pipe and trace file, which a restore points elsewhere.
    """
    global _control
    _control = socket.socket(fileno=control_fd)
    _control.setblocking(False)
    _control.set_inheritable(False)
    if api_fds is not None:
        _targets["api"] = list(api_fds)
    _targets["log"] = sorted(set([1, 2] + list(log_fds or [])))
    _targets["trace"] = list(trace_fds or [])
    signal.signal(SNAPSHOT_SIGNAL, _on_restore)


def _on_restore(signum, frame) -> None:
    """A restore was asked for: fork one environment per command waiting on the channel."""
    if not _targets["api"]:  # before the new environment's descriptors arrive
        _targets["api"] = _api_sockets()
    while _control is not None:
        try:
            msg, fds, _, _ = socket.recv_fds(_control, 1 << 16, 8)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        if not msg:
            return
        cmd = json.loads(msg)
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the supervisors are reaped at once
        generator = _random_state()
        pid = os.fork()
        if pid == 0:
            _become_restored(cmd, fds)
            if generator is not None:  # a fork reseeds random's generator; a restore does not
                sys.modules["random"]._inst.setstate(generator)
            return  # in the restored runtime: back into the interrupted restore/next
        for fd in fds:
            os.close(fd)
        try:
            _control.send(b'{"restored": %d, "pid": %d}' % (int(cmd["id"]), pid))
        except OSError:
            pass


def _random_state():
    """The state of ``random``'s module-level generator, if the function imported ``random``.

    CPython reseeds it in every forked child (``os.register_at_fork``); a snapshot restore on
    Lambda copies memory and reseeds nothing, so every restored environment continues the one
    sequence. The restored runtime gets the snapshot's state back."""
    module = sys.modules.get("random")
    inst = getattr(module, "_inst", None)
    return inst.getstate() if inst is not None else None


def _api_sockets() -> list[int]:
    """This process's sockets connected to the Runtime API (awslambdaric's, found by looking)."""
    host, _, port = os.environ.get("AWS_LAMBDA_RUNTIME_API", "").rpartition(":")
    found = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            probe = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            peer = probe.getpeername()
            if isinstance(peer, tuple) and peer[0] == host and str(peer[1]) == port:
                found.append(fd)
        except OSError:
            pass
        finally:
            probe.close()
    return found  # the newest last: the connection blocked in restore/next


def _become_restored(cmd: dict, fds: list[int]) -> None:
    """In the forked child. Returns only in the restored runtime; a supervisor stays behind,
    waits for it and writes its wait status to the engine (as a sandbox's init does)."""
    log_w, api, status_w, go_r = fds[:4]
    extra = dict(zip(cmd.get("extra", []), fds[4:], strict=False))
    global _control
    try:
        if _control is not None:
            _control.detach()
            _control = None
        signal.signal(SNAPSHOT_SIGNAL, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        while not os.read(go_r, 1):  # the engine has put this process in its own groups
            os._exit(1)
        os.close(go_r)
        for fd in _targets["log"]:
            os.dup2(log_w, fd)
        os.close(log_w)
        libc = ctypes.CDLL(None, use_errno=True)
        if cmd.get("tmp"):  # sandboxed: its own /tmp, then its own PID namespace
            _check(libc.unshare(CLONE_NEWNS), "unshare mount")
            _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
            kept = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
                    for path in cmd.get("keep", ()) if os.path.isdir(path)]
            _mount(libc, cmd["tmp"], "/tmp", None, MS_BIND)
            for path, fd in kept:  # the kernel's Python under /tmp, read-only, over the new /tmp again
                os.makedirs(path, 0o755, exist_ok=True)
                _mount(libc, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
                os.close(fd)
            _check(libc.unshare(CLONE_NEWPID), "unshare pid")
        runtime = os.fork()
    except BaseException as exc:  # noqa: BLE001 - the environment fails to restore
        os.write(2, f"[lambda_widget] the snapshot could not be restored: {exc}\n".encode())
        os._exit(70)
    if runtime:
        _supervise(runtime, status_w)
    os.close(status_w)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the runtime goes with its supervisor
    if cmd.get("sandbox"):
        try:
            _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        except OSError:
            pass  # /proc then shows the snapshot's namespace (still only this version's processes)
    # The connection blocked in restore/next becomes this environment's own (its answer waits
    # there); any other one the runtime kept (awslambdaric's keep-alive) is replaced by a new
    # connection of this process: nothing of the snapshot's is shared.
    *others, blocked = _targets["api"] or [api]
    if blocked != api:
        os.dup2(api, blocked)
        os.close(api)
    host, _, port = os.environ.get("AWS_LAMBDA_RUNTIME_API", "").rpartition(":")
    for fd in others:
        fresh = socket.create_connection((host, int(port)))
        os.dup2(fresh.fileno(), fd)
        fresh.close()
    if "trace" in extra:
        for target in _targets["trace"]:
            os.dup2(extra["trace"], target)
        os.close(extra.pop("trace"))
    os.environ.update(cmd.get("env", {}))
    if cmd.get("cwd"):
        try:
            os.chdir(cmd["cwd"])
        except OSError:
            pass


def _supervise(runtime: int, status_w: int) -> None:
    """The restored environment's first process: wait for its runtime, report how it ended.
    It keeps no descriptor but its report's (none of the snapshot's connections)."""
    os.closerange(3, status_w)
    os.closerange(status_w + 1, 1 << 16)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    while True:
        try:
            pid, status = os.waitpid(runtime, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            status = 9
            break
        if pid == runtime:
            break
    os.write(status_w, status.to_bytes(4, sys.byteorder, signed=True))
    os._exit(0)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(libc, source: str | None, target: str, fstype: str | None, flags: int) -> None:
    _check(libc.mount(source.encode() if source else None, target.encode(),
                      fstype.encode() if fstype else None, flags, None), f"mount {target}")


# ---------------------------------------------------------------------------- another runtime
def main(argv: list[str] | None = None) -> None:
    """``python -m lambda_widget.runtime.platform [--opt DIR] [--control-fd N] -- MODULE ARGS...``:
    the platform's part, then runtime ``MODULE`` run as ``python -m MODULE ARGS`` would."""
    parser = argparse.ArgumentParser(prog="lambda_widget.runtime.platform")
    parser.add_argument("--opt")
    parser.add_argument("--control-fd", type=int)
    parser.add_argument("--parent", type=int, default=0)
    parser.add_argument("module")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.parent:
        from lambda_widget.runtime.lifeline import die_with_parent

        die_with_parent(args.parent)
    start_extensions(args.opt)
    if args.control_fd is not None:
        arm_snapshot(args.control_fd)
    sys.argv = [args.module] + list(args.args)
    runpy.run_module(args.module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
