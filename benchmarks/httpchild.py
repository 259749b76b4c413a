"""The HTTP baseline's child: a tiny HTTP/1.1 keep-alive server that calls a handler per POST.

Run as ``python -m benchmarks.httpchild``; it prints its port on stdout and serves until
stdin closes. Same standard-library HTTP stack and TCP_NODELAY as the Runtime API, one
request/response per invocation: the floor a process-per-environment design pays.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from benchmarks.handlers import TRIVIAL, load

_handler = load(TRIVIAL)


class _Invoke(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        event = json.loads(self.rfile.read(length) or b"null")
        body = json.dumps(_handler(event, None)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Invoke)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # the parent closes stdin (or dies): stop


if __name__ == "__main__":
    main()
