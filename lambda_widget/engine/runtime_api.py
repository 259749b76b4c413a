"""The Lambda Runtime API, served on loopback to the manager's own environment processes.

Same paths, headers and status codes as Lambda's (``/2018-06-01/runtime/...``), so the
bundled runtime and awslambdaric are both clients. A connection is served only if the
process at its other end is one of the manager's environments (checked with psutil);
any other local process gets 403 and never sees an event.

Nothing a client sends is read before it is bounded: request lines and headers have a
length and a count limit, a body's ``Content-Length`` is checked before it is read (a
response over 6 MB is refused unread), a connection that is not an environment's must
send its request within ``STRANGER_TIMEOUT`` seconds, and at most ``MAX_STRANGERS``
such connections are served at once (more are closed on accept, before any thread).
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from lambda_widget.engine.environment import ExecutionEnvironment

PREFIX = "/2018-06-01/runtime"
_INVOCATION = re.compile(r"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$")
MAX_RESPONSE = 6_291_556  # the limit Lambda quotes in its ResponseSizeTooLarge error

# awslambdaric sends its X-Ray error cause as a header, which for a deep stack passes
# http.client's 64 KiB line limit; Lambda accepts it, so this server's own parser does too.
MAX_HEADER_LINE = 1 << 22
MAX_HEADER_BYTES = 1 << 23  # all header lines of one request, from an environment
MAX_HEADERS = 128
STRANGER_HEADER_LINE = 1 << 16  # http.client's limit, for a connection not known yet
STRANGER_TIMEOUT = 5.0  # seconds an unknown connection may take to send a request
MAX_STRANGERS = 32  # unknown connections served at once; each holds one thread
MAX_ENV_CONNECTIONS = 8  # connections one environment may hold (its runtime needs one)
MAX_BODY = MAX_RESPONSE  # the largest body read from anyone: responses, errors, init errors


CLOSE = object()  # on_next's answer when the environment is shutting down
# Served by the manager's lifecycle code (lambda_widget.engine.lifecycle): the Extensions API
# and SnapStart's restore calls.
PLATFORM_PATHS = ("/2020-01-01/extension/", PREFIX + "/restore/")
MAX_PLATFORM_BODY = 1 << 20

# The answer to every accepted response, error and init error: always the same bytes.
ACCEPTED = (b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
            b'{"status": "OK"}')


class Headers(dict):
    """Request headers, looked up without regard to case."""

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key.lower(), value)

    def get(self, key: str, default=None):  # type: ignore[override]
        return super().get(key.lower(), default)


class Delivery:
    """An event on its way to a runtime: the body and the /next headers."""

    __slots__ = ("request_id", "body", "headers")

    def __init__(self, request_id: str, body: bytes, headers: dict[str, str]) -> None:
        self.request_id = request_id
        self.body = body
        self.headers = headers

    def message(self) -> bytes:
        """The whole ``200`` answer to ``/next``, as sent."""
        head = "".join([f"{k}: {v}\r\n" for k, v in self.headers.items()])
        return (b"HTTP/1.1 200 OK\r\n" + head.encode("latin-1", "replace") + b"Content-Length: "
                + str(len(self.body)).encode() + b"\r\n\r\n" + self.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: RuntimeApiServer
    env: ExecutionEnvironment | None = None

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass

    _counted: ExecutionEnvironment | None = None  # the environment this connection counts against

    def setup(self) -> None:
        super().setup()
        self.env = self.server.claim(self.client_address)  # a connection the manager made (counted)
        self._counted = self.env
        greeting = self.server.greetings.pop(self.client_address[1], None)
        if greeting is not None:  # SnapStart: the answer to the restore/next the snapshot had asked
            self.connection.sendall(greeting)
        # A parked /next waits as long as the environment stays warm: no timeout for an
        # environment's connection, a short one for anyone else's.
        self.connection.settimeout(None if self.env is not None else STRANGER_TIMEOUT)

    def _identify(self) -> None:
        if self.env is None:
            # The Extensions API serves every process of an environment (its extensions); the
            # Runtime API only the runtime's own, as before.
            wide = self.path.startswith(PLATFORM_PATHS[0])
            env = self.server.identify(self.client_address, self.connection, wide)
            # A handler that opens connection after connection gets no more than its share.
            if env is not None and self.server.count_in(env):
                self.env = self._counted = env
                self.connection.settimeout(None)
                self.server.known(self.client_address)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self._counted is not None:
                self.server.count_out(self._counted)
                self._counted = None

    def parse_request(self) -> bool:
        """The request line and headers, without http.server's email-based parser.

        Runtimes send a handful of plain headers twice per invocation; the general parser
        costs more than the rest of the request. Anything unusual goes to the standard one.
        """
        words = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n").split()
        if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0"):
            return super().parse_request()
        self.command, self.path, self.request_version = words
        self.requestline = " ".join(words)
        self._identify()  # before the headers: only an environment may send long ones
        line_cap = MAX_HEADER_LINE if self.env is not None else STRANGER_HEADER_LINE
        total_cap = MAX_HEADER_BYTES if self.env is not None else STRANGER_HEADER_LINE
        headers = Headers()
        total = 0
        while True:
            raw = self.rfile.readline(line_cap + 1)
            total += len(raw)
            if len(raw) > line_cap or total > total_cap or len(headers) >= MAX_HEADERS:
                self.close_connection = True
                self.send_error(431, "Request header fields too large")
                return False
            if raw in (b"\r\n", b"\n", b""):
                break
            key, _, value = raw.decode("iso-8859-1").partition(":")
            headers[key.strip()] = value.strip()
        self.headers = headers  # type: ignore[assignment]
        connection = headers.get("Connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive")
        if headers.get("Expect", "").lower() == "100-continue":
            self.send_response_only(100)
            self.end_headers()
        return True

    def _send(self, code: int, payload: dict | bytes | None = None,
              headers: dict[str, str] | None = None) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload or {}).encode()
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if "Content-Type" not in (headers or {}):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _environment(self) -> ExecutionEnvironment | None:
        self._identify()
        if self.env is None:
            self.close_connection = True  # nothing more is read from a stranger
            self._send(403, {"errorMessage": "This Runtime API serves only the manager's "
                             "execution environments", "errorType": "Forbidden"})
        return self.env

    def _refuse(self, code: int, message: str, error_type: str) -> None:
        """Answer and close: the body (if any) is left unread."""
        self.close_connection = True
        self._send(code, {"errorMessage": message, "errorType": error_type})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        env = self._environment()
        if env is None:
            return
        if self.path.startswith(PLATFORM_PATHS) and self.server.on_platform is not None:
            self.server.on_platform(env, self, b"")
            return
        if self.path != PREFIX + "/invocation/next":
            self._send(404, {"errorMessage": "Not found", "errorType": "NotFound"})
            return
        result = self.server.on_next(env, self.send_delivery)
        if result is CLOSE:  # the environment is being shut down
            self.close_connection = True
        elif result is not None:  # an event was already waiting
            self.send_delivery(result)
        # Otherwise the request is parked: the invoking thread answers it with send_delivery
        # when an event comes, and this thread goes back to reading the connection.

    def send_delivery(self, delivery: Delivery) -> None:
        """Answer this connection's pending ``/next`` with an event (callable from any thread).

        Never blocks the caller: what the socket buffer cannot take at once is sent from a
        thread of its own, which ends when the runtime has read it or its process is gone.
        The invoking thread goes on to wait for the outcome, under the function's timeout.
        """
        data = delivery.message()
        try:
            sent = self.connection.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        except OSError:
            return  # the runtime is gone; its exit is reported by the monitor
        if sent < len(data):
            threading.Thread(target=self._reply, args=(memoryview(data)[sent:],),
                             name="lambda-deliver", daemon=True).start()

    def _reply(self, data: bytes) -> None:
        try:
            self.connection.sendall(data)
        except OSError:
            pass  # the runtime is gone; its exit is reported by the monitor

    def do_POST(self) -> None:  # noqa: N802
        env = self._environment()
        if env is None:
            return
        raw_length = (self.headers.get("Content-Length") or "0").strip()
        if not (raw_length.isascii() and raw_length.isdigit()):
            self._refuse(400, f"Invalid Content-Length {raw_length[:40]!r}", "InvalidRequest")
            return
        # Never read before it is checked: 10**15 is refused as too large, not allocated.
        length = int(raw_length) if len(raw_length) <= 18 else 10**18
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type", "")
        if self.path.startswith(PLATFORM_PATHS) and self.server.on_platform is not None:
            if length > MAX_PLATFORM_BODY:
                self._refuse(413, "Payload Too Large", "RequestEntityTooLarge")
                return
            self.server.on_platform(env, self, self.rfile.read(length) if length else b"")
            return
        if self.path == PREFIX + "/init/error":
            if env.state != "initializing":  # as Lambda: no init error once init is over
                self._refuse(403, "State transition from Running to InitError is not allowed",
                             "InvalidStateTransition")
                return
            if length > MAX_BODY:
                self.server.on_outcome(env, ("init-error", b"", "Runtime.Unknown"))
                self._refuse(413, "Payload Too Large", "RequestEntityTooLarge")
                return
            body = self.rfile.read(length) if length else b""
            self.server.on_outcome(env, ("init-error", body, error_type))
            self._reply(ACCEPTED)
            return
        match = _INVOCATION.match(self.path)
        if not match:
            self._refuse(404, "Not found", "NotFound")
            return
        request_id, kind = match.groups()
        current = env.current
        if current is None or current.request_id != request_id or env.state != "busy":
            last = env.last_invocation
            if last is not None and last.request_id == request_id and length <= MAX_BODY:
                # A second answer to a request already answered (a handler posted its own):
                # taken and dropped, so the runtime lives on and the next request is not blamed.
                self.rfile.read(length)
                self._reply(ACCEPTED)
                return
            self._refuse(400, "Invalid request ID", "InvalidRequestID")
            return
        if length > MAX_BODY:
            # Refused unread (a 400 MB result must not pass through the kernel's memory). The
            # outcome first: whatever the runtime posts once it reads the 413 comes after it.
            self.server.on_outcome(env, ("too-large", request_id, length))
            self._refuse(413, "Payload Too Large", "RequestEntityTooLarge")
            return
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the runtime went away mid-body
            self.close_connection = True
            return
        # Recorded before it is acknowledged: a second answer, sent once this one is
        # acknowledged (a handler that posted its own), always comes after it.
        if kind == "response":
            content_type = self.headers.get("Content-Type", "application/json")
            self.server.on_outcome(env, ("response", request_id, body, content_type))
        else:
            self.server.on_outcome(env, ("error", request_id, body, error_type))
        self._reply(ACCEPTED)


class RuntimeApiServer(ThreadingHTTPServer):
    """Loopback HTTP server; one thread per environment connection."""

    daemon_threads = True
    block_on_close = False
    # socketserver's default backlog is 5: a burst of cold starts overflowed it, and a dropped
    # connection attempt is retried only after a second.
    request_queue_size = socket.SOMAXCONN

    def __init__(self, environments: Callable[[], list[ExecutionEnvironment]],
                 on_next: Callable[[ExecutionEnvironment, Callable[[Delivery], None]], object],
                 on_outcome: Callable[[ExecutionEnvironment, tuple], None]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.environments = environments
        self.on_next = on_next
        self.on_outcome = on_outcome
        self._lock = threading.Lock()
        self._preconnected: dict[int, ExecutionEnvironment] = {}  # client port -> its environment
        self._strangers: set[int] = set()  # client ports of connections not known (yet)
        self._per_env: dict[int, int] = {}  # id(environment) -> its open connections
        self.greetings: dict[int, bytes] = {}  # client port -> bytes sent to it on accept
        self.on_platform: Callable | None = None  # (environment, handler, body): see PLATFORM_PATHS
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.5},
                                       name="lambda-runtime-api", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        self.thread.start()

    def preconnect(self, env: ExecutionEnvironment, greeting: bytes | None = None) -> socket.socket:
        """A connection to this server that is known to be ``env``'s, for its runtime to use.

        The client port is recorded before connecting, so the server knows the connection
        when it accepts it: no lookup of the process that owns the socket, no wait for a
        spawn to finish. No other socket can use that port while this one is bound to it.
        """
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        port = None
        try:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            with self._lock:
                self._preconnected[port] = env
                if greeting is not None:
                    self.greetings[port] = greeting
            sock.connect(self.server_address)
        except OSError:
            sock.close()
            with self._lock:
                self._preconnected.pop(port, None)
            raise
        return sock

    def claim(self, peer: tuple) -> ExecutionEnvironment | None:
        """The environment a just-accepted connection was made for (see ``preconnect``), if any;
        the connection then counts against it."""
        with self._lock:
            env = self._preconnected.pop(peer[1], None)
            if env is not None:
                self._per_env[id(env)] = self._per_env.get(id(env), 0) + 1
            return env

    def count_in(self, env: ExecutionEnvironment) -> bool:
        """One more connection of ``env``'s, unless it holds ``MAX_ENV_CONNECTIONS`` already."""
        with self._lock:
            held = self._per_env.get(id(env), 0)
            if held >= MAX_ENV_CONNECTIONS:
                return False
            self._per_env[id(env)] = held + 1
            return True

    def count_out(self, env: ExecutionEnvironment) -> None:
        with self._lock:
            held = self._per_env.get(id(env), 1) - 1
            if held > 0:
                self._per_env[id(env)] = held
            else:
                self._per_env.pop(id(env), None)

    def process_request(self, request, client_address) -> None:
        """One thread per connection, but at most ``MAX_STRANGERS`` for connections not known to
        be an environment's: beyond that they are closed before a thread exists."""
        port = client_address[1]
        with self._lock:
            full = port not in self._preconnected and len(self._strangers) >= MAX_STRANGERS
            if not full and port not in self._preconnected:
                self._strangers.add(port)
        if full:
            # Under a flood, an environment that connects by itself (awslambdaric) is still
            # let in: its process is looked up now, anyone else's connection is closed.
            env = self._identify_once(client_address)
            if env is None or not self.count_in(env):
                self.shutdown_request(request)
                return
            with self._lock:
                self._preconnected[port] = env  # claim() counts it: uncount this look-up's
                self._per_env[id(env)] -= 1
        threading.Thread(target=self._serve, args=(request, client_address),
                         name="lambda-runtime-conn", daemon=True).start()

    def _serve(self, request, client_address) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            self.known(client_address)

    def known(self, peer: tuple) -> None:
        """This connection no longer counts as a stranger's (identified, or closed)."""
        with self._lock:
            self._strangers.discard(peer[1])

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request, client_address) -> None:
        """A runtime that died mid-request is the manager's business, not stderr's."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)

    def identify(self, peer: tuple, conn: socket.socket, wide: bool = False) -> ExecutionEnvironment | None:
        """The environment whose process owns the other end of this connection.

        A new process can call before the manager has learnt its pid: while a spawn is
        in flight, look again for a moment before refusing.
        """
        deadline = time.monotonic() + 5.0
        while True:
            spawning = any(e.spawning for e in self.environments())  # looked at before the attempt
            env = self._identify_once(peer, wide)
            if env is not None or not spawning or time.monotonic() > deadline:
                return env
            time.sleep(0.002)

    def _identify_once(self, peer: tuple, wide: bool = False) -> ExecutionEnvironment | None:
        peer_port = peer[1]
        candidates = [e for e in self.environments() if e.pid is not None and e.alive]
        candidates.sort(key=lambda e: e.state != "initializing")
        inode = _socket_inode(peer_port, self.server_address[1])
        if inode is not None:
            target = f"socket:[{inode}]"
            for env in candidates:
                if _holds(env.pid, target):
                    return env
                # A sandbox's runtime runs below the namespace's init, and a restored one (SnapStart)
                # below a supervisor: the environment's first process either way.
                if env.runtime_pid not in (None, env.pid) and _holds(env.runtime_pid, target):
                    return env
            for env in candidates if wide else ():  # an extension: any process of the environment
                if any(_holds(pid, target) for pid in env.group_pids()[1:]):
                    return env
        # Fallback (e.g. /proc/net/tcp unreadable): psutil's view of each candidate's sockets.
        for env in candidates:
            try:
                conns = psutil.Process(env.pid).net_connections(kind="tcp4")
            except (psutil.Error, OSError):
                continue
            for c in conns:
                if c.laddr and c.laddr.port == peer_port and c.raddr and \
                        c.raddr.port == self.server_address[1]:
                    return env
        return None


def _socket_inode(local_port: int, remote_port: int) -> str | None:
    """The inode of the loopback TCP socket local_port -> remote_port (the client's end).

    The same facts psutil reads, but one table scan instead of one per candidate process:
    this runs on every environment's first request, inside its cold start.
    """
    want_local = f":{local_port:04X}"
    want_remote = f":{remote_port:04X}"
    try:
        with open("/proc/net/tcp", encoding="ascii") as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[1].endswith(want_local) and fields[2].endswith(want_remote):
                    return fields[9]
    except (OSError, StopIteration, IndexError):
        return None
    return None


def _holds(pid: int, target: str) -> bool:
    fd_dir = f"/proc/{pid}/fd"
    try:
        for fd in os.listdir(fd_dir):
            try:
                if os.readlink(f"{fd_dir}/{fd}") == target:
                    return True
            except OSError:
                continue
    except OSError:
        return False
    return False
