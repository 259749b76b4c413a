"""A Lambda Runtime API client over one keep-alive HTTP/1.1 connection.

A few lines of HTTP over a raw socket rather than http.client: this runs twice per
invocation inside every environment, and http.client's generality costs more there than
the rest of the round trip.
"""

from __future__ import annotations

import socket

API = "/2018-06-01/runtime"


class RuntimeApiError(Exception):
    """The Runtime API answered with an unexpected status, or went away."""


class Invocation:
    __slots__ = ("request_id", "body", "content_type", "deadline_ms", "function_arn",
                 "trace_id", "client_context", "cognito_identity", "tenant_id")

    def __init__(self, headers: dict[str, str], body: bytes) -> None:
        self.request_id = headers.get("lambda-runtime-aws-request-id", "")
        self.body = body
        self.content_type = headers.get("content-type", "application/json")
        self.deadline_ms = int(headers.get("lambda-runtime-deadline-ms", "0"))
        self.function_arn = headers.get("lambda-runtime-invoked-function-arn")
        self.trace_id = headers.get("lambda-runtime-trace-id")
        self.client_context = headers.get("lambda-runtime-client-context")
        self.cognito_identity = headers.get("lambda-runtime-cognito-identity")
        self.tenant_id = headers.get("lambda-runtime-aws-tenant-id")


class RuntimeClient:
    """Talks to ``AWS_LAMBDA_RUNTIME_API`` (``host:port``), over ``sock`` if the engine handed
    the runtime a connection already made (its owner is then known without a lookup)."""

    def __init__(self, address: str, sock: socket.socket | None = None) -> None:
        host, _, port = address.rpartition(":")
        self.address = address
        if sock is not None:
            self._sock = sock
            sock.set_inheritable(False)  # not for a program the handler execs
        else:
            self._sock = self._connect(host, int(port))
        # Without TCP_NODELAY each small request waits ~40 ms for delayed ACKs.
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._rfile = self._sock.makefile("rb")

    @staticmethod
    def _connect(host: str, port: int) -> socket.socket:
        try:
            socket.inet_aton(host)
        except OSError:
            return socket.create_connection((host, port))
        # A numeric IPv4 address (the engine's): no getaddrinfo, whose resolver state would
        # be allocated (and private) in every environment.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.connect((host, port))
        return sock

    def _call(self, method: str, path: str, body: bytes = b"",
              headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        lines = [f"{method} {API}{path} HTTP/1.1", f"Host: {self.address}",
                 f"Content-Length: {len(body)}"]
        lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        status_line = self._rfile.readline(65537)
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise RuntimeApiError(f"the Runtime API closed the connection ({status_line[:80]!r})")
        answer: dict[str, str] = {}
        while True:
            line = self._rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.decode("latin-1").partition(":")
            answer[key.strip().lower()] = value.strip()
        data = self._rfile.read(int(answer.get("content-length", "0")))
        return int(parts[1]), answer, data

    def next(self) -> Invocation:
        status, headers, body = self._call("GET", "/invocation/next")
        if status != 200:
            raise RuntimeApiError(f"/next answered {status}: {body[:200]!r}")
        return Invocation(headers, body)

    def post_response(self, request_id: str, body: bytes, content_type: str) -> None:
        status, _, data = self._call("POST", f"/invocation/{request_id}/response", body,
                                     {"Content-Type": content_type})
        if status not in (202, 413):
            raise RuntimeApiError(f"/response answered {status}: {data[:200]!r}")

    def post_error(self, request_id: str, error_json: bytes, error_type: str) -> None:
        self._call("POST", f"/invocation/{request_id}/error", error_json,
                   {"Content-Type": "application/json",
                    "Lambda-Runtime-Function-Error-Type": error_type})

    def post_init_error(self, error_json: bytes, error_type: str) -> None:
        self._call("POST", "/init/error", error_json,
                   {"Content-Type": "application/json",
                    "Lambda-Runtime-Function-Error-Type": error_type})

    def fileno(self) -> int:
        return self._sock.fileno()

    def restore_next(self) -> None:
        """SnapStart: the snapshot is taken while this waits; a restored environment returns."""
        status, _, data = self._call("GET", "/restore/next")
        if status != 200:
            raise RuntimeApiError(f"/restore/next answered {status}: {data[:200]!r}")

    def post_restore_error(self, error_json: bytes, error_type: str) -> None:
        self._call("POST", "/restore/error", error_json,
                   {"Content-Type": "application/json",
                    "Lambda-Runtime-Function-Error-Type": error_type})
