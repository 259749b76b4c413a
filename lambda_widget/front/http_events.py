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
from urllib.parse import parse_qsl, unquote

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
             stage: str = "$default", stage_variables: dict[str, str] | None = None,
             http_api: bool = False) -> dict[str, Any]:
    """The payload-2.0 event of ``req`` (function URLs: ``route_key="$default"``).

    ``http_api``: an HTTP API route's event, which delivers the path URL-decoded (a function URL
    keeps it as sent) and carries ``requestContext.authentication``."""
    headers = _joined_headers(req, lower=True)
    cookie = headers.pop("cookie", None)
    headers.setdefault("x-forwarded-for", req.source_ip)
    headers.setdefault("x-forwarded-proto", "http")
    text, b64 = _body_fields(req, headers.get("content-type", ""))
    queries: dict[str, list[str]] = {}
    for key, value in parse_qsl(req.raw_query, keep_blank_values=True):
        queries.setdefault(key, []).append(value)
    cookies = [c.strip() for c in cookie.replace(",", ";").split(";") if c.strip()] if cookie else []
    extra = {"authentication": None} if http_api else {}
    return http_event_v2(
        route_key=route_key, raw_path=unquote(req.raw_path) if http_api else req.raw_path,
        raw_query=req.raw_query, headers=headers,
        queries=queries, cookies=cookies, method=req.method, protocol=req.protocol,
        source_ip=req.source_ip, domain=domain, api_id=api_id, account_id=account_id,
        request_id=request_id, stage=stage, time=req.time, path_parameters=path_parameters,
        stage_variables=stage_variables or None, body=text, is_base64=b64,
        user_agent=headers.get("user-agent", ""), **extra)


def event_v1(req: HttpRequest, *, resource: str, domain: str, api_id: str, request_id: str,
             account_id: str, path_parameters: dict[str, str] | None = None,
             stage: str = "Prod", stage_variables: dict[str, str] | None = None,
             port: int | None = None, http_api: bool = False) -> dict[str, Any]:
    """The payload-1.0 event of ``req`` (REST API proxy integration, as ``sam local start-api``;
    ``http_api``: an HTTP API route with ``PayloadFormatVersion: "1.0"``, which delivers the path
    URL-decoded where a REST API keeps it as sent)."""
    items = list(req.headers)
    names = {k.lower() for k, _ in items}
    # API Gateway (and sam local) tell the function how the client reached it.
    if "x-forwarded-proto" not in names:
        items.append(("X-Forwarded-Proto", "http"))
    if "x-forwarded-port" not in names and port is not None:
        items.append(("X-Forwarded-Port", str(port)))
    headers: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in items:
        headers[key] = f"{headers[key]},{value}" if key in headers else value
        multi.setdefault(key, []).append(value)
    queries: dict[str, list[str]] = {}
    for key, value in parse_qsl(req.raw_query, keep_blank_values=True):
        queries.setdefault(key, []).append(value)
    text, b64 = _body_fields(req, next((v for k, v in headers.items() if k.lower() == "content-type"), ""))
    path = unquote(req.raw_path) if http_api else req.raw_path
    event: dict[str, Any] = {"version": "1.0"} if http_api else {}
    event.update({
        "resource": resource,
        "path": path,
        "httpMethod": req.method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": {k: v[-1] for k, v in queries.items()} or None,
        "multiValueQueryStringParameters": queries or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
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
            "path": path if stage == "$default" else f"/{stage}{path}",
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
    })
    return event


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


_V1_KEYS = {"statusCode", "body", "headers", "multiValueHeaders", "isBase64Encoded", "cookies"}


def api_response_v1(result: Any, *, http_api: bool = False, binary_types: tuple[str, ...] = (),
                    accept: str | None = None) -> HttpResponse:
    """Map a payload-1.0 result as ``sam local start-api`` (and API Gateway) do.

    A REST API takes a dict without ``statusCode`` as 200 and refuses unknown keys (502); an HTTP
    API needs ``statusCode`` and skips unknown keys. A REST API decodes a base64 body
    (``base64Encoded``, else ``isBase64Encoded``) only when the client ``accept``s the response's
    content type and it is one of the API's ``binary_types``; an HTTP API decodes it whenever
    ``isBase64Encoded`` is true."""
    if not isinstance(result, dict):
        raise BadResponse(f"the function returned {type(result).__name__}, not a dict")
    if http_api and result.get("statusCode") is None:
        raise BadResponse("statusCode is missing")
    if not http_api and set(result) - _V1_KEYS - {"base64Encoded"}:
        raise BadResponse(f"unknown keys {sorted(set(result) - _V1_KEYS - {'base64Encoded'})}")
    status = _status(result.get("statusCode") or 200)
    headers = _merged_headers(result.get("headers") or {}, result.get("multiValueHeaders") or {})
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    field_name = "base64Encoded" if not http_api and result.get("base64Encoded") is not None else "isBase64Encoded"
    encoded = result.get(field_name, False)
    if isinstance(encoded, str) and encoded in ("true", "True", "false", "False"):
        encoded = encoded in ("true", "True")
    elif encoded is None:
        encoded = False
    elif not isinstance(encoded, bool):
        raise BadResponse(f"{field_name} must be true or false, not {encoded!r}")
    content_type = next(v for k, v in headers if k.lower() == "content-type")
    if not http_api:
        match = _best_match(accept, content_type)
        encoded = encoded and match is not None and (match in binary_types or "*/*" in binary_types)
    return HttpResponse(status, headers, _body_bytes(result.get("body"), encoded))


