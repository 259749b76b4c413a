"""Issue 11, item 8: the Runtime API server bounds what any client can make the kernel hold.

Bodies are checked before they are read, ``Content-Length`` is validated, idle connections
time out, connections the manager did not make are capped, so threads stay bounded.
"""

from __future__ import annotations

import resource
import socket
import threading
import time

import pytest
from conftest import wait_for

import lambda_widget as lw
from lambda_widget.engine import runtime_api


@pytest.fixture
def mgr():
    """The fallback isolation mode: where handler code can reach the Runtime API and its own
    trace file, so these attacks are possible at all (namespaces close them off)."""
    with lw.ContainerManager(seed=1, isolation="process") as manager:
        yield manager


RAW_POST_SOURCE = """import os
import socket




def lambda_handler(event, context):
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    sock = socket.create_connection((host, int(port)), timeout=20)
    path = f"/2018-06-01/runtime/invocation/{context.aws_request_id}/response"
    sock.sendall(f"POST {path} HTTP/1.1\\r\\nContent-Length: {event['length']}\\r\\n\\r\\n".encode())
    sent = 0
    block = b"0" * (1 << 20)
    try:
        while sent < event.get("send", 0):
            sock.sendall(block)
            sent += len(block)
    except OSError:
        pass
    try:
        return sock.recv(200).decode("latin-1").split("\\r\\n")[0]
    except OSError as exc:
        return type(exc).__name__
"""


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.timeout(120)
def test_a_400_mb_response_is_refused_unread(mgr):
    mgr.register("huge-response", RAW_POST_SOURCE, trace=False, timeout=60, memory_mb=1024)
    before = _peak_rss_mb()

    inv = mgr.invoke("huge-response", {"length": 400_000_000, "send": 400_000_000})

    assert inv.status == "failed"
    assert inv.error["errorType"] == "Function.ResponseSizeTooLarge"
    assert inv.error["errorMessage"] == (
        "Response payload size exceeded maximum allowed payload size (6291556 bytes).")  # as AWS records it
    assert any("(400000000 bytes)" in line for line in inv.logs), inv.logs  # the log line names the size
    assert _peak_rss_mb() - before < 100, "the kernel read the body into memory"
    assert mgr.invoke("huge-response", {"length": 0}).status in ("succeeded", "failed")


@pytest.mark.parametrize("length", [str(10**15), "99999999999999999999999999"])
def test_an_absurd_content_length_is_refused_without_allocating_it(mgr, capfd, length):
    mgr.register("absurd-length", RAW_POST_SOURCE, trace=False, timeout=10)

    inv = mgr.invoke("absurd-length", {"length": length})

    assert inv.error["errorType"] == "Function.ResponseSizeTooLarge", inv.error
    err = capfd.readouterr().err
    assert "MemoryError" not in err and "Traceback" not in err, err
    assert mgr.invoke("absurd-length", {"length": "0"}).status == "succeeded"


def test_a_malformed_content_length_gets_400(mgr, capfd):
    mgr.register("bad-length", RAW_POST_SOURCE, trace=False, timeout=10)
    inv = mgr.invoke("bad-length", {"length": "-5"})
    # The handler's own post was refused; the runtime's own response is then the one taken.
    assert inv.status == "succeeded", inv.error
    assert inv.result.startswith("HTTP/1.") and " 400 " in inv.result
    assert "Traceback" not in capfd.readouterr().err


def _connect(address: str) -> socket.socket:
    host, port = address.split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def test_idle_connections_from_another_process_are_capped_and_time_out(mgr, monkeypatch):
    monkeypatch.setattr(runtime_api, "STRANGER_TIMEOUT", 1.0)
    mgr.register("still-served", "def lambda_handler(event, context):\n    return 'ok'\n")
    assert mgr.invoke("still-served", {}).result == "ok"
    baseline = threading.active_count()

    socks = [_connect(mgr.runtime_api) for _ in range(300)]
    try:
        time.sleep(0.3)
        assert threading.active_count() <= baseline + runtime_api.MAX_STRANGERS + 2, \
            f"{threading.active_count()} threads for 300 idle connections"
        # Environments are still served while strangers hold their share.
        assert mgr.invoke("still-served", {}).result == "ok"
        # Every idle connection is closed by the server: refused at once, or timed out.
        for sock in socks:
            sock.settimeout(10)
            try:
                assert sock.recv(1) == b""
            except ConnectionResetError:
                pass
        assert wait_for(lambda: threading.active_count() <= baseline + 1, timeout=10)
    finally:
        for sock in socks:
            sock.close()


def test_a_stranger_cannot_send_endless_headers(mgr):
    sock = _connect(mgr.runtime_api)
    try:
        sock.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n")
        sent = 0
        try:
            while sent < 64 * 2**20:
                sock.sendall(b"X-Filler: " + b"a" * 4000 + b"\r\n")
                sent += 4012
        except OSError:
            pass
        assert sent < 64 * 2**20, "the server kept reading headers"
    finally:
        sock.close()


def test_a_stranger_is_refused_and_disconnected(mgr):
    sock = _connect(mgr.runtime_api)
    try:
        sock.sendall(b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
        data = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 403")
    finally:
        sock.close()


def test_a_runtime_that_connects_by_itself_is_served_while_strangers_fill_their_share(mgr, monkeypatch):
    monkeypatch.setattr(runtime_api, "MAX_STRANGERS", 2)
    socks = [_connect(mgr.runtime_api) for _ in range(4)]  # two served (idle), two closed
    try:
        time.sleep(0.2)
        mgr.register("ric-under-flood", "def lambda_handler(event, context):\n    return 'served'\n",
                     runtime="awslambdaric")
        inv = mgr.invoke("ric-under-flood", {})
        assert (inv.status, inv.result) == ("succeeded", "served"), inv.error
    finally:
        for sock in socks:
            sock.close()


MANY_CONNECTIONS_SOURCE = """import os
import socket


def lambda_handler(event, context):
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    socks = [socket.create_connection((host, int(port)), timeout=10) for _ in range(event)]
    answers = []
    for sock in socks:
        sock.sendall(b"GET /2018-06-01/runtime/invocation/next-x HTTP/1.1\\r\\n\\r\\n")
        answers.append(sock.recv(12).decode("latin-1")[9:12])
    return answers
"""


def test_one_environment_cannot_hold_more_than_its_share_of_connections(mgr):
    mgr.register("many-connections", MANY_CONNECTIONS_SOURCE, trace=False, timeout=30)
    baseline = threading.active_count()
    inv = mgr.invoke("many-connections", 40)
    assert inv.status == "succeeded", inv.error
    answers = inv.result
    # The runtime's own connection is one of its share; the handler's first ones are served
    # (404: not a Runtime API path), the rest refused (403, or closed at once: "").
    assert answers.count("404") == runtime_api.MAX_ENV_CONNECTIONS - 1, answers
    assert set(answers) <= {"404", "403", ""} and len(answers) == 40
    assert threading.active_count() <= baseline + runtime_api.MAX_ENV_CONNECTIONS + 2
    assert mgr.invoke("many-connections", 1).result == ["404"]
