"""One execution environment: a real OS process, its /tmp, its log pipe, freeze and thaw.

The process runs the runtime (bundled, or awslambdaric) against the manager's
Runtime API. While idle it is stopped with SIGSTOP, as Lambda freezes an
environment between invocations.
"""

from __future__ import annotations

import datetime
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from traitlets import HasTraits, Int, Unicode

from lambda_widget.engine.extensions import internal_startup
from lambda_widget.engine.isolation import Isolation, copy_task_root, tree, write_task_copy
from lambda_widget.engine.isolation.cpu import CpuLimit
from lambda_widget.engine.records import Function, bump
from lambda_widget.placement.keepalive import idle_deadline

MAX_PROCESSES = 1024  # Lambda's processes/threads quota
OUTPUT_CAP = 1024 * 1024  # bytes of handler output kept per invocation
LINE_CAP = 256 * 1024  # CloudWatch's largest event
TRACE_CAP = 16 * 1024 * 1024  # bytes of trace records read per invocation
PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
RUNTIME_DIR = str(Path(__file__).resolve().parents[1] / "runtime")


class Output:
    """Bytes read from the environment's stdout/stderr pipe, capped, taken in segments."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buffer = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> None:
        room = OUTPUT_CAP - len(self.buffer)
        if room > 0:
            self.buffer += data[:room]
        self.dropped += max(0, len(data) - max(room, 0))

    def take(self, final: bool = True) -> tuple[list[str], int]:
        """Lines so far (a partial last line only if ``final``) and the bytes dropped."""
        if not self.buffer and not self.dropped:
            return [], 0
        data = bytes(self.buffer)
        if not final:
            cut = data.rfind(b"\n") + 1
            data, rest = data[:cut], data[cut:]
        else:
            rest = b""
        self.buffer = bytearray(rest)
        dropped, self.dropped = self.dropped, 0
        lines = []
        for raw in data.split(b"\n"):
            if len(raw) > LINE_CAP:
                raw = raw[:LINE_CAP]
            lines.append(raw.decode("utf-8", "replace"))
        if lines and lines[-1] == "":
            lines.pop()
        return lines, dropped


class Launcher:
    """Starts every environment process from one long-lived thread.

    The runtime asks for SIGKILL when its parent dies (PR_SET_PDEATHSIG), and Linux
    means the parent *thread*: a process started from a short-lived thread would die
    with that thread.
    """

    def __init__(self) -> None:
        self._jobs: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="lambda-launcher", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            args, kwargs, box, done = job
            try:
                box.append(subprocess.Popen(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                box.append(exc)
            done.set()

    def popen(self, *args, **kwargs) -> subprocess.Popen:
        box: list = []
        done = threading.Event()
        self._jobs.put((args, kwargs, box, done))
        done.wait()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def stop(self) -> None:
        self._jobs.put(None)


class ExecutionEnvironment(HasTraits):
    """A sandbox for one function version; serves one invocation at a time."""

    state = Unicode("initializing")  # initializing | busy | idle | terminated
    revision = Int(0)

    def __init__(self, env_id: str, function: Function, root: Path, created_at: float,
                 reason: str, provisioned: bool, log_stream_name: str,
                 isolation: Isolation | None = None) -> None:
        super().__init__()
        self.id = env_id
        self.function = function
        self.function_name = function.name
        self.version = function.version
        self.created_at = created_at
        self.last_used_at = created_at
        self.create_reason = reason
        self.provisioned = provisioned
        self.init_type = "provisioned-concurrency" if provisioned else "on-demand"
        self.log_stream_name = log_stream_name
        self.invocations = 0  # events handed to the handler
        self.requests = 0  # events routed here, including those whose init failed
        self.inits = 0
        self.ended_at: float | None = None
        self.end_reason: str | None = None
        self.reset_reason: str | None = None  # set while the process is gone but the environment lives
        self.last_invocation = None
        self.current = None  # the Invocation being served
        self.retiring = False  # a newer version exists: terminate after this invocation
        self.dir = root / env_id
        self.tmp = self.dir / "tmp"
        self.trace_path = self.dir / "trace.jsonl"
        self.trace_offset = 0
        self.tmp.mkdir(parents=True, mode=0o700)
        os.chmod(self.tmp, 0o700)
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None
        self.lock = threading.RLock()
        self.output = Output()
        self.outcomes: queue.Queue = queue.Queue()
        self.pending = None  # an event waiting for the runtime's next /next
        self.waiter = None  # answers the runtime's parked /next request
        self.polling = False
        self.frozen = False
        self.killing = False
        self.peak_rss = 0
        self.limit_hit: str | None = None
        self.spawning = False
        self.snapshot_control: int | None = None  # SnapStart: the engine's end is the snapshot's
        self._status_fd: int | None = None
        self._status_pid: int | None = None
        self._runtime_pid: int | None = None
        self._stopped: list[int] = []  # what freeze() stopped (process mode)
        self._task_copy: Path | None = None
        self.isolation = isolation
        self.mode = "process"  # this environment's containment: namespaces | process
        self.cgroup = None
        self.uid: int | None = None
        # The lifecycle beyond Init and Invoke (lambda_widget.engine.lifecycle):
        self.internal_startup = internal_startup(function.env)  # a wrapper or start-up options
        self.ext = None  # the Extensions of the current process
        self.shutdown: dict | None = None  # the record of its last Shutdown phase (or reset)
        self.shut_down = False  # its final Shutdown phase has run
        self.restore = None  # SnapStart: (snapshot, command) this environment is forked from
        if isolation is not None and isolation.cgroups is not None:
            self.cgroup = isolation.cgroups.create(env_id)
        if self.cgroup is not None:
            self.cgroup.configure(function.memory_mb, MAX_PROCESSES)
            if isolation.mode == "namespaces":  # every runtime, started however (issue 17)
                self.mode = "namespaces"
                self.uid = isolation.next_uid()
                os.chown(self.tmp, self.uid, self.uid)
                self.trace_path.touch(mode=0o600)
                os.chown(self.trace_path, self.uid, self.uid)
        cpu_mode = "cgroup" if self.cgroup is not None else "throttle"
        self.cpu = CpuLimit(function.memory_mb, getattr(function, "cpu_scaling", True), cpu_mode,
                            self._apply_cpu)

    # -- facts -----------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and not self.killing

    @property
    def frozen_processes(self) -> int:
        """Processes the fallback's freeze stopped (0 when running, or frozen by a cgroup)."""
        return len(self._stopped) if self.frozen and self.alive else 0

    def touch(self) -> None:
        bump(self)

    @property
    def reaps_at(self) -> float | None:
        """When (manager clock) the reaper ends this environment if no event comes; None if it won't."""
        return idle_deadline(self.state, self.provisioned, self.last_used_at, self.function.idle_timeout)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "function_name": self.function_name,
            "version": self.version,
            "state": self.state,
            "pid": self.pid,
            "provisioned": self.provisioned,
            "init_type": self.init_type,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "create_reason": self.create_reason,
            "invocations": self.invocations,
            "requests": self.requests,
            "inits": self.inits,
            "ended_at": self.ended_at,
            "end_reason": self.end_reason,
            "reset_reason": self.reset_reason,
            "frozen": self.frozen,
            "idle_timeout": self.function.idle_timeout,
            "reaps_at": self.reaps_at,
            "isolation": self.mode,
            "cpu": self.cpu.to_dict(),
            "extensions": self.ext.to_list() if self.ext is not None else [],
            "shutdown": dict(self.shutdown) if self.shutdown else None,
            "python_version": self.python_version,
        }

    @property
    def python_executable(self) -> str:
        """The interpreter this environment's runtime runs on: the function's for the bundled
        runtime; awslambdaric stays on the kernel's Python (its package lives there)."""
        return self.function.executable if self.function.runtime == "bundled" else sys.executable

    @property
    def python_version(self) -> str:
        """That interpreter's version (``3.12.1``)."""
        if self.function.runtime == "bundled":
            return self.function.python_version
        return ".".join(map(str, sys.version_info[:3]))

    @property
    def version_label(self) -> str:
        """The version as Lambda writes it: ``$LATEST`` or a published version's number."""
        return str(self.version)

    @property
    def master_opt(self) -> Path | None:
        """This version's ``/opt`` on this machine (its layers and extensions), if it has one."""
        fn = self.function
        return self.master_task_root.with_suffix(".opt") if fn.layers or fn.extensions else None

    @property
    def opt_host(self) -> str | None:
        """This environment's ``/opt`` on this machine: the version's (mounted in a sandbox), or
        the environment's own copy in the fallback."""
        if self.master_opt is None:
            return None
        return str(self.master_opt) if self.mode == "namespaces" else str(self.dir / "opt")

    def __repr__(self) -> str:
        return f"<ExecutionEnvironment {self.id} {self.function_name} v{self.version} {self.state}>"

    # -- process ---------------------------------------------------------------
    def environ(self, runtime_api: str, region: str, account: str) -> dict[str, str]:
        fn = self.function
        version = tuple(int(n) for n in self.python_version.split(".")[:2])
        env = {
            "_HANDLER": fn.handler_spec,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version[0]}.{version[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": fn.version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": self.init_type,
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream_name,
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            # Placeholder credentials: nothing of the kernel's own may reach handler code.
            "AWS_ACCESS_KEY_ID": "ASIALAMBDAWIDGETLOCAL",
            "AWS_SECRET_ACCESS_KEY": "lambda-widget-local-secret",
            "AWS_SESSION_TOKEN": "lambda-widget-local-session",
            "LAMBDA_TASK_ROOT": self.task_root_inside,
            "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
            "LANG": "en_US.UTF-8",
            "PATH": os.pathsep.join([os.path.dirname(self.python_executable), "/usr/local/bin", "/usr/bin",
                                     "/bin"]),
            "PYTHONPATH": PACKAGE_PARENT,
            "TZ": LAMBDA_TZ,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
            "TMPDIR": "/tmp" if self.mode == "namespaces" else str(self.tmp),
            "PWD": self.task_root_inside,
        }
        # The interpreter itself may need its library path to start at all.
        if os.environ.get("LD_LIBRARY_PATH"):
            env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
        if fn.layers:  # as Lambda: /opt/python... on sys.path, /opt/bin on PATH, /opt/lib for libraries
            from lambda_widget.engine.layers import python_paths

            opt = self.opt_inside
            env["PYTHONPATH"] = os.pathsep.join(python_paths(opt, self.python_version) + [PACKAGE_PARENT])
            env["PATH"] += f"{os.pathsep}{opt}/bin"
            env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (env.get("LD_LIBRARY_PATH"), f"{opt}/lib") if p)
        if self.init_type == "snap-start":  # AWS: SnapStart functions do not get these two
            del env["AWS_LAMBDA_LOG_GROUP_NAME"], env["AWS_LAMBDA_LOG_STREAM_NAME"]
        env.update(fn.env)
        return env

    @property
    def opt_inside(self) -> str:
        """Where the handler sees its layers: ``/opt`` in a sandbox, else this environment's own copy."""
        return "/opt" if self.mode == "namespaces" else str(self.dir / "opt")

    @property
    def master_task_root(self) -> Path:
        return self.dir.parent.parent / "functions" / self.function_name / f"v{self.function.code_revision}"

    @property
    def task_root(self) -> Path:
        """Where the code is on this machine: the version's own (read-only mount in a sandbox),
        or this process's fresh copy."""
        return self._task_copy if self._task_copy is not None else self.master_task_root

    @property
    def task_root_inside(self) -> str:
        """Where the handler sees its code (``LAMBDA_TASK_ROOT``)."""
        return "/var/task" if self.mode == "namespaces" else str(self.task_root)

    def _fresh_code(self) -> None:
        """Process mode: every process gets its own copy, so tampering dies with it."""
        if self.master_opt is not None and self.mode != "namespaces" and not (self.dir / "opt").exists():
            # No /opt without a mount namespace: the environment's own copy of its layers and extensions.
            shutil.copytree(self.master_task_root.with_suffix(".opt"), self.dir / "opt", symlinks=True)
        if self.mode == "namespaces":
            return
        files = getattr(self.function, "task_files", None)
        old = self._task_copy
        copy = self.dir / f"task{self.inits}"
        if files:
            write_task_copy(files, copy)
        else:  # a package over the in-memory budget: copied from the version's task root
            copy_task_root(self.master_task_root, copy)
        self._task_copy = copy
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def sandbox_spec(self) -> dict | None:
        if self.mode != "namespaces":
            return None
        return {"cgroups": self.cgroup.join_files, "task_root": str(self.master_task_root),
                "tmp": str(self.tmp), "uid": self.uid, "mounts": self.isolation.mounts_for(
                    self.function.python if self.function.runtime == "bundled" else None),
                "keep": self.isolation.keep + self._covered_wrapper(),
                "trace_file": str(self.trace_path) if self.function.trace else None,
                "opt": str(self.master_opt) if self.master_opt is not None else None}

    def _covered_wrapper(self) -> list[str]:
        """An exec wrapper given by its path on this machine, where the sandbox's /tmp would hide it."""
        from lambda_widget.engine.isolation import COVERED

        path = self.function.env.get("AWS_LAMBDA_EXEC_WRAPPER", "")
        if os.path.isabs(path) and any(path.startswith(c + os.sep) for c in COVERED) and os.path.isfile(path):
            return [path]
        return []

    def runtime_options(self) -> dict[str, Any]:
        """Options of the bundled runtime (passed outside the environment, which stays Lambda's)."""
        fn = self.function
        opts: dict[str, Any] = {"opt": self.opt_inside} if self.opt_host else {}
        if not fn.trace:
            return opts
        return {"trace_file": str(self.trace_path), "max_steps": fn.max_steps, "track": list(fn.track),
                **opts}

    def runtime_args(self) -> list[str]:
        opts = self.runtime_options()
        args = ["--opt", opts["opt"]] if opts.get("opt") else []
        if "trace_file" not in opts:
            return args
        return args + ["--trace-file", opts["trace_file"], "--max-steps", str(opts["max_steps"]),
                       "--track", json.dumps(opts["track"])]

    def command(self, api_fd: int | str | None = None, control_fd: int | str | None = None) -> list[str]:
        fn = self.function
        wrapper = self._exec_wrapper()
        if fn.runtime == "awslambdaric":
            # Through the platform's part (extensions, SnapStart), then awslambdaric unmodified.
            platform = ["--opt", self.opt_inside] if self.opt_host else []
            platform += ["--control-fd", str(control_fd)] if control_fd is not None else []
            if platform:
                return wrapper + [sys.executable, "-m", "lambda_widget.runtime.platform"] + platform + \
                    ["awslambdaric", fn.handler_spec]
            return wrapper + [sys.executable, "-m", "awslambdaric", fn.handler_spec]
        api = ["--api-fd", str(api_fd)] if api_fd is not None else []
        control = ["--control-fd", str(control_fd)] if control_fd is not None else []
        # In a sandbox the kernel is out of sight: its init, which dies with it, is the parent.
        parent = ["--parent", str(os.getpid())] if self.mode != "namespaces" else []
        return wrapper + [self.python_executable, "-u", "-m", "lambda_widget.runtime"] + parent + api + \
            control + self.runtime_args()

    def _exec_wrapper(self) -> list[str]:
        """``AWS_LAMBDA_EXEC_WRAPPER``: Lambda starts the runtime through this script (``/opt/...``
        is the version's /opt, a relative path is in the task root)."""
        path = self.function.env.get("AWS_LAMBDA_EXEC_WRAPPER")
        if not path:
            return []
        if self.mode == "namespaces":  # started inside the sandbox: its /opt and /var/task
            return [path if os.path.isabs(path) else os.path.join(self.task_root_inside, path)]
        if path.startswith("/opt/") and self.opt_host:
            path = os.path.join(self.opt_host, path[5:])
        elif not os.path.isabs(path):
            path = os.path.join(self.task_root, path)
        return [path]

    def spawn(self, environ: dict[str, str], launcher: Launcher, zygote=None,
              preconnect: Callable[[ExecutionEnvironment], socket.socket] | None = None) -> None:
        """Start a fresh process (a new init). ``/tmp`` is kept.

        The bundled runtime gets its Runtime API connection from ``preconnect`` (made by the
        manager, so its owner is known); awslambdaric connects by itself.
        """
        self.begin_process()
        self._fresh_code()
        environ["LAMBDA_TASK_ROOT"] = environ["PWD"] = self.task_root_inside
        if self.cgroup is not None:
            self.cgroup.rearm()
        self.spawning = True  # the process may call the Runtime API before we know its pid
        self.cpu.phase = ""
        self.cpu.enter("init" if self.inits == 1 else "invoke")  # Lambda boosts only the Init phase
        bundled = self.function.runtime == "bundled"
        api = preconnect(self) if preconnect is not None and bundled else None
        control = self.snapshot_control  # SnapStart: this process becomes the version's snapshot
        try:
            if self.mode == "namespaces" and zygote is None:
                raise RuntimeError("a sandboxed environment needs the fork server")
            if zygote is not None and (self.mode == "namespaces" or (bundled and not self.internal_startup)):
                argv = None
                if not bundled or self.internal_startup:  # another program, started in the sandbox
                    argv = self.command("{api_fd}" if api is not None else None,
                                        "{control_fd}" if control is not None else None)
                    argv = ["{trace_file}" if a == str(self.trace_path) else a for a in argv]
                self.proc = zygote.spawn(environ, self.task_root_inside, self.runtime_options(), api,
                                         self.sandbox_spec(), extra_fds=[control] if control is not None else [],
                                         argv=argv)
            else:
                fds = tuple(x for x in (api.fileno() if api is not None else None, control) if x is not None)
                self.proc = launcher.popen(
                    self.command(api.fileno() if api is not None else None, control), env=environ,
                    cwd=self.task_root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, close_fds=True, pass_fds=fds, start_new_session=True)
        finally:
            if api is not None:
                api.close()  # the environment has its own copy
        self.pid = self.proc.pid
        self.spawning = False
        if self.cgroup is not None and self.mode != "namespaces":
            for procs in self.cgroup.procs_files:  # started outside the fork server: join now
                try:
                    Path(procs).write_text(str(self.pid))
                except OSError:
                    pass
        if self.cpu.mode == "throttle":
            self._apply_cpu(self.cpu.current, fresh=True)
        os.set_blocking(self.proc.stdout.fileno(), False)

    def begin_process(self) -> None:
        """A new process of this environment (a new Init, or a restore): fresh per-process state."""
        self.output = Output()
        self.outcomes = queue.Queue()
        self.pending = None
        self.waiter = None
        self.polling = False
        self.frozen = False
        self.killing = False
        self.peak_rss = 0
        self.limit_hit = None
        self.inits += 1
        self._runtime_pid = None
        self._stopped = []

    def read_output(self) -> bool:
        """Move what the pipe holds into the buffer. False at end of file."""
        proc = self.proc
        if proc is None or proc.stdout is None:
            return False
        with self.output.lock:
            while not proc.stdout.closed:
                try:
                    data = os.read(proc.stdout.fileno(), 65536)
                except BlockingIOError:
                    return True
                except (OSError, ValueError):
                    return False
                if not data:
                    return False
                self.output.feed(data)
            return False

    def take_output(self, final: bool = True) -> tuple[list[str], int]:
        self.read_output()
        with self.output.lock:
            return self.output.take(final)

    def freeze(self) -> None:
        """Stop every process of the environment, as Lambda freezes the sandbox: the cgroup
        freezer (invisible to the handler), or SIGSTOP down its process tree."""
        if self.alive and not self.frozen:
            self.frozen = True
            self._release_cpu()
            if self.cgroup is not None:
                self.cgroup.freeze()
            else:
                _signal_group(self.pid, signal.SIGSTOP)
                self._stopped = tree.stop_tree(self.pid)

    def thaw(self) -> None:
        """Resume, for an invocation: from here on the environment gets its invoke-phase CPU."""
        self.cpu.enter("invoke")
        if self.frozen:
            self.frozen = False
            if self.cgroup is not None:
                self.cgroup.thaw()
            else:
                stopped, self._stopped = self._stopped, []
                tree.signal_all(stopped or [self.pid], signal.SIGCONT)
                _signal_group(self.pid, signal.SIGCONT)
        if self.cpu.mode == "throttle" and self.alive:
            self._apply_cpu(self.cpu.current)

    def _apply_cpu(self, cpus: float | None, fresh: bool = False) -> None:
        if self.cgroup is not None:
            self.cgroup.set_cpu(cpus)
            return
        governor = self.isolation.governor if self.isolation is not None else None
        if governor is None or self.pid is None or self.spawning:
            return
        if cpus is None:
            governor.release(self)
        else:
            governor.run(self, self.pid, cpus, fresh)

    def _release_cpu(self) -> None:
        if self.isolation is not None and self.isolation.governor is not None:
            self.isolation.governor.release(self)

    @property
    def runtime_pid(self) -> int | None:
        """The runtime's process (in a sandbox, below the namespace's init), for its memory."""
        if self.restore is not None and self.pid is not None:  # SnapStart: below its supervisor
            if self._runtime_pid is None:
                below = tree.children(self.pid)
                self._runtime_pid = below[0] if below else None
            return self._runtime_pid
        if self.mode != "namespaces" or self.pid is None:
            return self.pid
        if self._runtime_pid is None:
            for child in tree.children(self.pid):  # self.pid: the namespace's init (its PID 1)
                if tree.ns_pid(child) == 2:
                    self._runtime_pid = child
        return self._runtime_pid

    def group_pids(self) -> list[int]:
        """Every process of the environment (its cgroup, or its process tree)."""
        if self.pid is None:
            return []
        if self.cgroup is not None and self.mode == "namespaces":
            return self.cgroup.pids()
        return tree.members(self.pid)

    def out_of_memory(self) -> bool:
        """The kernel's OOM killer ended a process of this environment (cgroup mode)."""
        return self.cgroup is not None and self.cgroup.out_of_memory()

    def kill(self) -> int | None:
        """Kill the process and everything it started; wait for it. Returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        self.killing = True
        proc.lw_killed = True  # type: ignore[attr-defined]
        self._release_cpu()
        if proc.returncode is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                try:
                    proc.kill()
                except ProcessLookupError:
                    pass
        # What left the process group: still in the tree (subreaper) or in the cgroup.
        tree.kill_tree(proc.pid)
        if self.cgroup is not None:
            self.cgroup.kill()
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        self.read_output()
        return code

    def close(self) -> None:
        """Remove the environment's directory (its /tmp goes with it) and its groups."""
        self._close_status()
        if self.cgroup is not None:
            self.cgroup.kill()
            self.cgroup.remove()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.restore is not None:  # SnapStart: its /tmp may live below the snapshot's
            shutil.rmtree(self.tmp, ignore_errors=True)

    def peak_memory_mb(self) -> int | None:
        """Peak resident memory in MB as Lambda counts them: the runtime's own peak (VmHWM),
        or more if the watchdog saw the whole process group use more."""
        if self.pid is None:
            return None
        own = self._vm_hwm_mb()
        if own is None and self.mode == "namespaces" and self.proc is not None \
                and self.proc.returncode is not None:
            own = 0  # the runtime is gone; what the watchdog saw stands
        if own is None:
            return None
        return max(own, -(-self.peak_rss // 2**20))

    def _vm_hwm_mb(self) -> int | None:
        # /proc/<pid>/status is regenerated on every read: keep it open and pread it.
        pid = self.runtime_pid
        if pid is None:
            return None
        try:
            if self._status_fd is None or self._status_pid != pid:
                self._close_status()
                self._status_fd = os.open(f"/proc/{pid}/status", os.O_RDONLY)
                self._status_pid = pid
            data = os.pread(self._status_fd, 8192, 0)
            at = data.index(b"VmHWM:")
            kb = int(data[at + 6:data.index(b"kB", at)])
            return -(-kb // 1024)
        except (OSError, ValueError):
            return None

    def _close_status(self) -> None:
        if self._status_fd is not None:
            try:
                os.close(self._status_fd)
            except OSError:
                pass
            self._status_fd = None

    def read_trace(self) -> list[dict]:
        """Trace records written since the last read."""
        try:
            with open(self.trace_path, "rb") as f:
                f.seek(self.trace_offset)
                data = f.read(TRACE_CAP)
        except OSError:
            return []
        cut = data.rfind(b"\n") + 1
        self.trace_offset += cut
        lines = data[:cut].splitlines()
        try:  # one parse for the whole trace is several times faster than one per record
            return json.loads(b"[" + b",".join(lines) + b"]")
        except ValueError:
            pass
        records = []
        for raw in lines:
            try:
                records.append(json.loads(raw))
            except ValueError:
                continue
        return records


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def log_stream_name(now: datetime.datetime, hex32: str, version: str = "$LATEST") -> str:
    return f"{now:%Y/%m/%d}/[{version}]{hex32}"


LAMBDA_TZ = ":UTC"  # Lambda's TZ


def zygote_environ(python: str | None = None, tmpdir: str | None = None) -> dict[str, str]:
    """The template process's own environment: just enough to start Python, nothing of the kernel's.

    Forked environments replace it with Lambda's variables, but the initial environment block
    stays readable in ``/proc/self/environ``, so it must hold no secret. ``python``: the
    interpreter it runs (the kernel's by default). ``tmpdir``: where its start-up rehearsal writes
    (the manager's root, which the sentinel removes even when the kernel is killed mid-way).
    """
    env = {"PATH": os.pathsep.join([os.path.dirname(python or sys.executable), "/usr/local/bin", "/usr/bin",
                                    "/bin"]),
           "PYTHONPATH": PACKAGE_PARENT, "LANG": "C.UTF-8",
           "TZ": LAMBDA_TZ}  # the environments' own: they need not re-read the time zone after the fork
    if os.environ.get("LD_LIBRARY_PATH"):
        env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
    if os.environ.get("LAMBDA_WIDGET_PYTHON_INIT"):  # sandboxes keep the Python init (tests)
        env["LAMBDA_WIDGET_PYTHON_INIT"] = "1"
    if tmpdir:
        env["TMPDIR"] = tmpdir
    return env
