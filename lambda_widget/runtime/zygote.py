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
import select
import signal
import socket
import sys
import time
import traceback  # noqa: F401

from lambda_widget.runtime import bootstrap, tracer  # noqa: F401

_ZYGOTE_PYTHONPATH = os.environ.get("PYTHONPATH")  # what sys.path was built from
_ZYGOTE_TZ = os.environ.get("TZ")  # as the manager started the zygote; children with the same skip tzset


def _use_pythonpath(value: str) -> None:
    """``sys.path`` as a fresh interpreter would build it with this ``PYTHONPATH``: its entries
    right after the working directory, the zygote's own ones gone."""
    ours = [os.path.abspath(p) for p in (_ZYGOTE_PYTHONPATH or "").split(os.pathsep) if p]
    wanted = [os.path.abspath(p) for p in value.split(os.pathsep) if p]
    rest = [p for p in sys.path[1:] if p not in ours and p not in wanted]
    sys.path[1:] = wanted + rest
    importlib.invalidate_caches()


def _child(body: bytes, fds: list[int], zygote_pid: int) -> None:
    """In the forked child: become the environment and run the runtime. Never returns."""
    code = 1
    try:
        cmd = json.loads(body)
        out_fd = fds[0]
        if len(fds) > 1:
            cmd["options"]["api_fd"] = fds[1]
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        bootstrap.die_with_parent(zygote_pid)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        os.chdir(cmd["cwd"])
        os.environ.clear()
        os.environ.update(cmd["env"])
        if os.environ.get("TZ") != _ZYGOTE_TZ:
            time.tzset()
        sys.path[0] = cmd["cwd"]  # as `python -m` puts the working directory first
        if os.environ.get("PYTHONPATH") != _ZYGOTE_PYTHONPATH:
            _use_pythonpath(os.environ.get("PYTHONPATH", ""))
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
    finally:
        os._exit(code & 0xFF)


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
    zygote_pid = os.getpid()
    _prepare()
    gc.collect()
    gc.freeze()
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
                sock.send(b'{"exit": %d, "code": %d}' % (pid, os.waitstatus_to_exitcode(status)))
        if sock in readable:
            try:
                msg, fds, _, _ = socket.recv_fds(sock, 1 << 20, 2)
            except OSError:
                return
            if not msg:
                return
            ident, _, body = msg.partition(b"\n")
            pid = os.fork()
            if pid == 0:
                sock.close()
                os.close(wake_r)
                os.close(wake_w)
                signal.set_wakeup_fd(-1)
                _child(body, fds, zygote_pid)
            for fd in fds:
                os.close(fd)
            sock.send(b'{"spawned": %s, "pid": %d}' % (ident, pid))


def main() -> None:
    parser = argparse.ArgumentParser(prog="lambda_widget.runtime.zygote")
    parser.add_argument("--parent", type=int, default=0)
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args()
    bootstrap.die_with_parent(args.parent)
    serve(socket.socket(fileno=args.fd))


if __name__ == "__main__":
    main()
