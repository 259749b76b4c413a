"""A template process that forks new execution environments (SnapStart-style).

Starting a Python interpreter and importing the runtime costs ~50-100 ms; forking a
process that has already done so costs ~1 ms. The zygote has no threads, freezes
its heap (``gc.freeze()``) so children share its pages, and takes commands from the
manager over a Unix socket: each command carries the environment's variables, its
task root and the runtime's options (JSON, after a line with the command's id), and, as
passed file descriptors, the write end of the environment's log pipe and its connection to
the Runtime API. It reaps its children and reports their exit codes.
"""

from __future__ import annotations

# The imports marked F401 preload what every environment needs, so children inherit them
# already imported (ctypes for PR_SET_PDEATHSIG; encodings.idna, which socket.create_connection
# imports on first use).
import argparse
import atexit
import ctypes  # noqa: F401
import encodings.idna  # noqa: F401
import gc
import http.client  # noqa: F401
import importlib
import json
import logging  # noqa: F401
import os
import reprlib  # noqa: F401
import resource
import select
import signal
import socket
import sys
import time
import traceback  # noqa: F401

from lambda_widget.runtime import bootstrap, sandbox, tinyinit, tracer  # noqa: F401

_ZYGOTE_PYTHONPATH = os.environ.get("PYTHONPATH")  # what sys.path was built from
_ZYGOTE_TZ = os.environ.get("TZ")  # as the manager started the zygote; children with the same skip tzset
_kernel = 0  # the manager's process: environments die with it (but not with the zygote)
_freezer = ""  # the manager's freezer group: thawed on the way out, so frozen environments can die


def _use_pythonpath(value: str) -> None:
    """``sys.path`` as a fresh interpreter would build it with this ``PYTHONPATH``: its entries
    right after the working directory, the zygote's own ones gone."""
    ours = [os.path.abspath(p) for p in (_ZYGOTE_PYTHONPATH or "").split(os.pathsep) if p]
    wanted = [os.path.abspath(p) for p in value.split(os.pathsep) if p]
    rest = [p for p in sys.path[1:] if p not in ours and p not in wanted]
    sys.path[1:] = wanted + rest
    importlib.invalidate_caches()


def _child(body: bytes, fds: list[int], zygote_pid: int, status_w: int | None = None,
           ready: bool = False) -> None:
    """In the forked child: become the environment and run the runtime. Never returns.
    ``ready``: this is a ready sandbox's PID 2 (its init and session are there already)."""
    code = 1
    try:
        cmd = json.loads(body)
        named = dict(zip(cmd.get("fd_roles") or ["out", "api", "control"], fds))  # noqa: B905 - Python 3.9 too
        out_fd = named["out"]
        if "api" in named:
            cmd["options"]["api_fd"] = named["api"]
        if "control" in named:  # SnapStart: this environment becomes a snapshot (runtime/platform.py)
            cmd["options"]["control_fd"] = named["control"]
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if not ready:
            os.setsid()
            sandbox.outlive_parent(zygote_pid, _kernel)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        if status_w is None and not ready:  # not a sandbox: neither descriptor is this process's business
            for fd in (sandbox.INIT_FD, sandbox.KERNEL_FD):
                if fd is not None:
                    os.close(fd)
        if status_w is not None:
            try:
                inner = sandbox.enter(cmd["sandbox"], fds[1:], status_w)
            except OSError as exc:
                sys.stderr.write(f"lambda_widget: the environment's sandbox could not be set up: {exc}\n")
                raise
            if inner["trace_file"]:
                cmd["options"]["trace_file"] = inner["trace_file"]
        elif ready:
            try:
                inner = sandbox.enter_ready(cmd["sandbox"])
            except OSError as exc:
                sys.stderr.write(f"lambda_widget: the environment's sandbox could not be set up: {exc}\n")
                raise
            if inner["trace_file"]:
                cmd["options"]["trace_file"] = inner["trace_file"]
        else:
            sandbox.subreaper()
        os.chdir(cmd["cwd"])
        os.environ.clear()
        os.environ.update(cmd["env"])
        if os.environ.get("TZ") != _ZYGOTE_TZ:
            time.tzset()
        sys.path[0] = cmd["cwd"]  # as `python -m` puts the working directory first
        if os.environ.get("PYTHONPATH") != _ZYGOTE_PYTHONPATH:
            _use_pythonpath(os.environ.get("PYTHONPATH", ""))
        if cmd.get("argv"):
            if (status_w is not None or ready) and "control_fd" in cmd["options"]:
                sandbox.keep_sys_admin_across_exec()  # a SnapStart snapshot restores in its own /tmp
            _exec(cmd["argv"], cmd["options"])
        sys.argv = [sys.argv[0]]
        gc.unfreeze()
        try:
            bootstrap.run(**cmd["options"])
            code = 0
        except SystemExit as exc:
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                sys.stderr.write(f"{exc.code}\n")
                code = 1
        except KeyboardInterrupt:
            # As CPython does: report, then die of SIGINT so the exit status says so.
            traceback.print_exc()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
            code = 130
        except BaseException:  # noqa: BLE001 - the process must end with a code
            traceback.print_exc()
            code = 1
        try:
            atexit._run_exitfuncs()
        except BaseException:  # noqa: BLE001
            pass
    except BaseException:  # noqa: BLE001 - before the runtime started: say why, then end
        traceback.print_exc()
    finally:
        os._exit(code & 0xFF)


