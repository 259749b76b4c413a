"""What a handler's result may put on the wire: the function URL (payload 2.0) response, checked
as Lambda checks it, and the headers only the front may set.

A function URL answers 502 ``Internal Server Error`` to a result it cannot send: a ``statusCode``
that is not an integer (``"201"``, ``200.7``), ``isBase64Encoded`` that is not a boolean,
``cookies`` that are not a list of strings, a header name that is not an HTTP token (``:``, NUL,
spaces) or a value that cannot be sent (a line break, NUL, text that is not Latin-1).
Recorded (LocalStack's snapshots, 2025-11): a result without ``statusCode`` is sent as compact
JSON, a string as its text, both as ``application/json``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from lambda_widget.front.http_events import BadResponse, HttpResponse

# Framing is the front's alone: the handler's own values of these are dropped.
FRONT_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
                           "te", "trailer", "proxy-connection", "date"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def own_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` without those the front alone sets."""
    return [(k, v) for k, v in headers if k.lower() not in FRONT_HEADERS]


def sendable(key: str, value: str) -> bool:
    """A header HTTP/1.1 can carry: a token for a name, a Latin-1 value without CR, LF or NUL."""
    if not _TOKEN.fullmatch(key) or any(c in value for c in "\r\n\0"):
        return False
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def function_url_response(result: Any) -> HttpResponse:
    """Map a handler's result to the function URL's response; BadResponse where Lambda gives 502."""
    json_type = [("Content-Type", "application/json")]
    if isinstance(result, bytes):
        return HttpResponse(200, json_type, result)
    if isinstance(result, str):
        return HttpResponse(200, json_type, result.encode("utf-8"))
    if not (isinstance(result, dict) and "statusCode" in result):
        return HttpResponse(200, json_type, _compact(result))
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise BadResponse(f"statusCode must be an integer HTTP status, not {status!r}")
    encoded = result.get("isBase64Encoded", False)
    if encoded is not None and not isinstance(encoded, bool):
        raise BadResponse(f"isBase64Encoded must be a boolean, not {encoded!r}")
    cookies = result.get("cookies")
    if cookies is not None and not (isinstance(cookies, list) and all(isinstance(c, str) for c in cookies)):
        raise BadResponse(f"cookies must be a list of strings, not {cookies!r}")
    raw_headers = result.get("headers")
    if raw_headers is not None and not isinstance(raw_headers, dict):
        raise BadResponse(f"headers must be an object, not {raw_headers!r}")
    headers: list[tuple[str, str]] = []
    for key, value in (raw_headers or {}).items():
        if isinstance(value, (dict, list)) or value is None:
            raise BadResponse(f"header {key!r} must be a string, not {value!r}")
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if not sendable(str(key), text):
            raise BadResponse(f"header {key!r} cannot be sent")
        headers.append((str(key), text))
    for cookie in cookies or []:
        if not sendable("Set-Cookie", cookie):
            raise BadResponse("a cookie cannot be sent")
        headers.append(("Set-Cookie", cookie))
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    body = result.get("body")
    if encoded and body is not None:
        data = _base64(body)
    else:
        data = b"" if body is None else body.encode("utf-8") if isinstance(body, str) else _compact(body)
    return HttpResponse(status, own_headers(headers), data)


def _base64(body: Any) -> bytes:
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise BadResponse("isBase64Encoded is true but body is not base64") from None
