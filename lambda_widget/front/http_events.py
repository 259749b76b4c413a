"""HTTP requests as Lambda events, and handler results as HTTP responses.

Payload format 2.0 (function URLs and HTTP APIs) and 1.0 (REST APIs), shaped as
``lambda_widget.events.apigateway_http`` / ``apigateway_rest`` shape their samples.
Pure functions over plain data: the servers in ``urls.py`` call them.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from lambda_widget.events import http_event_v2

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
               "application/x-www-form-urlencoded", "application/graphql", "+json", "+xml")


@dataclass
class HttpRequest:
    """What arrived: method, raw path and query, headers (in order, repeats kept), body, client."""

    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"
    time: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc))


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def url_id(name: str, salt: str = "") -> str:
    """A function URL's id: 32 lower-case characters, stable for a name."""
    digest = hashlib.sha256(f"lambda-widget-url|{salt}|{name}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:32]


def _clf(t: datetime.datetime) -> str:
    return t.strftime("%d/%b/%Y:%H:%M:%S +0000")


def _textual(content_type: str) -> bool:
    ctype = content_type.lower().split(";")[0].strip()
    return any(ctype.startswith(t) or ctype.endswith(t) for t in _TEXT_TYPES if t)


def _body_fields(req: HttpRequest, content_type: str) -> tuple[str | None, bool]:
    if not req.body:
        return None, False
    if content_type and _textual(content_type):
        try:
            return req.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(req.body).decode("ascii"), True


def _joined_headers(req: HttpRequest, lower: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in req.headers:
        k = key.lower() if lower else key
        out[k] = f"{out[k]},{value}" if k in out else value
    return out


def event_v2(req: HttpRequest, *, route_key: str, domain: str, api_id: str, request_id: str,
             account_id: str, path_parameters: dict[str, str] | None = None,
             stage: str = "$default") -> dict[str, Any]:
    """The payload-2.0 event of ``req`` (function URLs: ``route_key="$default"``)."""
    headers = _joined_headers(req, lower=True)
    cookie = headers.pop("cookie", None)
    headers.setdefault("x-forwarded-for", req.source_ip)
    headers.setdefault("x-forwarded-proto", "http")
    text, b64 = _body_fields(req, headers.get("content-type", ""))
    queries: dict[str, list[str]] = {}
    for key, value in parse_qsl(req.raw_query, keep_blank_values=True):
        queries.setdefault(key, []).append(value)
    cookies = [c.strip() for c in cookie.replace(",", ";").split(";") if c.strip()] if cookie else []
    return http_event_v2(
        route_key=route_key, raw_path=req.raw_path, raw_query=req.raw_query, headers=headers,
        queries=queries, cookies=cookies, method=req.method, protocol=req.protocol,
        source_ip=req.source_ip, domain=domain, api_id=api_id, account_id=account_id,
        request_id=request_id, stage=stage, time=req.time, path_parameters=path_parameters,
        stage_variables=None, body=text, is_base64=b64, user_agent=headers.get("user-agent", ""))


def event_v1(req: HttpRequest, *, resource: str, domain: str, api_id: str, request_id: str,
             account_id: str, path_parameters: dict[str, str] | None = None,
             stage: str = "Prod") -> dict[str, Any]:
    """The payload-1.0 event of ``req`` (REST API proxy integration, as ``sam local start-api``)."""
    headers = _joined_headers(req, lower=False)
    multi: dict[str, list[str]] = {}
    for key, value in req.headers:
        multi.setdefault(key, []).append(value)
    queries: dict[str, list[str]] = {}
    for key, value in parse_qsl(req.raw_query, keep_blank_values=True):
        queries.setdefault(key, []).append(value)
    text, b64 = _body_fields(req, next((v for k, v in headers.items() if k.lower() == "content-type"), ""))
    return {
        "resource": resource,
        "path": req.raw_path,
        "httpMethod": req.method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": {k: v[-1] for k, v in queries.items()} or None,
        "multiValueQueryStringParameters": queries or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": api_id,
            "extendedRequestId": hashlib.sha256(request_id.encode()).hexdigest()[:16].upper(),
            "httpMethod": req.method,
            "identity": {
                "accessKey": None, "accountId": None, "caller": None,
                "cognitoAuthenticationProvider": None, "cognitoAuthenticationType": None,
                "cognitoIdentityId": None, "cognitoIdentityPoolId": None, "principalOrgId": None,
                "sourceIp": req.source_ip, "user": None,
                "userAgent": next((v for k, v in headers.items() if k.lower() == "user-agent"), None),
                "userArn": None,
            },
            "path": f"/{stage}{req.raw_path}",
            "protocol": req.protocol,
            "requestId": request_id,
            "requestTime": _clf(req.time),
            "requestTimeEpoch": int(req.time.timestamp() * 1000),
            "resourceId": hashlib.sha256(resource.encode()).hexdigest()[:6],
            "resourcePath": resource,
            "stage": stage,
        },
        "body": text,
        "isBase64Encoded": b64,
    }


class BadResponse(ValueError):
    """The handler's result is not a response the front can send."""


def response_v2(result: Any) -> HttpResponse:
    """Map a handler's result back as function URLs and HTTP APIs do: a dict with
    ``statusCode`` is the response; anything else is JSON with status 200."""
    if isinstance(result, bytes):
        return HttpResponse(200, [("Content-Type", "application/json")], result)
    if not (isinstance(result, dict) and "statusCode" in result):
        return HttpResponse(200, [("Content-Type", "application/json")], json.dumps(result).encode())
    return _structured(result, allow_cookies=True)


def response_v1(result: Any) -> HttpResponse:
    """Map a REST API proxy result: it must be a dict with ``statusCode`` (else 502)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        raise BadResponse("a REST API proxy integration must return a dict with statusCode")
    return _structured(result, allow_cookies=False)


def _structured(result: dict, allow_cookies: bool) -> HttpResponse:
    status = result.get("statusCode")
    try:
        status = int(status)
    except (TypeError, ValueError):
        raise BadResponse(f"statusCode must be a number, not {status!r}") from None
    if not 100 <= status <= 599:
        raise BadResponse(f"statusCode {status} is not an HTTP status")
    headers: list[tuple[str, str]] = []
    for key, value in (result.get("headers") or {}).items():
        headers.append((str(key), _header_value(value)))
    for key, values in (result.get("multiValueHeaders") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            headers.append((str(key), _header_value(value)))
    if allow_cookies:
        for cookie in result.get("cookies") or []:
            headers.append(("Set-Cookie", str(cookie)))
    body = result.get("body")
    if body is None:
        data = b""
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise BadResponse("isBase64Encoded is true but body is not base64") from None
    elif isinstance(body, str):
        data = body.encode("utf-8")
    else:
        data = json.dumps(body).encode()
    for key, value in headers:
        if "\r" in key or "\n" in key or "\r" in value or "\n" in value:
            raise BadResponse("a header holds a line break")
    return HttpResponse(status, headers, data)


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def cors_headers(cors: dict[str, Any], origin: str | None, preflight: bool = False) -> list[tuple[str, str]]:
    """The CORS headers a function URL adds (``FunctionUrlConfig.Cors``: ``AllowOrigins``,
    ``AllowMethods``, ``AllowHeaders``, ``ExposeHeaders``, ``MaxAge``, ``AllowCredentials``)."""
    origins = [str(o) for o in cors.get("AllowOrigins") or []]
    if not origin or not ("*" in origins or origin in origins):
        return []
    credentials = bool(cors.get("AllowCredentials"))
    out = [("Access-Control-Allow-Origin", origin if credentials or "*" not in origins else "*")]
    if credentials:
        out.append(("Access-Control-Allow-Credentials", "true"))
    if preflight:
        for key, header in (("AllowMethods", "Access-Control-Allow-Methods"),
                            ("AllowHeaders", "Access-Control-Allow-Headers")):
            if cors.get(key):
                out.append((header, ",".join(str(v) for v in cors[key])))
        if cors.get("MaxAge") is not None:
            out.append(("Access-Control-Max-Age", str(int(cors["MaxAge"]))))
    elif cors.get("ExposeHeaders"):
        out.append(("Access-Control-Expose-Headers", ",".join(str(v) for v in cors["ExposeHeaders"])))
    out.append(("Vary", "Origin"))
    return out


# Answers when the function did not give a response (function URLs / API Gateway).
ERRORS = {
    "function-url": {"error": (502, b"Internal Server Error", "text/plain"),
                     "throttled": (429, b'{"Message":"Rate Exceeded."}', "application/json"),
                     "too-large": (413, b"Request Entity Too Large", "text/plain")},
    "http-api": {"error": (500, b'{"message":"Internal Server Error"}', "application/json"),
                 "throttled": (500, b'{"message":"Internal Server Error"}', "application/json"),
                 "too-large": (413, b'{"message":"Request Entity Too Large"}', "application/json")},
    "rest-api": {"error": (502, b'{"message": "Internal server error"}', "application/json"),
                 "throttled": (500, b'{"message": "Internal server error"}', "application/json"),
                 "too-large": (413, b'{"message":"Request Entity Too Large"}', "application/json")},
}
