"""The holes of issue 17, part 1: one sandbox for everything that runs handler code.

Each test names the hole it closes. Where a promise holds in both isolation modes the test
runs in both (the ``isolation`` fixture); what only the sandbox can promise (a read-only
filesystem, invisible host processes) is tested where it is available.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import env_of
from test_fidelity_helpers import Containment

import lambda_widget as lw
from lambda_widget.engine.isolation import namespaces_unavailable

needs_sandbox = pytest.mark.skipif(namespaces_unavailable() is not None,
                                   reason=f"no sandbox here: {namespaces_unavailable()}")

# What a hostile handler tries: host processes, the kernel, /root, its own code.
PROBE_SOURCE = """
import os
import signal


def lambda_handler(event, context):
    out = {"uid": os.getuid(), "pid": os.getpid(),
           "procs": len([p for p in os.listdir("/proc") if p.isdigit()])}
    try:
        os.kill(event["kernel"], 0)
        out["kernel"] = "visible"
    except ProcessLookupError:
        out["kernel"] = "invisible"
    except PermissionError:
        out["kernel"] = "not permitted"
    try:
        out["root_dir"] = sorted(os.listdir("/root"))
    except OSError as exc:
        out["root_dir"] = type(exc).__name__
    try:
        with open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "lambda_function.py"), "a") as f:
            f.write("# changed")
        out["task_root"] = "writable"
    except OSError as exc:
        out["task_root"] = type(exc).__name__
    return out
"""


@needs_sandbox
@pytest.mark.parametrize("runtime", ["bundled", "awslambdaric"])
def test_every_runtime_runs_in_the_sandbox(monkeypatch, runtime):
    """Hole: awslambdaric ran as uid 0 with no namespaces while the manager said ``namespaces``."""
    monkeypatch.setenv("LAMBDA_WIDGET_ISOLATION", "namespaces")
    with Containment(seed=1) as box:
        mgr = box.mgr
        mgr.register("probe", PROBE_SOURCE, runtime=runtime)
        inv = mgr.invoke("probe", {"kernel": os.getpid()})
        assert inv.status == "succeeded", (inv.error, inv.logs)
        seen = inv.result
        assert env_of(mgr, inv).to_dict()["isolation"] == "namespaces"
        assert seen["uid"] == 993, seen  # sbx_user1051, not root
        assert seen["kernel"] == "invisible"
        assert seen["procs"] <= 3, seen  # init, the runtime (and perhaps its platform part)
        assert seen["root_dir"] in ("PermissionError", "FileNotFoundError") or \
            set(seen["root_dir"]) <= _exposed_under_root(), seen["root_dir"]  # only the path to Python
        assert seen["task_root"] in ("OSError", "PermissionError")


def _exposed_under_root() -> set[str]:
    """What /root may show inside: the first step towards the Python installation, if it lives there."""
    from lambda_widget.engine.environment import PACKAGE_PARENT

    return {Path(p).relative_to("/root").parts[0] for p in (sys.base_prefix, PACKAGE_PARENT)
            if Path(p).is_relative_to("/root")}


EXEC_WRAPPER = "#!/bin/sh\nexec \"$@\"\n"


@needs_sandbox
def test_a_runtime_started_through_an_exec_wrapper_is_sandboxed_too(monkeypatch, tmp_path):
    monkeypatch.setenv("LAMBDA_WIDGET_ISOLATION", "namespaces")
    code = tmp_path / "code"
    code.mkdir()
    (code / "lambda_function.py").write_text(PROBE_SOURCE)
    (code / "wrapper.sh").write_text(EXEC_WRAPPER)
    (code / "wrapper.sh").chmod(0o755)
    with Containment(seed=1) as box:
        mgr = box.mgr
        mgr.register("probe", path=str(code), handler="lambda_function.lambda_handler", env={"AWS_LAMBDA_EXEC_WRAPPER": "wrapper.sh"})
        inv = mgr.invoke("probe", {"kernel": os.getpid()})
        assert inv.status == "succeeded", (inv.error, inv.logs)
        assert env_of(mgr, inv).to_dict()["isolation"] == "namespaces"
        assert inv.result["uid"] == 993 and inv.result["kernel"] == "invisible"


@pytest.mark.parametrize("runtime", ["bundled", "awslambdaric"])
def test_each_environment_reports_the_isolation_it_has(isolation, runtime):
    with Containment(seed=1) as box:
        mgr = box.mgr
        mgr.register("probe", PROBE_SOURCE, runtime=runtime)
        inv = mgr.invoke("probe", {"kernel": os.getpid()})
        assert inv.status == "succeeded", (inv.error, inv.logs)
        env = env_of(mgr, inv).to_dict()
        assert env["isolation"] == mgr.isolation == isolation
        if isolation == "process":
            assert inv.result["kernel"] == "visible"  # what the fallback cannot hide, and says so


# Tries to leave a file in every place a process might write; returns where it could.
WRITER_SOURCE = """
import os


