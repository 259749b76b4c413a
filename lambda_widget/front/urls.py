"""Function URLs and API routes: any HTTP request becomes an event, the result becomes the response.

A function URL has a port of its own, so its paths are all the function's (``rawPath`` is
what the client asked for). API routes (``Api`` / ``HttpApi`` events of a SAM template) share
one port and are matched as ``sam local start-api`` matches them.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from lambda_widget.engine.errors import LambdaApiError, RequestTooLargeException, ResourceNotFoundException
from lambda_widget.engine.validation import MAX_SYNC_REQUEST
from lambda_widget.front import http_events as he
from lambda_widget.front.framing import function_url_response, own_headers
from lambda_widget.front.server import BoundedHandler, MalformedRequest, host_name, is_loopback

_log = logging.getLogger("lambda_widget.front")


@dataclass(frozen=True)
class Route:
    """``method`` (or ``ANY``) and ``path`` (``/items/{id}``, ``/{proxy+}``, or ``$default``)
    to ``function``, with payload format ``"2.0"`` or ``"1.0"``.

    ``event_type``: ``"HttpApi"`` (an HTTP API: payload 2.0 by default, or 1.0) or ``"Api"`` (a REST
    API: payload 1.0); ``stage``, ``stage_variables`` (pairs) and ``binary_types`` are its API's;
    ``line``: where the template defines it."""

    method: str
    path: str
    function: str
    payload: str = "2.0"
    event_type: str = ""
    api: str = ""
    stage: str = ""
    stage_variables: tuple = ()
    binary_types: tuple = ()
    cors: tuple = ()  # its API's CORS, as (field, value) pairs: origin, methods, headers, credentials, max_age
    line: int = field(default=0, compare=False)

    @property
    def kind(self) -> str:
        """``Api`` or ``HttpApi`` (given, or by the payload format)."""
        return self.event_type or ("Api" if self.payload == "1.0" else "HttpApi")

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    def _pattern(self) -> re.Pattern:
        parts = []
        for seg in self.path.strip("/").split("/"):
            m = re.fullmatch(r"\{([A-Za-z0-9_.-]+)(\+?)\}", seg)
            if m and m[2]:
                parts.append(f"(?P<{_group(m[1])}>.+)")
            elif m:
                parts.append(f"(?P<{_group(m[1])}>[^/]+)")
            else:
                parts.append(re.escape(seg))
        return re.compile("^/" + "/".join(parts) + "/?$")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters (URL-decoded, as API Gateway delivers them) if ``method path`` is
        this route's; a GET route answers HEAD too, as sam local's does."""
        if self.method not in ("ANY", method) and not (method == "HEAD" and self.method == "GET"):
            return None
        if self.path == "$default":
            return {}
        m = self._pattern().match(path)
        if m is None:
            return None
        names = re.findall(r"\{([A-Za-z0-9_.-]+)\+?\}", self.path)
        return {name: unquote(m[_group(name)]) for name in names}

    def rank(self) -> tuple:
        """Most specific first: more literal segments, then fewer greedy ones, ``$default`` last."""
        if self.path == "$default":
            return (1, 0, 0, 0)
        segs = self.path.strip("/").split("/")
        literal = sum(1 for s in segs if not s.startswith("{"))
        greedy = sum(1 for s in segs if s.endswith("+}"))
        return (0, greedy, -literal, -len(segs), self.method == "ANY")


def _group(name: str) -> str:
    return "p_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


class _EventHandler(BoundedHandler):
    """Shared by function URLs and API routes: read, invoke, answer."""

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _request(self, body: bytes) -> he.HttpRequest:
        path, _, query = self.path.partition("?")
        return he.HttpRequest(self.command, path or "/", query, list(self.headers.items()), body,
                              self.client_address[0], self.request_version)

    def _serve(self) -> None:
        host = host_name(self.headers.get("Host"))
        if host and not is_loopback(host) and is_loopback(self.server.server_address[0]):
            # A loopback front answers loopback names only: a rebound DNS name is refused.
            self.close_connection = True
            self.answer(403, b'{"Message":"Forbidden"}')
            return
        try:
            self._serve_one()
        except MalformedRequest:
            self.close_connection = True
            self.answer(400, b"Bad Request", content_type="text/plain")
        except Exception:  # noqa: BLE001 - never leave the client without an answer
            _log.exception("lambda_widget's HTTP front failed on %s %s", self.command, self.path)
            self.close_connection = True
            self.answer(500, b'{"message":"Internal Server Error"}')

    def error_answer(self, code: int, message: str) -> tuple[int, bytes, dict[str, str], str]:
        return code, message.encode("latin-1", "replace"), {}, "text/plain"

    def _serve_one(self) -> None:
        raise NotImplementedError

    def _call(self, kind: str, function: str, make_event, respond) -> None:
        """Invoke ``function`` with ``make_event(request_id)`` and answer with ``respond(result)``."""
        errors = he.ERRORS[kind]
        body = self.read_body(MAX_SYNC_REQUEST, drain_limit=2 * MAX_SYNC_REQUEST)
        if body is None:
            self._canned(errors["too-large"])
            return
        mgr = self.server.manager
        request_id = str(uuid.uuid4())  # the HTTP request's id; the invocation has its own
        try:
            event = make_event(self._request(body), request_id)
            inv = mgr.invoke(function, event)
        except RequestTooLargeException:
            self._canned(errors["too-large"])
            return
        except ResourceNotFoundException:
            self.answer(404, b'{"Message":"Function not found"}')
            return
        except LambdaApiError as exc:
            self.answer(400, f'{{"Message":"{exc.code}"}}'.encode())
            return
        headers = {"x-amzn-RequestId": inv.request_id}
        if inv.status == "throttled":
            self._canned(errors["throttled"], headers)
            return
        if inv.status != "succeeded":
            self._canned(errors["error"], headers)
            return
        try:
            response = respond(inv.result)
        except he.BadResponse:
            self._canned(errors["error"], headers)
            return
        # The front alone frames the response: the handler's Content-Length, Transfer-Encoding,
        # Connection (and Date) are dropped; a header that cannot be sent is the function's error.
        items = own_headers(list(response.headers)) + list(headers.items())
        try:
            self.answer(response.status, response.body, items, content_type=None)
        except ValueError:
            self._canned(errors["error"], headers)

    def _canned(self, canned: tuple[int, bytes, str], headers: dict[str, str] | None = None) -> None:
        status, body, ctype = canned
        self.answer(status, body, headers, content_type=ctype)


