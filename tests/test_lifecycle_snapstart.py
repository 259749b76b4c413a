"""SnapStart: Init once at publish, restores after, in both isolation modes and both runtimes."""

from __future__ import annotations

import math
import re

import pytest
from conftest import report_fields

import lambda_widget as lw
from lambda_widget.engine import snapstart

# Every hook appends its name; the module's globals are made once, at publish.
HOOKS_SOURCE = """import os, random, tempfile, time, uuid
from snapshot_restore_py import register_after_restore, register_before_snapshot

print('module init runs')
ORDER = []
START_ID = str(uuid.uuid4())
random.seed()  # seeded at import: every restore continues the same sequence
LUCKY = random.random()
INIT_PID = os.getpid()


@register_before_snapshot
def first_before():
    ORDER.append('before-1')


@register_before_snapshot
def second_before():
    ORDER.append('before-2')


def after(tag, suffix=''):
    ORDER.append(tag + suffix)


register_after_restore(after, 'after-1')
register_after_restore(after, 'after-2', suffix='!')


def lambda_handler(event, context):
    tmp = tempfile.gettempdir()  # /tmp (the fallback: the environment's own $TMPDIR)
    with open(os.path.join(tmp, 'mine'), 'a') as f:
        f.write(context.aws_request_id)
    return {'order': list(ORDER), 'start_id': START_ID, 'lucky': LUCKY, 'pid': os.getpid(),
            'stream': os.environ.get('AWS_LAMBDA_LOG_STREAM_NAME', 'unset'),
            'init_type': os.environ['AWS_LAMBDA_INITIALIZATION_TYPE'],
            'urandom': os.urandom(8).hex(), 'tmp': sorted(os.listdir(tmp)), 'draw': random.random()}
"""

EXPECTED_ORDER = ["before-2", "before-1", "after-1", "after-2!"]


@pytest.fixture(params=["bundled", "awslambdaric"])
def runtime(request) -> str:
    return request.param


def publish(mgr, source=HOOKS_SOURCE, name="snap", **options):
    """Register ``source`` with SnapStart and publish it: the published version (its snapshot taken)."""
    mgr.register(name, source, snap_start=True, idle_timeout=600, **options)
    return mgr.publish(name)


def test_restored_environments_share_what_init_made(isolation, runtime):
    with lw.ContainerManager(seed=1) as mgr:
        fn = publish(mgr, runtime=runtime, trace=False)
        assert fn.snapshot["state"] == "ready"
        assert "module init runs" in fn.snapshot["logs"]  # Init ran once, at publish
        assert fn.snapshot["logs"][0].startswith("INIT_START ")
        first, second = [f.result() for f in [mgr.submit("snap", {}, qualifier=fn.version) for _ in range(2)]]
        assert first.status == second.status == "succeeded", (first.error, second.error)
        assert first.container_id != second.container_id
        for inv in (first, second):
            assert inv.cold and inv.restored
            assert "module init runs" not in inv.logs  # the module did not run again
            assert inv.result["order"] == EXPECTED_ORDER  # hooks in the documented orders
            assert inv.result["tmp"] == ["mine"]  # its own /tmp
            assert inv.result["init_type"] == "snap-start"
            assert inv.result["stream"] == "unset"  # AWS: not available in SnapStart functions
            assert [s.action for s in inv.steps[:2]] == ["Event triggers Lambda", "Restore snapshot"]
        # The uniqueness pitfall: what Init made is the same in every restored environment...
        assert first.result["start_id"] == second.result["start_id"]
        assert first.result["lucky"] == second.result["lucky"]
        assert first.result["draw"] == second.result["draw"]  # the generator's state too (a fork reseeds it)
        # ...but the kernel's randomness is not.
        assert first.result["urandom"] != second.result["urandom"]
        warm = mgr.invoke("snap", {}, qualifier=fn.version)
        assert not warm.cold and warm.result["order"] == EXPECTED_ORDER  # hooks ran once per restore
        if isolation == "namespaces" and runtime == "bundled":
            assert first.result["pid"] == 1  # its own PID namespace


def test_restore_log_lines_and_report_fields(isolation):
    with lw.ContainerManager(seed=1) as mgr:
        fn = publish(mgr)
        inv = mgr.invoke("snap", {}, qualifier=fn.version)
        assert inv.logs[0].startswith("RESTORE_START Runtime Version: ")
        assert "\tRuntime Version ARN: " in inv.logs[0]
        restore = next(line for line in inv.logs if line.startswith("RESTORE_REPORT"))
        assert re.fullmatch(r"RESTORE_REPORT Restore Duration: \d+\.\d\d ms", restore)
        assert not any(line.startswith("INIT_START") for line in inv.logs)
        fields = report_fields(inv)
        assert list(fields) == ["RequestId", "Duration", "Billed Duration", "Memory Size", "Max Memory Used",
                                "Restore Duration", "Billed Restore Duration"]
        assert "Init Duration" not in fields
        duration = float(fields["Duration"].removesuffix(" ms"))
        billed_restore = int(fields["Billed Restore Duration"].removesuffix(" ms"))
        assert fields["Restore Duration"] == f"{inv.restore_duration_ms:.2f} ms"
        # Billed Duration = ceil(Duration + Billed Restore Duration), as AWS bills a restore.
        assert int(fields["Billed Duration"].removesuffix(" ms")) == math.ceil(round(duration + billed_restore, 2))
        assert billed_restore <= math.ceil(inv.restore_duration_ms)
        data = inv.to_dict()
        assert data["restored"] and data["billed_restore_duration_ms"] == billed_restore


