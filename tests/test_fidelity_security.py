"""Security: the Runtime API serves only the manager's own environments, on loopback only;
handler code sees none of the kernel's environment; each environment's /tmp is private.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import psutil
import pytest
from conftest import env_of, wait_for

import lambda_widget as lw

# Every test here runs in both isolation modes: the sandbox (namespaces and cgroups)
# and the portable fallback.
pytestmark = pytest.mark.usefixtures("isolation")

RUNTIMES = ["bundled", "awslambdaric"]
NEXT = "/2018-06-01/runtime/invocation/next"

SLEEPER_SOURCE = """
import time


def lambda_handler(event, context):
    time.sleep(event.get("sleep", 0))
    return "genuine"
"""

SLOW_INIT_SOURCE = """
import time

time.sleep(1.5)


def lambda_handler(event, context):
    return "genuine"
"""

INSPECT_SOURCE = """
import os
import stat
import tempfile


def lambda_handler(event, context):
    with open("/proc/self/environ", "rb") as f:
        initial = f.read().decode("utf-8", "replace")
    tmp = os.environ["TMPDIR"]
    return {"environ": dict(os.environ), "proc_environ": initial, "tmpdir": tmp,
            "gettempdir": tempfile.gettempdir(), "mode": stat.S_IMODE(os.stat(tmp).st_mode)}
"""


@pytest.fixture(params=RUNTIMES)
def runtime(request) -> str:
    return request.param


@pytest.fixture
def secret(monkeypatch) -> Iterator[str]:
    """A secret in the kernel's environment, set before any manager exists."""
    value = f"kernel-secret-{os.getpid()}-{time.monotonic_ns()}"
    monkeypatch.setenv("LW_FIDELITY_SECRET", value)
    yield value


