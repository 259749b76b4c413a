"""Inside a new environment process, before the runtime starts: its sandbox (stdlib only).

Two modes, chosen by the engine:

- ``namespaces`` (root with cgroups): the fork server forks the environment into a new PID
  namespace (``fork_in_new_pid_namespace``); the process joins its control groups and gets
  its own mount namespace. The whole filesystem is read-only there; the task root is mounted
  at ``/var/task``, the environment's directory, writable, at ``/tmp`` (with the kernel's
  Python environment, read-only, where it lives under /tmp), a tmpfs of its own at
  ``/dev/shm``, a fresh ``/proc`` shows only the environment. PID 1 of
  the namespace is a small init that reaps orphans; the runtime is PID 2 and runs as an
  unprivileged user of its own (uid 993 inside a user namespace, like Lambda's sbx_user1051).
  When PID 1 ends, the kernel kills every process of the namespace: nothing outlives it.
- ``process``: the runtime becomes a child subreaper, so descendants that detach stay in its
  tree, where the engine finds them to freeze, count and kill.

Either way the environment survives the fork server's death (another function killed it)
but not the kernel's.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import stat
import sys
import threading

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
SYS_MOUNT_SETATTR, AT_FDCWD, AT_RECURSIVE = 442, -100, 0x8000  # the same number on every architecture
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID = 1, 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 1, 4, 36
PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN = 47, 2, 21
LAMBDA_UID, LAMBDA_GID = 993, 990  # sbx_user1051 on Lambda
ORPHAN_SIGNAL = signal.SIGRTMIN + 3  # the fork server died: from now on, watch the kernel

_libc = ctypes.CDLL(None, use_errno=True)
# Set by the fork server before it forks: the compiled init (``tinyinit``) to exec as PID 1,
# and a pidfd of the kernel process (opened outside every sandbox, where its pid is visible).
INIT_FD: int | None = None
KERNEL_FD: int | None = None
_JOIN_W: int | None = None  # a ready sandbox's runtime: tells its init which groups to join


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source.encode() if source else None, target.encode(),
                       fstype.encode() if fstype else None, flags, data.encode() if data else None),
           f"mount {target}")


def _prctl(option: int, value: int) -> None:
    _libc.prctl(option, value, 0, 0, 0)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def outlive_parent(parent: int, kernel: int) -> None:
    """Survive the fork server (``parent``), die with the kernel."""
    signal.signal(ORPHAN_SIGNAL, lambda *_: _watch_kernel(kernel))
    _prctl(PR_SET_PDEATHSIG, ORPHAN_SIGNAL)
    ppid = os.getppid()
    if ppid not in (parent, 0):  # 0: the parent is outside our PID namespace
        _watch_kernel(kernel)


def _watch_kernel(kernel: int) -> None:
    try:
        fd = os.pidfd_open(kernel)
    except OSError:
        os._exit(1)

    def watch() -> None:
        select.select([fd], [], [])
        os._exit(1)

    threading.Thread(target=watch, name="lambda-kernel-watch", daemon=True).start()


def _watch_kernel_fd(fd: int) -> None:
    """In a sandbox's init, where the kernel's pid is not visible: its pidfd, opened outside."""
    if fd < 0:
        os._exit(1)

    def watch() -> None:
        select.select([fd], [], [])
        os._exit(1)

    threading.Thread(target=watch, name="lambda-kernel-watch", daemon=True).start()


def subreaper() -> None:
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def fork_in_new_pid_namespace(own_ns: int) -> int:
    """In the fork server: fork a child that is PID 1 of a new PID namespace. ``own_ns``: a
    descriptor of the server's own namespace, where its later children go again."""
    _check(_libc.unshare(CLONE_NEWPID), "unshare pid")
    pid = -1
    try:
        pid = os.fork()
    finally:
        if pid != 0 and _libc.setns(own_ns, CLONE_NEWPID) != 0:
            os._exit(70)  # the server could no longer fork anything but new namespaces
    return pid