def test_a_before_snapshot_hook_error_fails_the_publish(isolation, runtime):
    source = ("from snapshot_restore_py import register_before_snapshot\n\n"
              "@register_before_snapshot\ndef boom():\n    raise ValueError('no snapshot today')\n\n"
              "def lambda_handler(event, context):\n    return 1\n")
    with lw.ContainerManager(seed=1) as mgr:
        fn = publish(mgr, source, runtime=runtime)
        assert fn.snapshot["state"] == "failed"
        assert fn.snapshot["error"]["errorType"] == "Runtime.BeforeSnapshotError"
        assert fn.snapshot["error"]["errorMessage"] == "no snapshot today"
        assert "Error Type: Runtime.BeforeSnapshotError" in fn.snapshot["logs"][-1]
        inv = mgr.invoke("snap", {}, qualifier=fn.version)  # the version failed to publish: it cannot run
        assert inv.status == "failed" and inv.error["errorType"] == "Runtime.BeforeSnapshotError"
        assert "SnapStart snapshot failed" in inv.logs[0] and not mgr.containers


def test_an_after_restore_hook_error_fails_the_restore(isolation, runtime):
    source = ("from snapshot_restore_py import register_after_restore\n\n"
              "@register_after_restore\ndef boom():\n    raise RuntimeError('reconnect failed')\n\n"
              "def lambda_handler(event, context):\n    return 1\n")
    with lw.ContainerManager(seed=1) as mgr:
        fn = publish(mgr, source, runtime=runtime)
        inv = mgr.invoke("snap", {}, qualifier=fn.version)
        assert inv.status == "failed" and inv.restored
        assert inv.error["errorType"] == "Runtime.AfterRestoreError"
        restore = next(line for line in inv.logs if line.startswith("RESTORE_REPORT"))
        assert restore.endswith("\tStatus: error\tError Type: Runtime.AfterRestoreError")
        assert report_fields(inv)["Error Type"] == "Runtime.AfterRestoreError"
        assert inv.steps[1].container_state == "Restore failed"


def test_restore_beyond_its_limit_is_a_snapstart_timeout(isolation, monkeypatch):
    monkeypatch.setattr(snapstart, "RESTORE_LIMIT", 1.0)  # Lambda's is 10 s
    source = ("import time\nfrom snapshot_restore_py import register_after_restore\n\n"
              "register_after_restore(time.sleep, 30)\n\n"
              "def lambda_handler(event, context):\n    return 1\n")
    with lw.ContainerManager(seed=1) as mgr:
        fn = publish(mgr, source)
        inv = mgr.invoke("snap", {}, qualifier=fn.version)
        assert inv.error["errorType"] == "SnapStartTimeoutException"
        assert report_fields(inv)["Error Type"] == "SnapStartTimeoutException"


def test_snap_start_configuration_is_checked(isolation, tmp_path):
    with lw.ContainerManager(seed=1) as mgr:
        with pytest.raises(lw.InvalidParameterValueException, match="provisioned concurrency"):
            mgr.register("x", "def lambda_handler(e, c):\n    return 1\n", snap_start=True,
                         provisioned_concurrency=1)
        with pytest.raises(lw.InvalidParameterValueException, match="True or False"):
            mgr.register("x", "def lambda_handler(e, c):\n    return 1\n", snap_start="yes")


def test_latest_initialises_and_a_deleted_version_takes_its_snapshot_along(isolation):
    with lw.ContainerManager(seed=1) as mgr:
        one = publish(mgr)
        latest = mgr.invoke("snap", {})  # SnapStart applies to published versions only
        assert latest.cold and not latest.restored and latest.init_duration_ms is not None
        assert latest.result["order"] == []  # no snapshot, no hooks
        old = mgr._snapshots[one.key]
        mgr.invoke("snap", {}, qualifier="1")
        mgr.register("snap", HOOKS_SOURCE.replace("'before-1'", "'before-one'"), snap_start=True)
        two = mgr.publish("snap")
        assert two.version == "2" and set(mgr._snapshots) == {one.key, two.key}  # side by side
        mgr.delete_function("snap", qualifier="1")  # its idle environment ends, and then its snapshot
        assert one.key not in mgr._snapshots
        assert old.env.proc.wait(timeout=10) is not None
        assert mgr.invoke("snap", {}, qualifier="2").result["order"] == ["before-2", "before-one", "after-1",
                                                                          "after-2!"]


def test_a_snapshot_killed_from_outside_is_replaced_by_an_ordinary_init(isolation):
    with lw.ContainerManager(seed=1) as mgr:
        fn = publish(mgr)
        snap = mgr._snapshots[fn.key]
        snap.thaw()
        snap.env.kill()
        inv = mgr.invoke("snap", {}, qualifier=fn.version)
        assert inv.status == "succeeded" and not inv.restored
        assert fn.snapshot["state"] == "lost"
        assert fn.key not in mgr._snapshots