def _exec(argv: list[str], options: dict) -> None:
    """Become another runtime (awslambdaric, an exec wrapper) inside the sandbox just made."""
    trace = options.get("trace_file") or ""
    values = {"{api_fd}": options.get("api_fd"), "{control_fd}": options.get("control_fd"), "{trace_file}": trace}
    for key in ("api_fd", "control_fd"):
        if options.get(key) is not None:
            os.set_inheritable(options[key], True)
    if trace.startswith("/proc/self/fd/"):
        os.set_inheritable(int(trace.rsplit("/", 1)[1]), True)
    argv = [str(values[a]) if a in values else a for a in argv]
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # as subprocess leaves them for a new program
        signal.signal(sig, signal.SIG_DFL)
    try:  # Lambda's quota holds for every runtime, not only the bundled one
        resource.setrlimit(resource.RLIMIT_NOFILE, (bootstrap.OPEN_FILES, bootstrap.OPEN_FILES))
    except (OSError, ValueError):
        pass
    try:
        os.execve(argv[0], argv, os.environ)
    except OSError as exc:
        sys.stderr.write(f"lambda_widget: cannot start {argv[0]}: {exc}\n")
        os._exit(127)


class _Ready:
    """A sandbox made ahead, as Lambda keeps slots ready: a PID namespace whose init (PID 1,
    the compiled init where there is one) already runs, and whose PID 2, forked from the fork
    server's image, waits for an environment's command. Taking it takes both forks off the
    cold start's path; the next one is made after the reply, while the new environment
    starts on the other CPU."""

    def __init__(self, pid: int, sock: socket.socket, status_r: int) -> None:
        self.pid = pid  # its PID 1, as this machine sees it: the environment's pid
        self.sock = sock
        self.status_r = status_r  # where its init reports how the runtime ended

    def discard(self) -> None:
        self.sock.close()
        os.close(self.status_r)


def _make_ready(own_ns: int, closing: list, zygote_pid: int) -> _Ready | None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    status_r, status_w = os.pipe()
    try:
        pid = sandbox.fork_in_new_pid_namespace(own_ns)
    except OSError:
        for item in (ours, theirs):
            item.close()
        os.close(status_r)
        os.close(status_w)
        return None
    if pid == 0:
        ours.close()
        os.close(status_r)
        for item in closing:
            try:
                item.close() if hasattr(item, "close") else os.close(item)
            except OSError:
                pass
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sandbox.ready_init(status_w, [theirs.fileno()])  # returns in PID 2 only
        try:
            msg, fds, _, _ = socket.recv_fds(theirs, 1 << 20, 3)
        except OSError:
            os._exit(0)
        theirs.close()
        if not msg or not fds:  # the fork server ended
            os._exit(0)
        _child(msg, fds, zygote_pid, ready=True)
    theirs.close()
    os.close(status_w)
    return _Ready(pid, ours, status_r)