def enter(spec: dict, runtime_fds: list[int], status_w: int) -> dict:
    """In PID 1 of the environment's new PID namespace: build the rest of the sandbox, then
    fork the runtime. Returns only in the runtime (with the trace file's path inside); PID 1
    stays behind as the namespace's init and writes the runtime's wait status to ``status_w``."""
    try:
        _write("/proc/self/oom_score_adj", "-1000")  # the OOM killer picks the runtime, not its init
    except OSError:
        pass
    trace_fd = _build(spec)
    runtime = os.fork()
    if runtime:
        _init(runtime, status_w, runtime_fds + ([trace_fd] if trace_fd is not None else []))
    os.close(status_w)
    for fd in (INIT_FD, KERNEL_FD):  # the runtime keeps neither
        if fd is not None:
            os.close(fd)
    try:
        _write("/proc/self/oom_score_adj", "0")
    except OSError:
        pass
    _become_user(spec)
    return {"trace_file": f"/proc/self/fd/{trace_fd}" if trace_fd is not None else None}


def ready_init(status_w: int, close: list[int]) -> None:
    """In a ready sandbox's PID 1, made before any environment asks for it: fork the runtime-to-be
    (PID 2) and become the namespace's init at once. Returns only in PID 2, which waits for an
    environment's command and then calls ``enter_ready``. PID 1 stays outside the environment's
    groups and mount namespace: the compiled init opens no file."""
    global _JOIN_W
    os.setsid()  # PID 1 and the runtime share a process group, as the engine kills it
    join_r, join_w = os.pipe()
    runtime = os.fork()
    if runtime:
        os.close(join_w)
        _init(runtime, status_w, close, join_r)
    os.close(join_r)
    _JOIN_W = join_w
    os.close(status_w)
    for fd in (INIT_FD, KERNEL_FD):
        if fd is not None:
            os.close(fd)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with its init while it waits


def enter_ready(spec: dict) -> dict:
    """In a ready sandbox's PID 2, once it has its environment: the same sandbox as ``enter``
    builds, without a fork on the cold start's path."""
    trace_fd = _build(spec)
    _become_user(spec)
    return {"trace_file": f"/proc/self/fd/{trace_fd}" if trace_fd is not None else None}


