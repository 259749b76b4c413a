"""Issue 11, item 14: a manager leaves nothing behind, even when its process is killed.

Start-up sweeps the directories whose owner is gone; a sentinel process removes the
directory of a kernel killed with SIGKILL, and kills its environments' process groups.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from test_fidelity_helpers import kill_kernel_and_check

import lambda_widget as lw
from lambda_widget.engine import leftovers


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_start_up_sweeps_directories_whose_owner_is_gone(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stale = tmp_path / f"lambda-widget-{_dead_pid()}_abc"
    (stale / "functions").mkdir(parents=True)
    (stale / "owner").write_text(f"{_dead_pid()} 12345\n")
    reused = tmp_path / f"lambda-widget-{os.getpid()}_reused"
    reused.mkdir()
    (reused / "owner").write_text(f"{os.getpid()} 1\n")  # our pid, but another process's start time
    mine = tmp_path / f"lambda-widget-{os.getpid()}_live"
    mine.mkdir()
    (mine / "owner").write_text(f"{os.getpid()} {leftovers._start_time(os.getpid())}\n")  # noqa: SLF001
    unknown = tmp_path / "lambda-widget-legacy"
    unknown.mkdir()  # no owner recorded: not ours to judge

    with lw.ContainerManager() as mgr:
        assert Path(mgr._root).parent == tmp_path  # noqa: SLF001
        assert not stale.exists() and not reused.exists()
        assert mine.exists() and unknown.exists()
    assert not Path(mgr._root).exists()  # noqa: SLF001


def test_shutdown_leaves_no_directory_and_no_sentinel():
    with lw.ContainerManager() as mgr:
        mgr.register("plain", "def lambda_handler(event, context):\n    return 1\n")
        mgr.invoke("plain", {})
        root, sentinel = Path(mgr._root), mgr._sentinel.proc  # noqa: SLF001
        assert sentinel.poll() is None
    assert not root.exists()
    assert sentinel.poll() is not None  # reaped, no zombie left


KERNEL = r"""
import json, sys
import lambda_widget as lw

mgr = lw.ContainerManager(isolation="process")  # the child's pid as the kernel sees it
mgr.register("child", '''import subprocess, time

def lambda_handler(event, context):
    return subprocess.Popen(["sleep", "300"]).pid
''')
mgr.register("plain", "def lambda_handler(event, context):\n    return 1\n")
child = mgr.invoke("child", {}).result
mgr.invoke("plain", {})
busy = mgr.submit("plain", {})
busy.result()
pids = [e.pid for e in mgr.containers] + [child, mgr._zygote.proc.pid]
print(json.dumps({"root": str(mgr._root), "pids": pids}), flush=True)
sys.stdin.read()
"""


def test_a_kernel_killed_with_sigkill_leaves_no_directory_and_no_process():
    kill_kernel_and_check(KERNEL)
