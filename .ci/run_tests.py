"""Run the test suite as a few pytest processes at once, and say what each group cost.

    python .ci/run_tests.py [pytest options...]      # what .ci/run does; options go to every group

The suite is the README's `python -m pytest`, split into groups that run side by side: the browser
tests mostly wait on JupyterLab's kernels and Chromium, the Binder group on pip and its lesson kernels,
and the rest keep the CPUs busy meanwhile. Each group is one pytest process with its own log and
JUnit report in .ci/artifacts/tests/. At the end a table gives each group's wall time and CPU seconds
(everything its process tree used: kernels, environments, Chromium), the load average, and one line
`N passed, N failed` for the whole run.

A new test module lands in the `engine` group by itself, a new lesson in `binder` (nbval) and in
`browser` (its one run in JupyterLab). The groups are balanced so that they end together (the wall
time is then about the CPU total over the CPUs): if one group grows too long, move a module to a
shorter one (add its path there and `--ignore` it in `engine`), and keep tests/conftest.py's
LONGEST_MODULES (the engine group's longest modules, started first) up to date.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".ci" / "artifacts" / "tests"


@dataclass
class Group:
    name: str
    args: list[str]
    what: str
    pid: int = 0
    started: float = 0.0
    wall: float = 0.0
    cpu: float = 0.0
    code: int | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def log(self) -> Path:
        return OUT / f"{self.name}.log"

    @property
    def junit(self) -> Path:
        return OUT / f"{self.name}.xml"


GROUPS = [
    Group("browser", ["tests/ui"],
          "JupyterLab and Notebook 7 in Chromium: every lesson once, views, themes, export"),
    # The soak test runs in this process too (first: tests/conftest.py starts the longest modules
    # first), alone (its bounds are the kernel's descriptors, threads and memory), and the engine
    # group is shorter by it.
    Group("binder", ["tests/test_binder.py", "tests/test_fidelity_soak.py"],
          "the soak test; a venv from binder/requirements.txt, then every lesson under nbval in it"),
    # Two workers (pytest-xdist), a test module each at a time: these tests mostly wait on processes.
    # The longest modules first (tests/conftest.py, LONGEST_MODULES), in that order: no reordering.
    Group("engine", ["tests", "--ignore=tests/ui", "--ignore=tests/test_binder.py",
                     "--ignore=tests/test_fidelity_soak.py", "-n", "2", "--dist", "loadfile",
                     "--no-loadscope-reorder"],
          "everything else, on two workers: engine, front, traffic, views, magics"),
]


def start(group: Group, extra: list[str]) -> None:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE",
           f"--junitxml={group.junit}", *group.args, *extra]
    group.started = time.monotonic()
    with open(group.log, "w") as log:
        log.write(" ".join(cmd) + "\n")
        log.flush()
        group.pid = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL).pid


def counts(junit: Path) -> dict[str, int]:
    """passed / failed / skipped, from a JUnit report (errors count as failed)."""
    try:
        suites = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        return {}
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites.iter("testsuite"):
        for key in total:
            total[key] += int(suite.get(key, 0))
    failed = total["failures"] + total["errors"]
    return {"passed": total["tests"] - failed - total["skipped"], "failed": failed, "skipped": total["skipped"]}


def main(extra: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    for group in GROUPS:
        start(group, extra)
        print(f"started {group.name:<8} {' '.join(group.args)}  ({group.what})", flush=True)
    running = {g.pid: g for g in GROUPS}
    while running:
        pid, status, usage = os.wait4(-1, 0)
        group = running.pop(pid, None)
        if group is None:
            continue
        group.wall = time.monotonic() - group.started
        group.cpu = usage.ru_utime + usage.ru_stime
        group.code = os.waitstatus_to_exitcode(status)
        group.counts = counts(group.junit)
        print(f"finished {group.name:<8} in {group.wall:5.0f} s, {group.cpu:5.0f} CPU-s: "
              f"{group.counts or 'no report'} (exit {group.code})", flush=True)
        if group.code != 0:
            text = group.log.read_text(errors="replace")
            cut = text.find("= FAILURES =")
            print(text[cut if cut >= 0 else -20_000:][-20_000:], flush=True)
    wall = time.monotonic() - began
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{'group':<8} {'wall s':>7} {'CPU s':>7}  tests")
    for g in GROUPS:
        print(f"{g.name:<8} {g.wall:7.0f} {g.cpu:7.0f}  {g.counts}")
    print(f"{'all':<8} {wall:7.0f} {sum(g.cpu for g in GROUPS):7.0f}  load average {load}")
    passed = sum(g.counts.get("passed", 0) for g in GROUPS)
    failed = sum(g.counts.get("failed", 0) for g in GROUPS)
    skipped = sum(g.counts.get("skipped", 0) for g in GROUPS)
    broken = [g.name for g in GROUPS if g.code != 0]
    if broken and not failed:
        failed = len(broken)  # a group that crashed or ran nothing counts as a failure
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if broken or failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