class FunctionUrlHandler(_EventHandler):
    """``server.manager``, ``server.function``, ``server.domain``, ``server.url_id``, ``server.cors``."""

    def _serve_one(self) -> None:
        server = self.server
        cors = getattr(server, "cors", None)
        if cors is not None and self.command == "OPTIONS" and self.headers.get("Access-Control-Request-Method"):
            # A preflight: with CORS configured, Lambda answers it without invoking the function.
            self.read_body(0, drain_limit=MAX_SYNC_REQUEST)
            self.answer(200, b"", he.cors_headers(cors, self.headers.get("Origin"), preflight=True),
                        content_type=None)
            return

        def make_event(req: he.HttpRequest, request_id: str) -> dict[str, Any]:
            return he.event_v2(req, route_key="$default", domain=server.domain, api_id=server.url_id,
                               request_id=request_id, account_id="anonymous")

        self._call("function-url", server.function, make_event, function_url_response)

    def answer(self, status: int, body: bytes = b"", headers=None, content_type: str | None = "application/json") -> None:
        cors = getattr(self.server, "cors", None)
        if cors is not None and self.command != "OPTIONS":
            # Lambda's CORS headers replace any the function set.
            items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
            items = [(k, v) for k, v in items if not k.lower().startswith("access-control-")]
            headers = items + he.cors_headers(cors, self.headers.get("Origin"))
        super().answer(status, body, headers, content_type)


class ApiHandler(_EventHandler):
    """``server.manager``, ``server.routes`` (most specific first), ``server.api_id``.

    Answers as ``sam local start-api``: a request no route takes gets 403 ``Missing Authentication
    Token``; each route has its payload format (an HTTP API's may be 1.0) and its response mapping."""

    def _serve_one(self) -> None:
        server = self.server
        path = self.path.partition("?")[0] or "/"
        for route in server.routes:
            params = route.match(self.command, path)
            if params is None and self.command == "OPTIONS" and route.cors:
                params = route.match(route.method if route.method != "ANY" else "GET", path)
            if params is not None:
                break
        else:
            self.read_body(0, drain_limit=MAX_SYNC_REQUEST)
            self.answer(403, b'{"message":"Missing Authentication Token"}')
            return
        cors = he.api_cors_headers(dict(route.cors), self.headers.get("Origin"), route.kind == "HttpApi")
        if not route.function:  # an integration the template does not define
            self.read_body(0, drain_limit=MAX_SYNC_REQUEST)
            self.answer(502, b'{"message":"No function defined for resource method"}')
            return
        if self.command == "OPTIONS" and route.cors:
            # With CORS configured, sam local answers OPTIONS itself: a preflight, not an invocation.
            self.read_body(0, drain_limit=MAX_SYNC_REQUEST)
            self.answer(200, b"", cors, content_type=None)
            return
        domain = f"{server.api_id}.execute-api.{server.manager.region}.amazonaws.com"
        account = server.manager.account_id
        variables = dict(route.stage_variables) or None
        http_api = route.kind == "HttpApi"
        stage = route.stage or ("$default" if http_api else "Prod")
        if route.payload == "1.0":
            accept = self.headers.get("Accept")

            def make_event(req: he.HttpRequest, request_id: str) -> dict[str, Any]:
                return he.event_v1(req, resource=route.path, domain=domain, api_id=server.api_id,
                                   request_id=request_id, account_id=account, path_parameters=params,
                                   stage=stage, stage_variables=variables,
                                   port=server.server_address[1], http_api=http_api)

            def respond(result: Any) -> he.HttpResponse:
                return _or_502(lambda: he.api_response_v1(result, http_api=http_api, accept=accept,
                                                          binary_types=route.binary_types), cors)

            self._call("http-api" if http_api else "rest-api", route.function, make_event, respond)
        else:
            def make_event(req: he.HttpRequest, request_id: str) -> dict[str, Any]:
                return he.event_v2(req, route_key=route.route_key, domain=domain, api_id=server.api_id,
                                   request_id=request_id, account_id=account, path_parameters=params,
                                   stage=stage, stage_variables=variables, http_api=True)

            self._call("http-api", route.function, make_event,
                       lambda result: _or_502(lambda: he.api_response_v2(result), cors))


def _or_502(mapping, cors: list[tuple[str, str]]) -> he.HttpResponse:
    """The mapped response with the API's CORS headers; one that cannot be mapped is 502 ``Internal
    server error``, as ``sam local start-api`` answers for REST and HTTP APIs alike."""
    try:
        response = mapping()
    except he.BadResponse:
        return he.HttpResponse(502, [("Content-Type", "application/json")], b'{"message":"Internal server error"}')
    names = {k.lower() for k, _ in cors}
    response.headers = [(k, v) for k, v in response.headers if k.lower() not in names] + cors
    return response


def sort_routes(routes: list[Route]) -> list[Route]:
    return sorted(routes, key=Route.rank)
