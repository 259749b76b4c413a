"""A tiny C program as PID 1 of a sandbox, instead of a Python process (stdlib only).

PID 1 of an environment's PID namespace only reaps orphans and reports how the runtime
ended. As a forked Python process it held about 1.4 MB of private memory per idle
environment; this program holds about 0.1 MB. It is compiled at first use with the
system's C compiler into ``~/.cache/lambda-widget/bin`` (one file per source version,
shared by every manager of the machine); with no compiler the Python init stays
(``lambda_widget.runtime.sandbox``).

Usage (by ``sandbox``, through ``fexecve``): ``lambda-init RUNTIME_PID STATUS_FD
KERNEL_PIDFD [JOIN_FD]``. With JOIN_FD it first reads the environment's cgroup files (one a
line, until end of file) from its runtime and joins each by writing ``0`` (itself). It writes the runtime's wait status (4 bytes, native order) to STATUS_FD
when the runtime ends, and exits; it exits at once if the kernel process ends (its pidfd,
-1 for none, becomes readable) or if it has no child left.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile

SOURCE = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    pid_t runtime = (pid_t)atoi(argv[1]);
    int status_w = atoi(argv[2]);
    int kernel = atoi(argv[3]);
    int join = argc > 4 ? atoi(argv[4]) : -1;
    int adj = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (adj >= 0) {
        ssize_t w = write(adj, "-1000", 5);  /* the OOM killer picks the runtime, not its init */
        (void)w;
        close(adj);
    }
    if (join >= 0) {  /* the environment's groups, from its runtime: join each ("0": itself) */
        char buf[8192];
        size_t len = 0;
        for (;;) {
            ssize_t r = read(join, buf + len, sizeof buf - 1 - len);
            if (r > 0) { len += (size_t)r; if (len < sizeof buf - 1) continue; }
            if (r < 0 && errno == EINTR) continue;
            break;
        }
        close(join);
        buf[len] = 0;
        for (char *line = buf, *next; line && *line; line = next) {
            next = strchr(line, '\n');
            if (next) *next++ = 0;
            int fd = open(line, O_WRONLY | O_CLOEXEC);
            if (fd >= 0) {
                ssize_t w = write(fd, "0", 1);
                (void)w;
                close(fd);
            }
        }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) return 3;
    for (;;) {
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid == runtime) {
                ssize_t n = write(status_w, &status, sizeof status);
                (void)n;
                _exit(0);
            }
        }
        if (pid < 0 && errno == ECHILD) _exit(1);
        struct pollfd fds[2] = {{sfd, POLLIN, 0}, {kernel, POLLIN, 0}};
        int n = poll(fds, kernel >= 0 ? 2 : 1, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            _exit(1);
        }
        if (kernel >= 0 && fds[1].revents) _exit(1);
        if (fds[0].revents) {
            struct signalfd_siginfo info;
            ssize_t r = read(sfd, &info, sizeof info);
            (void)r;
        }
    }
}
"""

# Linked against the shared libc: alone it holds about 0.1 MB (its text is libc's, shared with
# every process); a static build holds 0.7 MB of text until a second init shares it.
FLAGS = ["-Os", "-s"]
NAME = "lambda-init-" + hashlib.sha256((SOURCE + " ".join(FLAGS)).encode()).hexdigest()[:12]


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lambda-widget", "bin")


def build(directory: str | None = None) -> str | None:
    """The compiled init's path (compiled now if it is not there yet), or None if this machine
    has no C compiler or the build fails. Safe against other managers building it at once."""
    directory = directory or cache_dir()
    path = os.path.join(directory, NAME)
    if os.access(path, os.X_OK):
        return path
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        return None
    try:
        os.makedirs(directory, 0o755, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            src = os.path.join(tmp, "init.c")
            with open(src, "w") as f:
                f.write(SOURCE)
            out = os.path.join(tmp, NAME)
            done = subprocess.run([cc, *FLAGS, "-o", out, src], capture_output=True, timeout=60,
                                  env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
            if done.returncode != 0:
                return None
            os.chmod(out, 0o755)
            os.replace(out, path)  # atomic: a concurrent build replaces it with the same bytes
    except (OSError, subprocess.SubprocessError):
        return None
    return path


def open_init(sandboxed: bool) -> int | None:
    """A descriptor of the compiled init for ``fexecve`` (it stays usable inside a sandbox's
    mount namespace, where the cache directory may be hidden), or None for the Python init."""
    if not sandboxed or os.environ.get("LAMBDA_WIDGET_PYTHON_INIT"):  # forces the fallback
        return None
    path = build()
    if path is None:
        return None
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