def lambda_handler(event, context):
    wrote = []
    for place in event["places"]:
        path = os.path.join(place, event["name"])
        try:
            with open(path, "w") as f:
                f.write("left behind")
            wrote.append(place)
        except OSError:
            pass
    return wrote
"""

PLACES = ["/tmp", "/var/tmp", "/run/lock", "/dev/shm", "/dev/mqueue", "/run", "/var/lock", "/etc", "/",
          "/var/task", "/opt", "/home", "/usr/local"]


@needs_sandbox
@pytest.mark.parametrize("runtime", ["bundled", "awslambdaric"])
def test_the_filesystem_is_read_only_except_the_environments_tmp(monkeypatch, runtime):
    """Hole: a handler wrote /var/tmp/... and /run/lock/... on the host, and they outlived shutdown()."""
    monkeypatch.setenv("LAMBDA_WIDGET_ISOLATION", "namespaces")
    name = f"lambda-widget-hole-{uuid.uuid4().hex}"
    places = [p for p in PLACES if os.path.isdir(p)]
    with Containment(seed=1) as box:
        mgr = box.mgr
        mgr.register("writer", WRITER_SOURCE, runtime=runtime)
        inv = mgr.invoke("writer", {"places": places, "name": name})
        assert inv.status == "succeeded", (inv.error, inv.logs)
        # /tmp is the environment's own; /dev/shm a tmpfs of its own, gone with it.
        assert set(inv.result) <= {"/tmp", "/dev/shm"}, inv.result
        assert "/tmp" in inv.result
    left = [p for p in places if os.path.lexists(os.path.join(p, name))]
    assert left == [], f"files outlived shutdown(): {left}"


# Imports a module that only the kernel's (virtual) environment has.
VENV_PROBE_SOURCE = """
import os
import sys



def lambda_handler(event, context):
    import holes_probe_module  # at the invocation: after a SnapStart restore too

    return {"value": holes_probe_module.VALUE, "executable": sys.executable,
            "exists": os.path.exists(sys.executable)}
"""

KERNEL_SCRIPT = """
import json, sys
import lambda_widget as lw

with lw.ContainerManager(seed=1) as mgr:
    snap = sys.argv[3] == "snapstart"
    mgr.register("probe", sys.argv[1], runtime=sys.argv[2], snap_start=snap, idle_timeout=600)
    qualifier = mgr.publish("probe").version if snap else None
    inv = mgr.invoke("probe", {}, qualifier=qualifier)
    assert inv.restored == snap
    env = next(e for e in mgr.all_containers if e.id == inv.container_id)
    print(json.dumps({"status": inv.status, "result": inv.result, "error": inv.error,
                      "logs": inv.logs, "isolation": env.to_dict()["isolation"]}))
"""


@pytest.mark.slow
@pytest.mark.parametrize(("runtime", "start"), [("bundled", "init"), ("awslambdaric", "init"),
                                                ("bundled", "snapstart")])
def test_a_python_environment_under_tmp_is_visible_inside(isolation, runtime, start):
    """Hole: with the kernel's virtualenv under /tmp, sandboxed handlers could import nothing from
    it, and ``sys.executable`` did not exist inside."""
    venv = Path("/tmp") / f"lambda-widget-venv-{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages",
                        "--symlinks", str(venv)], check=True, capture_output=True)
        site = next(venv.glob("lib/python3*/site-packages"))
        (site / "holes_probe_module.py").write_text("VALUE = 'from the venv under /tmp'\n")
        # This test's own environment (lambda_widget and its dependencies) beneath it.
        ours = [p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)]
        (site / "zz_ours.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in ours))
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        done = subprocess.run([str(venv / "bin" / "python"), "-c", KERNEL_SCRIPT, VENV_PROBE_SOURCE, runtime, start],
                              capture_output=True, text=True, env=env, cwd="/", timeout=120)
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert out["status"] == "succeeded", (out["error"], out["logs"])
        assert out["isolation"] == isolation
        assert out["result"]["value"] == "from the venv under /tmp"
        assert out["result"]["executable"].startswith(str(venv)) and out["result"]["exists"]
    finally:
        subprocess.run(["rm", "-rf", str(venv)], check=False)


# Rewrites its own code, and every app.py below event["root"] (the manager's directory).
PACKAGE_TAMPER_SOURCE = """
import glob
import os


