"""A small HTTP server that a hostile client cannot hang or grow: the base of every front.

- a cap on open connections (over it, a short 429 and the connection is closed);
- a deadline for reading each request (headers and body), enforced by a reaper thread that
  shuts slow connections down, so a client sending a byte a minute holds nothing for long;
- bodies read against a byte limit, in chunks;
- loopback by default; any other address warns, and ``remote_ok`` decides per request
  what other hosts may call.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOOPBACK = "127.0.0.1"
MAX_CONNECTIONS = 128
READ_DEADLINE = 30.0  # seconds to send one request (headers and body), keep-alive wait included
CHUNK = 1 << 16
_BUSY_BODY = b'{"Type":"User","message":"Rate Exceeded.","Reason":"ConcurrentInvocationLimitExceeded"}'
_BUSY = (b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
         b"x-amzn-ErrorType: TooManyRequestsException\r\nConnection: close\r\nContent-Length: "
         + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY)


class FrontWarning(UserWarning):
    """A front listens where other hosts can reach it."""


class MalformedRequest(Exception):
    """The request cannot be read safely (a bad Content-Length or Transfer-Encoding): it is
    answered 400 and the connection is closed."""


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1, an IPv4-mapped loopback address (``::ffff:127.0.0.1``) or ``localhost``."""
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return host.lower().rstrip(".") == "localhost"
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def host_name(header: str | None) -> str:
    """The host of a ``Host`` header, without its port or an IPv6 address's brackets."""
    value = (header or "").strip()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def peer_uid(client: tuple, server: tuple) -> int | None:
    """The user id owning the client end of a loopback TCP connection, from ``/proc/net/tcp``
    (readable by everyone on Linux); None where that cannot be known."""
    def key(addr: tuple, v6: bool) -> str:
        packed = socket.inet_pton(socket.AF_INET6 if v6 else socket.AF_INET, addr[0].split("%")[0])
        words = [packed[i:i + 4][::-1].hex().upper() for i in range(0, len(packed), 4)]
        return "".join(words) + f":{addr[1]:04X}"

    v6 = ":" in client[0]
    try:
        want_local, want_remote = key(client, v6), key(server, v6)
        with open("/proc/net/tcp6" if v6 else "/proc/net/tcp", encoding="ascii") as table:
            next(table)
            for line in table:
                fields = line.split()
                if len(fields) > 7 and fields[1] == want_local and fields[2] == want_remote:
                    return int(fields[7])
    except (OSError, ValueError, StopIteration):
        return None
    return None


class BoundedServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a connection cap and a per-request read deadline."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 max_connections: int = MAX_CONNECTIONS, read_deadline: float = READ_DEADLINE) -> None:
        self.max_connections = max_connections
        self.read_deadline = read_deadline
        self._slots = threading.BoundedSemaphore(max_connections)
        self._reading: dict[socket.socket, float] = {}  # connection -> deadline, while reading a request
        self._reading_lock = threading.Lock()
        self._stopped = threading.Event()
        super().__init__(address, handler)

    # -- connections -------------------------------------------------------------
    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            try:
                request.settimeout(1.0)
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.reading_done(request)
            self._slots.release()

    def reading(self, conn: socket.socket) -> None:
        """``conn`` starts (or goes back to) reading a request: its deadline starts now."""
        with self._reading_lock:
            self._reading[conn] = time.monotonic() + self.read_deadline

    def reading_done(self, conn: socket.socket) -> None:
        with self._reading_lock:
            self._reading.pop(conn, None)

    def _reap_slow(self) -> None:
        while not self._stopped.wait(0.5):
            now = time.monotonic()
            with self._reading_lock:
                late = [c for c, d in self._reading.items() if d <= now]
                for c in late:
                    del self._reading[c]
            for conn in late:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    # -- life ----------------------------------------------------------------------
    def start(self, name: str) -> None:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                         name=f"{name}-serve", daemon=True).start()
        threading.Thread(target=self._reap_slow, name=f"{name}-reaper", daemon=True).start()

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.shutdown()
        self.server_close()
        with self._reading_lock:
            conns = list(self._reading)
            self._reading.clear()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class BoundedHandler(BaseHTTPRequestHandler):
    """Request handler base: deadlines, bounded bodies, answers framed by the front alone, quiet logs."""

    protocol_version = "HTTP/1.1"
    server_version = "lambda-widget"
    sys_version = ""
    timeout = READ_DEADLINE  # a socket-level bound too, for reads the reaper has not reached
    disable_nagle_algorithm = True  # small answers go out at once (no 40 ms delayed-ACK stall)
    server: BoundedServer
    body_size = 0  # bytes of the last request body, as declared or read

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def handle_one_request(self) -> None:
        self.server.reading(self.connection)
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True
        finally:
            self.server.reading_done(self.connection)

    @property
    def remote(self) -> bool:
        """The client is on another host."""
        return not is_loopback(self.client_address[0])

    def read_body(self, limit: int, drain_limit: int | None = None) -> bytes | None:
        """The request body, or None when it is larger than ``limit`` bytes. A body up to
        ``drain_limit`` is read and dropped (so the client sees the answer, not a reset);
        a larger one closes the connection after the answer. A Content-Length that is not a
        number, is negative, or is given twice with different values (or next to a
        Transfer-Encoding) raises MalformedRequest."""
        self.server.reading(self.connection)  # the body, too, must arrive before the deadline
        lengths = self.headers.get_all("Content-Length") or []
        encodings = [v.strip().lower() for v in self.headers.get_all("Transfer-Encoding") or []]
        if encodings:
            if lengths or encodings != ["chunked"]:
                self.close_connection = True
                raise MalformedRequest("Transfer-Encoding must be chunked, alone, without a Content-Length")
            return self._read_chunked(limit)
        values = {v.strip() for v in lengths}
        if len(values) > 1 or any(not v.isdigit() for v in values):
            self.close_connection = True
            raise MalformedRequest(f"Content-Length must be one number of bytes, not {', '.join(lengths)!r}")
        length = int(values.pop()) if values else 0
        self.body_size = length
        if length > limit:
            if length <= (drain_limit or limit):
                self._discard(length)
            else:
                self.close_connection = True
            return None
        return self._read_exact(length)

    def _read_exact(self, n: int) -> bytes:
        parts, left = [], n
        while left:
            chunk = self.rfile.read(min(CHUNK, left))
            if not chunk:
                raise ConnectionError("client closed the connection mid-body")
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    def _discard(self, n: int) -> None:
        while n:
            chunk = self.rfile.read(min(CHUNK, n))
            if not chunk:
                raise ConnectionError("client closed the connection mid-body")
            n -= len(chunk)

    def _read_chunked(self, limit: int) -> bytes | None:
        parts, size = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                n = int(line.split(b";")[0].strip() or b"x", 16)
            except ValueError:
                self.close_connection = True
                raise MalformedRequest("a chunk size is not a hexadecimal number") from None
            if n < 0:
                self.close_connection = True
                raise MalformedRequest("a chunk size is negative")
            if n == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                self.body_size = size
                return b"".join(parts)
            size += n
            if size > limit:
                self.body_size = size
                self.close_connection = True
                return None
            parts.append(self._read_exact(n))
            self.rfile.readline(4)

    def answer(self, status: int, body: bytes = b"", headers: dict[str, str] | list | None = None,
               content_type: str | None = "application/json") -> None:
        """Send one whole response: the status line, ``headers``, the framing headers the front
        alone sets (Content-Length, Connection, Date) and the body, in one write.

        No body (and no Content-Length) on 1xx, 204 and 304, none on HEAD; after a 1xx the
        connection is closed. Every header is encoded before anything is written, so a value
        that cannot be sent raises ValueError and nothing reaches the client."""
        self.server.reading_done(self.connection)
        items = list(headers.items() if isinstance(headers, dict) else (headers or []))
        bodiless = status < 200 or status in (204, 304)
        if status < 200:
            self.close_connection = True
        names = {key.lower() for key, _ in items}
        if content_type and "content-type" not in names and not bodiless and (body or status != 202):
            items.append(("Content-Type", content_type))
        if not bodiless:
            items.append(("Content-Length", str(len(body))))
        items.append(("Date", self.date_time_string()))
        if self.close_connection:
            items.append(("Connection", "close"))
        head = [f"{self.protocol_version} {status} {self.responses.get(status, ('',))[0]}"]
        head += [f"{key}: {value}" for key, value in items]
        try:
            data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError("a header cannot be sent: it is not Latin-1 text") from None
        if any(c in f"{k}{v}" for k, v in items for c in "\r\n\0"):
            raise ValueError("a header cannot be sent: it holds a line break or NUL")
        if body and not bodiless and self.command != "HEAD":
            data += body
        self._headers_buffer = []  # whatever a failed attempt left is never sent
        self.log_request(status)
        self.wfile.write(data)
        self.wfile.flush()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The base class's errors (a malformed request line, headers too long, an unknown
        method) answered in this front's shape instead of an HTML page."""
        self.close_connection = True
        self._headers_buffer = []
        try:
            status, body, headers, ctype = self.error_answer(code, message or self.responses.get(code, ("",))[0])
            self.answer(status, body, headers, content_type=ctype)
        except (OSError, ValueError):
            pass

    def error_answer(self, code: int, message: str) -> tuple[int, bytes, dict[str, str], str]:
        """(status, body, headers, content type) of a protocol-level error; subclasses shape it."""
        return code, json.dumps({"message": message}).encode(), {}, "application/json"


class Endpoint:
    """A running front: ``url``, ``close()``, and a context manager that closes it."""

    def __init__(self, server: BoundedServer, kind: str, on_close=None) -> None:
        self._server = server
        self.kind = kind
        host, port = server.server_address[:2]
        self.host, self.port = host, port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}/"
        self._on_close = on_close

    @property
    def closed(self) -> bool:
        return self._server._stopped.is_set()

    def close(self) -> None:
        """Stop listening and close every open connection. Idempotent."""
        if not self.closed:
            self._server.stop()
            if self._on_close is not None:
                self._on_close(self)

    def __enter__(self) -> Endpoint:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"<Endpoint {self.kind} {self.url}{' closed' if self.closed else ''}>"


def check_port(port: Any) -> int:
    """A TCP port to listen on: a whole number from 0 (any free port) to 65535."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be a whole number from 0 (any free port) to 65535, not {port!r}")
    return port


def listen(handler: type[BoundedHandler], host: str, port: int, kind: str, attrs: dict[str, Any],
           on_close=None, max_connections: int = MAX_CONNECTIONS) -> Endpoint:
    """Start a BoundedServer for ``handler`` (``attrs`` set on the server) and return its Endpoint."""
    check_port(port)
    if not is_loopback(host):
        warnings.warn(f"the lambda_widget {kind} listens on {host}:{port}: other hosts can reach it "
                      f"(they get Invoke only). Use 127.0.0.1 unless you mean it.", FrontWarning,
                      stacklevel=3)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class _Server(BoundedServer):
        address_family = family

    server = _Server((host, port), handler, max_connections=max_connections)
    for key, value in attrs.items():
        setattr(server, key, value)
    server.start(f"lw-{kind}")
    return Endpoint(server, kind, on_close)