def _children() -> list[int]:
    try:
        with open(f"/proc/self/task/{os.getpid()}/children", "rb") as f:
            return [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return []


def _alive_child(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return False


def _kill_orphans(known: set[int]) -> None:
    """Processes an ended environment left behind were reparented here: they end now."""
    for pid in _children():
        if pid not in known:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _end_all() -> None:
    """The kernel is gone: every environment goes too, frozen ones included."""
    if _freezer:
        try:
            for name in os.listdir(_freezer):
                for state in ("freezer.state", "cgroup.freeze"):
                    try:
                        with open(os.path.join(_freezer, name, state), "w") as f:
                            f.write("THAWED" if state == "freezer.state" else "0")
                    except OSError:
                        pass
        except OSError:
            pass
    for _ in range(3):
        for pid in _children():
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    os._exit(0)


def _prepare() -> None:
    """Before the freeze: do once here what every environment would otherwise do after the fork."""
    time.tzset()
    bootstrap.prepare()


def serve(sock: socket.socket) -> None:
    """Fork an environment per command until the manager closes the socket.

    Whatever the zygote itself writes after a fork unshares that page from every environment
    alive, so its loop stays small: the command is parsed in the child, replies are formatted
    bytes, not ``json.dumps``.
    """
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: _end_all())  # the kernel died (PDEATHSIG)
    sandbox.subreaper()  # what an environment leaves behind when it dies comes here, to be killed
    zygote_pid = os.getpid()
    known: set[int] = set()
    statuses: dict[int, int] = {}  # sandboxed environment -> the pipe its init reports through
    own_ns = os.open("/proc/self/ns/pid", os.O_RDONLY)
    if _freezer:  # cgroups: environments are sandboxed, each with its own PID 1
        sandbox.INIT_FD = tinyinit.open_init(True)
        try:
            sandbox.KERNEL_FD = os.pidfd_open(_kernel) if _kernel else None
        except OSError:
            sandbox.KERNEL_FD = None
    _prepare()
    gc.collect()
    gc.freeze()
    closing = [sock, wake_r, wake_w, own_ns]  # what a ready sandbox closes once forked
    ready = _make_ready(own_ns, closing, zygote_pid) if _freezer else None
    if ready is not None:
        sock.send(b'{"standby": %d}' % ready.pid)
    sock.send(b'{"ready": true}')
    while True:
        try:
            readable, _, _ = select.select([sock, wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in readable:
            os.read(wake_r, 4096)
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                if pid in statuses:  # a sandbox's init: it reports how its runtime ended
                    reader = statuses.pop(pid)
                    data = os.read(reader, 4)
                    os.close(reader)
                    if len(data) == 4:
                        status = int.from_bytes(data, sys.byteorder, signed=True)
                if pid in known:
                    known.discard(pid)
                    sock.send(b'{"exit": %d, "code": %d}' % (pid, os.waitstatus_to_exitcode(status)))
            if ready is not None and not _alive_child(ready.pid):  # killed while it waited
                ready.discard()
                ready = None
            _kill_orphans(known if ready is None else known | {ready.pid})
        if sock in readable:
            try:
                msg, fds, _, _ = socket.recv_fds(sock, 1 << 20, 3)
            except OSError:
                return
            if not msg:
                return
            ident, _, body = msg.partition(b"\n")
            sandboxed = ident.endswith(b" sandbox")
            status_r = status_w = None
            taken = False
            try:
                if sandboxed:
                    ident = ident[:-8]
                    if ready is not None:
                        try:
                            socket.send_fds(ready.sock, [body], list(fds))
                            pid, status_r, taken = ready.pid, ready.status_r, True
                            ready.sock.close()
                        except OSError:  # too large a command, say: fork one here, as before
                            os.kill(ready.pid, signal.SIGKILL)
                            ready.discard()
                        ready = None
                    if not taken:
                        status_r, status_w = os.pipe()
                        pid = sandbox.fork_in_new_pid_namespace(own_ns)
                else:
                    pid = os.fork()
            except OSError:
                pid = -1
            if pid == 0:
                sock.close()
                os.close(wake_r)
                os.close(wake_w)
                os.close(own_ns)
                if ready is not None:
                    ready.sock.close()
                signal.set_wakeup_fd(-1)
                if status_r is not None:
                    os.close(status_r)
                _child(body, fds, zygote_pid, status_w)
            for fd in fds:
                os.close(fd)
            if status_w is not None:
                os.close(status_w)
            if pid < 0:
                if status_r is not None:
                    os.close(status_r)
                sock.send(b'{"spawned": %s, "pid": 0}' % ident)
                continue
            if status_r is not None:
                statuses[pid] = status_r
            known.add(pid)
            sock.send(b'{"spawned": %s, "pid": %d}' % (ident, pid))
            if sandboxed and ready is None:  # the next cold start's sandbox, made while this one starts
                ready = _make_ready(own_ns, closing, zygote_pid)
                if ready is not None:
                    sock.send(b'{"standby": %d}' % ready.pid)


def main() -> None:
    parser = argparse.ArgumentParser(prog="lambda_widget.runtime.zygote")
    parser.add_argument("--parent", type=int, default=0)
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--freezer", default="")
    args = parser.parse_args()
    global _kernel, _freezer
    _kernel, _freezer = args.parent, args.freezer
    bootstrap.die_with_parent(args.parent, signal.SIGTERM)
    serve(socket.socket(fileno=args.fd))


if __name__ == "__main__":
    main()