def lambda_handler(event, context):
    written = []
    paths = [os.path.join(os.environ["LAMBDA_TASK_ROOT"], "app.py")]
    if event.get("root"):
        paths += glob.glob(os.path.join(event["root"], "**", "app.py"), recursive=True)
    for path in paths:
        try:
            os.chmod(path, 0o644)
            with open(path, "w") as f:
                f.write("def handler(event, context):\\n    return 'PWNED'\\n")
            written.append(path)
        except OSError:
            pass
    return written
"""


def _package(tmp_path: Path, name: str, source: str) -> str:
    code = tmp_path / name
    code.mkdir()
    (code / "app.py").write_text(source)
    (code / "helper.txt").write_text("data\n")
    return str(code)


def _fresh_environment(mgr: lw.ContainerManager, name: str) -> lw.Invocation:
    """An invocation that starts a new environment of ``name`` (the idle ones are reaped first)."""
    mgr.advance(24 * 3600)
    inv = mgr.invoke(name, {})
    assert inv.cold, "expected a new environment"
    return inv


@pytest.mark.parametrize("kind", ["path", "zip", "large"])
def test_a_handler_cannot_change_its_own_package_for_later_environments(isolation, tmp_path, kind, monkeypatch):
    """Hole: in the fallback, a handler that rewrote its own app.py changed every later environment.
    ``large``: a package over the in-memory budget, copied from its task root instead."""
    code = _package(tmp_path, "self", PACKAGE_TAMPER_SOURCE)
    if kind == "large":
        monkeypatch.setattr("lambda_widget.engine.manager.CODE_IN_MEMORY", 10)
    with Containment(seed=1, virtual_clock=True) as box:
        mgr = box.mgr
        if kind in ("path", "large"):
            mgr.register("self", path=code, handler="app.lambda_handler", idle_timeout=60)
        else:
            _create_from_zip(mgr, "self", Path(code))
        first = mgr.invoke("self", {})
        assert first.status == "succeeded", first.error
        if isolation == "namespaces":
            assert first.result == []  # its task root is read-only
        later = _fresh_environment(mgr, "self")
        # Its own code again (the rewritten one has no lambda_handler: it would fail to start).
        assert later.status == "succeeded", later.error
        assert isinstance(later.result, list), later.result


def _create_from_zip(mgr: lw.ContainerManager, name: str, code: Path) -> None:
    """CreateFunction through the Lambda API front, with the code as a zip."""
    import io
    import zipfile

    import boto3

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(code.iterdir()):
            zf.write(path, path.name)
    front = mgr.serve(port=0)
    client = boto3.client("lambda", endpoint_url=front.url, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    client.create_function(FunctionName=name, Runtime="python3.12", Role="arn:aws:iam::123456789012:role/x",
                           Handler="app.lambda_handler", Code={"ZipFile": buf.getvalue()})


def test_a_function_cannot_rewrite_another_functions_package(isolation, tmp_path):
    """Hole: in the fallback, a second function rewrote the victim's functions/victim/v1/app.py, and
    the victim ran the injected code."""
    victim = _package(tmp_path, "victim", "def handler(event, context):\n    return 'genuine'\n")
    attacker = _package(tmp_path, "attacker", PACKAGE_TAMPER_SOURCE)
    with Containment(seed=1, virtual_clock=True) as box:
        mgr = box.mgr
        mgr.register("victim", path=victim, handler="app.handler", idle_timeout=60)
        mgr.register("attacker", path=attacker, handler="app.lambda_handler", idle_timeout=60)
        assert mgr.invoke("victim", {}).result == "genuine"
        attack = mgr.invoke("attacker", {"root": box.root})
        assert attack.status == "succeeded", attack.error
        if isolation == "namespaces":
            assert attack.result == []
        assert mgr.invoke("victim", {}).result == "genuine"
        assert _fresh_environment(mgr, "victim").result == "genuine"


# Forks children that wait, as many as it can (up to a bound), and reports how it ended.
FORK_BOMB_SOURCE = """
import os
import time


