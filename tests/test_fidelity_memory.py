"""Memory: ``memory_mb`` is enforced on the environment, and Max Memory Used is the measured peak."""

from __future__ import annotations

import psutil
import pytest
from conftest import env_of, report_fields, wait_for

# Every test here runs in both isolation modes: the sandbox (namespaces and cgroups)
# and the portable fallback.
pytestmark = pytest.mark.usefixtures("isolation")

# Keeps every block it allocates, so the process's peak grows with each call.
HOARDER_SOURCE = """
blocks = []


def lambda_handler(event, context):
    mb = event.get("mb", 0)
    if mb:
        blocks.append(b"x" * (mb << 20))
    return len(blocks)
"""

# Allocates in a child process, which belongs to the sandbox as much as the handler does.
CHILD_HOG_SOURCE = """
import subprocess
import sys


def lambda_handler(event, context):
    code = "import time; block = b'x' * (%d << 20); time.sleep(3)" % event["mb"]
    return subprocess.run([sys.executable, "-c", code]).returncode
"""


@pytest.mark.parametrize("runtime", ["bundled", "awslambdaric"])
def test_over_memory_size_is_out_of_memory_and_the_next_invocation_reinitialises(mgr, runtime):
    mgr.register("hog", HOARDER_SOURCE, memory_mb=128, runtime=runtime, trace=False, timeout=30)
    first = mgr.invoke("hog", {"mb": 1})
    assert first.result == 1
    process = psutil.Process(env_of(mgr, first).pid)

    inv = mgr.invoke("hog", {"mb": 300})

    rid = inv.request_id
    assert inv.status == "out-of-memory"
    assert inv.error == {"errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed",
                         "errorType": "Runtime.OutOfMemory"}
    assert inv.result is None
    fields = report_fields(inv)
    assert fields["Status"] == "error"
    assert fields["Error Type"] == "Runtime.OutOfMemory"
    assert fields["Memory Size"] == fields["Max Memory Used"] == "128 MB"
    assert inv.max_memory_used_mb == inv.memory_size_mb == 128
    assert wait_for(lambda: not process.is_running(), timeout=5)

    after = mgr.invoke("hog", {})
    assert after.status == "succeeded"
    assert after.result == 0  # module globals were reset: a new init ran
    assert (after.cold, after.cold_reason) == (True, "reset-after-crash")
    assert after.container_id == first.container_id


def test_max_memory_used_is_the_measured_peak(mgr):
    mgr.register("peak", HOARDER_SOURCE, memory_mb=512, trace=False, timeout=30)
    used = []
    for mb in (0, 50, 100):
        inv = mgr.invoke("peak", {"mb": mb})
        assert inv.status == "succeeded"
        assert report_fields(inv)["Max Memory Used"] == f"{inv.max_memory_used_mb} MB"
        used.append(inv.max_memory_used_mb)
    assert 0 < used[0] < 128  # an idle interpreter, not the memory size
    assert used[1] >= used[0] + 45
    assert used[2] >= used[1] + 90
    assert used[2] < 512


def test_memory_of_the_environments_child_processes_counts(mgr):
    mgr.register("child-hog", CHILD_HOG_SOURCE, memory_mb=128, trace=False, timeout=30)

    inv = mgr.invoke("child-hog", {"mb": 300})

    assert inv.status == "out-of-memory", (inv.status, inv.result, inv.max_memory_used_mb)
    assert inv.error["errorType"] == "Runtime.OutOfMemory"


def test_out_of_memory_is_contained_and_the_manager_keeps_working(mgr):
    mgr.register("hog-a", HOARDER_SOURCE, memory_mb=128, trace=False, timeout=30)
    mgr.register("calm", "def lambda_handler(event, context):\n    return 'fine'\n")
    assert mgr.invoke("hog-a", {"mb": 400}).status == "out-of-memory"
    assert mgr.invoke("calm", {}).result == "fine"
