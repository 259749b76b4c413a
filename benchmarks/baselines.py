"""Baselines measured next to the subject: the physical floor and the tools people use instead."""

from __future__ import annotations

import http.client
import importlib.util
import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = str(Path(__file__).resolve().parents[1])


def available(module: str) -> bool:
    """True if ``module`` can be imported (an optional peer may be missing)."""
    return importlib.util.find_spec(module) is not None


class HttpRoundTrip:
    """A loopback HTTP/1.1 keep-alive connection (TCP_NODELAY) to a running child process.

    One ``call()`` is one POST of the event and the handler's JSON response.
    """

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=REPO)
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.httpchild"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO)
        port = int(self.proc.stdout.readline())
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def call(self, event: Any) -> Any:
        body = json.dumps(event).encode()
        self.conn.request("POST", "/invoke", body=body, headers={"Content-Type": "application/json"})
        response = self.conn.getresponse()
        return json.loads(response.read())

    def close(self) -> None:
        self.conn.close()
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self) -> HttpRoundTrip:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def bare_spawn() -> float:
    """Seconds to run ``python -c pass`` to completion (the interpreter this run uses)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t0


class LambdaLocal:
    """python-lambda-local's ``call()``: one forked process per invocation.

    Importing it runs ``logging.basicConfig(stream=sys.stdout, level=INFO)`` and each call
    logs five lines. Here its log handler writes to an in-memory stream instead (the
    formatting and writing stay part of every call) so the table stays readable.
    """

    def __init__(self, handler: Callable[[Any, Any], Any], timeout: int = 3) -> None:
        root = logging.getLogger()
        before, self._level = list(root.handlers), root.level
        from lambda_local.context import Context
        from lambda_local.main import call

        for added in [h for h in root.handlers if h not in before]:
            root.removeHandler(added)
        self._call, self._context = call, Context
        self.handler, self.timeout = handler, timeout
        self.sink = io.StringIO()
        self._log = logging.StreamHandler(self.sink)
        self._log.setFormatter(logging.Formatter("[%(name)s - %(levelname)s - %(asctime)s] %(message)s"))
        root.addHandler(self._log)
        root.setLevel(logging.INFO)

    def call(self, event: Any) -> Any:
        result, err_type = self._call(self.handler, event, self._context(self.timeout))
        if err_type is not None:
            raise RuntimeError(f"python-lambda-local call failed: {result}")
        self.sink.seek(0)
        self.sink.truncate()
        return result

    def close(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self._log)
        root.setLevel(self._level)