def lambda_handler(event, context):
    made = 0
    error = None
    for _ in range(event["n"]):
        try:
            pid = os.fork()
        except OSError as exc:
            error = type(exc).__name__
            break
        if pid == 0:
            time.sleep(120)
            os._exit(0)
        made += 1
    if error is None:
        time.sleep(event.get("linger", 0))  # stays running: the fallback's count sees it
    return {"made": made, "error": error}
"""


def test_two_fork_bombs_cannot_exceed_the_managers_process_cap(isolation, monkeypatch):
    """Hole: no cap across the manager: two environments forked 2,010 host processes."""
    cap = 60
    monkeypatch.setenv("LAMBDA_WIDGET_MAX_PROCESSES", str(cap))
    with Containment(seed=1) as box:
        mgr = box.mgr
        assert mgr.to_dict()["isolation"]["max_processes"] == cap
        for name in ("bomb1", "bomb2"):
            mgr.register(name, FORK_BOMB_SOURCE, timeout=60, memory_mb=1024)
        first = mgr.invoke("bomb1", {"n": 40})  # then frozen, holding its 40 children
        assert first.status == "succeeded", first.error
        assert first.result == {"made": 40, "error": None}
        second = mgr.invoke("bomb2", {"n": 40, "linger": 60})
        if isolation == "namespaces":
            # The manager's pids group: the second one's forks fail once the two reach the cap.
            assert second.status == "succeeded", second.error
            assert second.result["error"] == "BlockingIOError"
            assert first.result["made"] + second.result["made"] < cap
            assert mgr.to_dict()["isolation"]["max_processes_reached"] >= 1
        else:
            # The fallback's watchdog counts the manager's processes (the frozen ones' too) and
            # ends the running one that takes them over the cap.
            assert second.status == "crashed"
            assert f"the manager's cap of {cap} processes" in second.error["errorMessage"], second.error
            assert any(f"the manager's cap of {cap} processes" in line for line in second.logs), second.logs
        after = mgr.invoke("bomb1", {"n": 0})  # the kernel and the manager carry on
        assert after.status == "succeeded", (after.error, after.logs)


def test_a_zip_deploy_unpacks_outside_the_engines_lock(monkeypatch):
    """Hole: deploying a 49,001-file zip held the engine for 9.8 s. The copy of a code directory is
    tested in test_engine_deploy.py; this is the zip from CreateFunction, held while it unpacks."""
    import io
    import threading
    import zipfile

    import boto3

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return 'deployed'\n")
        zf.writestr("zz_hold.txt", "data")
    holding, release = threading.Event(), threading.Event()
    real_open = zipfile.ZipFile.open

    def open_entry(self, name, *args, **kwargs):
        if getattr(name, "filename", name) == "zz_hold.txt":
            holding.set()
            release.wait(120)
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", open_entry)
    with lw.ContainerManager(seed=1) as mgr:
        mgr.register("other", "def lambda_handler(event, context):\n    return 'warm'\n")
        assert mgr.invoke("other").result == "warm"
        front = mgr.serve(port=0)
        client = boto3.client("lambda", endpoint_url=front.url, region_name="us-east-1",
                              aws_access_key_id="local", aws_secret_access_key="local")
        deploy = threading.Thread(target=lambda: client.create_function(
            FunctionName="big", Runtime="python3.12", Role="arn:aws:iam::123456789012:role/x",
            Handler="app.handler", Code={"ZipFile": buf.getvalue()}))
        deploy.start()
        seen: dict = {}
        done = threading.Event()

        def meanwhile() -> None:
            seen["inv"] = mgr.invoke("other")
            seen["functions"] = sorted(mgr.functions)
            done.set()

        try:
            assert holding.wait(60), "the deploy never reached the unpacking"
            threading.Thread(target=meanwhile, daemon=True).start()
            assert done.wait(30), "the engine waited for the zip to unpack"
            assert (seen["inv"].status, seen["inv"].cold, seen["inv"].result) == ("succeeded", False, "warm")
            assert seen["functions"] == ["other"]
        finally:
            release.set()
            deploy.join(120)
        assert mgr.invoke("big").result == "deployed"


# ---------------------------------------------------------------------------- cgroup v2
def _v2_usable() -> str | None:
    from lambda_widget.engine.isolation.cgroups import v2_mount

    root = v2_mount()
    if root is None:
        return "no cgroup2 hierarchy here"
    if os.geteuid() != 0 or not os.access(root, os.W_OK):
        return f"{root} is not writable here"
    return None


@pytest.mark.skipif(_v2_usable() is not None, reason=str(_v2_usable()))
def test_the_cgroup_v2_hierarchy_is_used_when_asked_for(monkeypatch):
    """LAMBDA_WIDGET_CGROUPS=v2 takes the cgroup2 mount (here /sys/fs/cgroup/unified, beside v1).
    Where it has the cpu, memory and pids controllers, environments run in it; where they are
    bound to v1 (as on this machine), the reason is said, not guessed."""
    from lambda_widget.engine.isolation.cgroups import v2_mount

    monkeypatch.setenv("LAMBDA_WIDGET_CGROUPS", "v2")
    root = v2_mount()
    controllers = set((root / "cgroup.controllers").read_text().split())
    if {"cpu", "memory", "pids"} <= controllers:
        monkeypatch.setenv("LAMBDA_WIDGET_ISOLATION", "namespaces")
        with Containment(seed=1) as box:
            mgr = box.mgr
            assert mgr.to_dict()["isolation"]["cgroups"]["version"] == 2
            mgr.register("probe", PROBE_SOURCE, memory_mb=256)
            inv = mgr.invoke("probe", {"kernel": os.getpid()})
            env = env_of(mgr, inv)
            assert inv.status == "succeeded" and env.cgroup.version == 2
            group = env.cgroup.dirs[""]
            assert group.is_relative_to(root)
            assert (group / "memory.max").read_text().strip() == str(256 << 20)
            assert env.pid in env.cgroup.pids()
    else:
        missing = ", ".join(sorted({"cpu", "memory", "pids"} - controllers))
        with pytest.raises(ValueError, match=f"lacks the {missing} controller"):
            lw.ContainerManager(seed=1, isolation="namespaces")
        monkeypatch.setenv("LAMBDA_WIDGET_ISOLATION", "auto")
        with lw.ContainerManager(seed=1) as mgr:
            state = mgr.to_dict()["isolation"]
            assert state["mode"] == "process" and f"cgroup v2 at {root}" in state["why"]
        assert not [p for p in root.iterdir() if p.name.startswith("lambda-widget-")]


@pytest.mark.skipif(_v2_usable() is not None, reason=str(_v2_usable()))
def test_an_environment_group_in_cgroup_v2_freezes_counts_and_kills(tmp_path):
    """The v2 side of EnvCgroup on the real cgroup2 hierarchy: join, freeze (cgroup.freeze, the
    process sees nothing), thaw, list, kill, remove."""
    from lambda_widget.engine.isolation.cgroups import EnvCgroup, v2_mount

    group = v2_mount() / f"lambda-widget-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    group.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(0.01)"])
    try:
        env = EnvCgroup(2, {"": group})
        (group / "cgroup.procs").write_text(str(proc.pid))
        assert env.pids() == [proc.pid] and env.procs_files == [str(group / "cgroup.procs")]
        env.freeze()
        assert _wait_events(group, "frozen 1")
        env.thaw()
        assert _wait_events(group, "frozen 0")
        env.configure(128, 16)  # memory and pids files exist only with their controllers: no error
        env.kill()
        assert proc.wait(10) == -9
        assert env.pids() == []
        env.remove()
        assert not group.exists()
    finally:
        proc.kill()
        proc.wait()
        if group.exists():
            group.rmdir()


def _wait_events(group: Path, line: str) -> bool:
    from conftest import wait_for

    return wait_for(lambda: line in (group / "cgroup.events").read_text().splitlines(), timeout=10)


def test_an_unknown_cgroup_version_is_refused(monkeypatch):
    monkeypatch.setenv("LAMBDA_WIDGET_CGROUPS", "v3")
    monkeypatch.setenv("LAMBDA_WIDGET_ISOLATION", "auto")
    if namespaces_unavailable() is not None:
        pytest.skip("cgroups are looked at only where the sandbox can run")
    with pytest.raises(ValueError, match="LAMBDA_WIDGET_CGROUPS='v3': use 'auto', 'v1' or 'v2'"):
        lw.ContainerManager(seed=1)


def test_a_bad_process_cap_is_refused(monkeypatch):
    monkeypatch.setenv("LAMBDA_WIDGET_MAX_PROCESSES", "lots")
    with pytest.raises(ValueError, match="LAMBDA_WIDGET_MAX_PROCESSES='lots': give a number"):
        lw.ContainerManager(seed=1)
