"""A Lambda Runtime API client over one keep-alive HTTP/1.1 connection."""

from __future__ import annotations

import http.client
import socket

API = "/2018-06-01/runtime"


class RuntimeApiError(Exception):
    """The Runtime API answered with an unexpected status."""


class Invocation:
    __slots__ = ("request_id", "body", "content_type", "deadline_ms", "function_arn",
                 "trace_id", "client_context", "cognito_identity", "tenant_id")

    def __init__(self, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.request_id = headers.get("Lambda-Runtime-Aws-Request-Id", "")
        self.body = body
        self.content_type = headers.get("Content-Type", "application/json")
        self.deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms", "0"))
        self.function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.trace_id = headers.get("Lambda-Runtime-Trace-Id")
        self.client_context = headers.get("Lambda-Runtime-Client-Context")
        self.cognito_identity = headers.get("Lambda-Runtime-Cognito-Identity")
        self.tenant_id = headers.get("Lambda-Runtime-Aws-Tenant-Id")


class RuntimeClient:
    """Talks to ``AWS_LAMBDA_RUNTIME_API`` (``host:port``)."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self._conn = http.client.HTTPConnection(host, int(port))
        self._conn.connect()
        # Without TCP_NODELAY each small request waits ~40 ms for delayed ACKs.
        self._conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _call(self, method: str, path: str, body: bytes | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
        self._conn.request(method, API + path, body=body, headers=headers or {})
        response = self._conn.getresponse()
        data = response.read()
        return response.status, response.headers, data

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