def api_response_v2(result: Any) -> HttpResponse:
    """Map a payload-2.0 result of an HTTP API route, as ``sam local start-api`` does: a dict with
    ``statusCode`` is the response (unknown keys skipped); another dict is JSON; any other value
    (a string, a number) is the body as text."""
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body")
    elif isinstance(result, dict):
        body, result = json.dumps(result), {}
    else:
        body, result = result, {}
    status = _status(result.get("statusCode") or 200)
    headers = [(str(k), _header_value(v)) for k, v in (result.get("headers") or {}).items()]
    cookies = result.get("cookies")
    if isinstance(cookies, list):
        headers += [("Set-Cookie", str(c)) for c in cookies]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    response = HttpResponse(status, headers, _body_bytes(body, bool(result.get("isBase64Encoded"))))
    _check_headers(response.headers)
    return response


def _status(value: Any) -> int:
    try:
        status = int(value)
    except (TypeError, ValueError):
        raise BadResponse(f"statusCode must be a number, not {value!r}") from None
    if not 100 <= status <= 599:
        raise BadResponse(f"statusCode {status} is not an HTTP status")
    return status


def _body_bytes(body: Any, encoded: bool) -> bytes:
    if body is None or body == "":
        return b""
    if isinstance(body, (dict, list)):
        text = json.dumps(body)
    elif isinstance(body, bool):
        text = "true" if body else "false"
    else:
        text = str(body)
    if encoded:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise BadResponse("isBase64Encoded is true but body is not base64") from None
    return text.encode("utf-8")


def _merged_headers(headers: dict, multi: dict) -> list[tuple[str, str]]:
    """``multiValueHeaders`` then ``headers``, a pair given in both only once (as API Gateway merges them)."""
    out: list[tuple[str, str]] = []
    for key, values in multi.items():
        for value in values if isinstance(values, list) else [values]:
            out.append((str(key), _header_value(value)))
    for key, value in headers.items():
        pair = (str(key), _header_value(value))
        if pair not in out:
            out.append(pair)
    _check_headers(out)
    return out


def _check_headers(headers: list[tuple[str, str]]) -> None:
    for key, value in headers:
        if "\r" in key or "\n" in key or "\r" in value or "\n" in value:
            raise BadResponse("a header holds a line break")


def _best_match(accept: str | None, offer: str) -> str | None:
    """``offer`` if the request's Accept header takes it (``type/sub``, ``type/*``, ``*/*``; q > 0)."""
    if not accept:
        return None
    offer_type = offer.split(";")[0].strip().lower()
    for item in accept.split(","):
        media, _, params = item.strip().partition(";")
        media = media.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0 and (media in ("*/*", offer_type) or (media.endswith("/*") and offer_type.startswith(media[:-1]))):
            return offer_type
    return None


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


def api_cors_headers(cors: dict[str, Any], origin: str | None, http_api: bool) -> list[tuple[str, str]]:
    """The CORS headers of an API route, as ``sam local start-api`` sends them: a REST API's always
    (its configured values), an HTTP API's only to an allowed ``Origin``."""
    if not cors:
        return []
    allowed = cors.get("origin")
    if http_api:
        origins = [o.strip() for o in (allowed or "").split(",") if o.strip()]
        if not origin or not ("*" in origins or origin in origins):
            return []
        allowed = "*" if "*" in origins else origin
    out = [("Access-Control-Allow-Origin", allowed), ("Access-Control-Allow-Methods", cors.get("methods")),
           ("Access-Control-Allow-Headers", cors.get("headers")),
           ("Access-Control-Allow-Credentials", cors.get("credentials")),
           ("Access-Control-Max-Age", cors.get("max_age"))]
    return [(k, str(v)) for k, v in out if v is not None]


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