def fetch(address: str, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def assert_forbidden(status: int, body: bytes) -> None:
    assert status == 403
    assert json.loads(body)["errorType"] == "Forbidden"


def test_runtime_api_listens_on_loopback_only(mgr):
    host, port = mgr.runtime_api.rsplit(":", 1)
    assert host == "127.0.0.1"
    listening = [c for c in psutil.Process().net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == int(port)]
    assert [c.laddr.ip for c in listening] == ["127.0.0.1"]
    for address in _non_loopback_ipv4():
        with socket.socket() as sock, pytest.raises(OSError):
            sock.settimeout(2)
            sock.connect((address, int(port)))


def _non_loopback_ipv4() -> list[str]:
    return [a.address for addrs in psutil.net_if_addrs().values() for a in addrs
            if a.family == socket.AF_INET and not a.address.startswith("127.")]


def test_another_process_gets_403_and_never_sees_a_pending_event(mgr, runtime):
    mgr.register("guarded", SLEEPER_SOURCE, runtime=runtime, timeout=10)
    warm = mgr.invoke("guarded", {})
    env = env_of(mgr, warm)
    assert wait_for(lambda: env.frozen, timeout=5)  # idle, its runtime blocked on /next

    assert_forbidden(*fetch(mgr.runtime_api, "GET", NEXT))

    running = mgr.submit("guarded", {"sleep": 1.5})
    assert wait_for(lambda: running.invocation.status == "running" and env.state == "busy", timeout=5)
    rid = running.invocation.request_id
    assert_forbidden(*fetch(mgr.runtime_api, "GET", NEXT))
    assert_forbidden(*fetch(mgr.runtime_api, "POST", f"/2018-06-01/runtime/invocation/{rid}/response",
                            b'"forged"'))
    assert_forbidden(*fetch(mgr.runtime_api, "POST", f"/2018-06-01/runtime/invocation/{rid}/error",
                            b'{"errorMessage": "forged", "errorType": "Forged"}'))
    assert_forbidden(*fetch(mgr.runtime_api, "POST", "/2018-06-01/runtime/init/error", b"{}"))

    inv = running.result(timeout=15)
    assert (inv.status, inv.result) == ("succeeded", "genuine")


def test_a_request_during_init_gets_403(mgr, runtime):
    mgr.register("slow-init", SLOW_INIT_SOURCE, runtime=runtime, timeout=10)
    future = mgr.submit("slow-init", {})
    assert wait_for(lambda: mgr.containers and mgr.containers[0].state == "initializing", timeout=5)

    assert_forbidden(*fetch(mgr.runtime_api, "GET", NEXT))

    inv = future.result(timeout=20)
    assert (inv.status, inv.result, inv.cold) == ("succeeded", "genuine", True)


PROBE_SCRIPT = textwrap.dedent("""
    import http.client, sys
    host, port = sys.argv[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    response = conn.getresponse()
    print(response.status, response.read().decode())
""")


def test_a_separate_local_process_gets_403(mgr):
    mgr.register("guarded-too", SLEEPER_SOURCE, timeout=10)
    running = mgr.submit("guarded-too", {"sleep": 1.5})
    assert wait_for(lambda: running.invocation.status == "running" and mgr.containers
                    and mgr.containers[0].state == "busy", timeout=5)

    probe = subprocess.run([sys.executable, "-c", PROBE_SCRIPT, mgr.runtime_api],
                           capture_output=True, text=True, timeout=30)

    status, body = probe.stdout.split(" ", 1)
    assert_forbidden(int(status), body.encode())
    assert running.result(timeout=15).result == "genuine"


def test_handler_sees_none_of_the_kernels_environment(secret, runtime):
    with lw.ContainerManager(seed=1) as mgr:
        mgr.register("inspect", INSPECT_SOURCE, runtime=runtime)
        seen = mgr.invoke("inspect", {}).result
    assert "LW_FIDELITY_SECRET" not in seen["environ"]
    assert secret not in json.dumps(seen["environ"])
    assert secret not in seen["proc_environ"]  # the initial environment block of the process
    leaked = sorted(k for k, v in os.environ.items()
                    if k not in _SHARED_BY_DESIGN and seen["environ"].get(k) == v)
    assert not leaked, f"kernel variables visible to the handler: {leaked}"


# Values both sides may legitimately hold (the handler's environment sets them itself).
_SHARED_BY_DESIGN = {"PATH", "LANG", "LD_LIBRARY_PATH", "PYTHONPATH", "TZ"}


def test_each_environment_has_its_own_private_tmp(mgr, runtime):
    mgr.register("inspect-tmp", INSPECT_SOURCE, runtime=runtime)
    mgr.register("hold", SLEEPER_SOURCE, runtime=runtime)
    first = mgr.invoke("inspect-tmp", {}).result
    busy = mgr.submit("hold", {"sleep": 1.0})
    other = mgr.invoke("hold", {})  # a second environment, created while the first is busy
    busy.result(timeout=15)

    assert first["mode"] == 0o700
    assert first["gettempdir"] == first["tmpdir"]
    tmp_dirs = {env.id: env.tmp for env in mgr.containers}
    assert len(set(tmp_dirs.values())) == len(tmp_dirs) == 3
    for path in tmp_dirs.values():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert other.status == "succeeded"


@pytest.mark.parametrize("fork_server", [True, False])
def test_the_bundled_runtime_uses_the_connection_the_manager_made(monkeypatch, fork_server: bool) -> None:
    """With every owner lookup refused, the bundled runtime is still served (its connection was
    made for it), while a runtime that connects by itself (awslambdaric) is refused."""
    from lambda_widget.engine.runtime_api import RuntimeApiServer

    monkeypatch.setattr(RuntimeApiServer, "identify", lambda self, peer, conn: None)
    with lw.ContainerManager(fork_server=fork_server) as mgr:
        mgr.register("bundled", "def lambda_handler(event, context):\n    return 'ok'\n")
        first, second = mgr.invoke("bundled", {}), mgr.invoke("bundled", {})
        assert (first.status, first.cold, second.status, second.cold) == ("succeeded", True, "succeeded", False)
        if fork_server:
            mgr.register("ric", "def lambda_handler(event, context):\n    return 'ok'\n", runtime="awslambdaric")
            refused = mgr.invoke("ric", {})
            assert refused.status != "succeeded"