def _build(spec: dict) -> int | None:
    """Join the environment's groups, open its trace file, make its mount namespace. Returns
    the trace file's descriptor."""
    global _JOIN_W
    if _JOIN_W is not None:  # a ready sandbox's init joins the same groups, itself (one write each)
        try:
            os.write(_JOIN_W, "\n".join(spec["cgroups"]).encode())
        finally:
            os.close(_JOIN_W)
            _JOIN_W = None
    for procs in spec["cgroups"]:
        _write(procs, "0")  # "0": the writing process (its only thread) itself
    trace_fd = None
    if spec.get("trace_file"):
        trace_fd = os.open(spec["trace_file"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    _check(_libc.unshare(CLONE_NEWNS), "unshare mount")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _bind_ro(spec["task_root"], "/var/task")
    if spec.get("opt"):  # the version's /opt (layers, extensions), read-only
        os.makedirs("/opt", 0o755, exist_ok=True)
        _bind_ro(spec["opt"], "/opt")
    _expose(spec.get("mounts", ()))
    covered = _open_covered(spec.get("keep", ()))  # before /tmp is covered by the environment's own
    _read_only_everywhere()
    _mount(spec["tmp"], "/tmp", None, MS_BIND)
    _mount(None, "/tmp", None, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV)  # writable again
    _uncover(covered)
    if os.path.isdir("/dev/shm"):
        _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    return trace_fd


def _become_user(spec: dict) -> None:
    """The runtime drops root: its own uid, seen inside as Lambda's (a user namespace)."""
    uid = spec["uid"]
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _prctl(PR_SET_DUMPABLE, 1)  # a uid change clears it; /proc/self/*_map need it
    try:
        _check(_libc.unshare(CLONE_NEWUSER), "unshare user")
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{LAMBDA_UID} {uid} 1")
        _write("/proc/self/gid_map", f"{LAMBDA_GID} {uid} 1")
    except OSError:
        pass  # still an unprivileged user of its own, only without Lambda's uid
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # also cleared by the uid change


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def keep_sys_admin_across_exec() -> None:
    """In the runtime, inside its user namespace: keep CAP_SYS_ADMIN (of that namespace only)
    through an exec, as the bundled runtime, which does not exec, keeps it. A SnapStart
    snapshot's platform part needs it to give each restored environment its own /tmp."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(header), data), "capget")
    data[0].inheritable |= 1 << CAP_SYS_ADMIN
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0), "ambient capability")


def _bind_ro(source: str, target: str) -> None:
    _mount(source, target, None, MS_BIND | MS_REC)
    _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _expose(mounts) -> None:
    """Directories the sandbox's user could not reach (the interpreter under /root, say):
    read-only at Lambda's place, and at their own path over an empty directory that
    hides the rest of the closed one above them."""
    covered = set()
    for host, inside, _ in mounts:
        _bind_ro(host, inside)
    for host, inside, closed in mounts:
        if closed not in covered:
            _mount("tmpfs", closed, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
            covered.add(closed)
        os.makedirs(host, 0o755, exist_ok=True)
        _bind_ro(inside, host)


class _Attr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _read_only_everywhere() -> None:
    """Every mount of the namespace read-only (and nosuid), as Lambda's filesystem is: one
    ``mount_setattr`` (Linux 5.12), else a remount of each mount point."""
    attr = _Attr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0)
    if _libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, b"/", AT_RECURSIVE, ctypes.byref(attr),
                     ctypes.sizeof(attr)) == 0:
        return
    keep = {"nodev": MS_NODEV, "noexec": MS_NOEXEC}
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split() for line in f]
    for fields in mounts:
        target = fields[4].replace("\\040", " ")
        flags = sum(keep.get(opt, 0) for opt in fields[5].split(","))
        _libc.mount(None, target.encode(), None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | flags, None)


def _open_covered(paths) -> list[tuple[str, int]]:
    """Handles on host directories (and files) that the environment's /tmp is about to cover (the
    kernel's virtualenv made under /tmp, say), to mount them again on top of it."""
    found = []
    for path in paths:
        try:
            found.append((path, os.open(path, os.O_PATH | os.O_CLOEXEC)))
        except OSError:
            pass
    return found


def _uncover(covered: list[tuple[str, int]]) -> None:
    for path, fd in covered:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.makedirs(path, 0o755, exist_ok=True)
        else:  # a file (an exec wrapper given by its path on the machine): a file to mount it on
            os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o444))
        _bind_ro(f"/proc/self/fd/{fd}", path)
        os.close(fd)


def _close_all(keep: list[int]) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    for fd in keep:
        try:
            os.close(fd)
        except OSError:
            pass


def _init(runtime: int, status_w: int, fds: list[int], join_r: int | None = None) -> None:
    """PID 1 of the namespace: reap orphans; when the runtime ends, report how and end (and
    with it, every process left in the namespace). The compiled init does it in about 0.1 MB
    instead of this forked interpreter's 1.4 MB; this loop is the fallback."""
    _close_all(fds)
    if INIT_FD is not None:
        kernel = KERNEL_FD if KERNEL_FD is not None else -1
        try:
            os.set_inheritable(status_w, True)
            if kernel >= 0:
                os.set_inheritable(kernel, True)
            if join_r is not None:
                os.set_inheritable(join_r, True)
            signal.signal(ORPHAN_SIGNAL, signal.SIG_IGN)  # the init watches the kernel's pidfd instead
            os.execve(INIT_FD, ["lambda-init", str(runtime), str(status_w), str(kernel),
                                str(join_r if join_r is not None else -1)], {})
        except OSError:
            signal.signal(ORPHAN_SIGNAL, lambda *_: _watch_kernel_fd(kernel))
    if join_r is not None:  # the Python init: join the environment's groups as the compiled one does
        data = b""
        while True:
            try:
                chunk = os.read(join_r, 8192)
            except InterruptedError:
                continue
            if not chunk:
                break
            data += chunk
        os.close(join_r)
        for path in filter(None, data.decode().split("\n")):
            try:
                _write(path, "0")
            except OSError:
                pass
        try:
            _write("/proc/self/oom_score_adj", "-1000")
        except OSError:
            pass
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
        if pid == runtime:
            os.write(status_w, status.to_bytes(4, sys.byteorder, signed=True))
            os._exit(0)
