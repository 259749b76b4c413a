"""Lambda's Invoke API (and the calls a deploy needs) on loopback, for boto3 and the AWS CLI.

Served: ``Invoke``, ``ListFunctions``, ``GetFunction``, ``GetFunctionConfiguration``,
``CreateFunction`` and ``UpdateFunctionCode`` (zip files). Requests must be signed the way
AWS clients sign them (SigV4, any credentials: the signature is not checked), so a web page
in your browser cannot deploy code here. Other hosts get ``Invoke`` only.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import os
import re
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from lambda_widget.engine.asyncq import MAX_ASYNC_REQUEST
from lambda_widget.engine.errors import LambdaApiError
from lambda_widget.engine.validation import MAX_SYNC_REQUEST
from lambda_widget.front.server import BoundedHandler, is_loopback, peer_uid
from lambda_widget.front.shapes import (
    ApiError,
    error_body,
    error_of,
    function_configuration,
    parse_function_name,
    runtime_name,
)

MAX_CLIENT_CONTEXT = 3583  # bytes of the base64 header, as Lambda limits it
MAX_CREATE_REQUEST = 69_905_067  # "Request must be smaller than 69905067 bytes for the CreateFunction operation"
MAX_TAIL = 4096
MAX_LIST = 50
_ROUTES = [
    ("POST", re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$"), "Invoke"),
    ("GET", re.compile(r"^/2015-03-31/functions/?$"), "ListFunctions"),
    ("POST", re.compile(r"^/2015-03-31/functions/?$"), "CreateFunction"),
    ("GET", re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/configuration/?$"), "GetFunctionConfiguration"),
    ("GET", re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/?$"), "GetFunction"),
    ("PUT", re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/code/?$"), "UpdateFunctionCode"),
]
SERVED = [op for _, _, op in _ROUTES]
_DEPLOY_LOCK = threading.Lock()  # one deploy at a time: unzip and pip are not cheap


class LambdaApiHandler(BoundedHandler):
    """Answers Lambda API calls from the manager on ``server.manager``."""

    _peer_uid: int | None = None  # of this connection's client, looked up once

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # -- dispatch ------------------------------------------------------------------
    def _dispatch(self) -> None:
        try:
            url = urlsplit(self.path)
            path = unquote(url.path)
            self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            op, params = self._route(self.command, path)
            self._check_client(op)
            handler = getattr(self, "_op_" + op)
            handler(**params)
        except Exception as exc:  # noqa: BLE001 - every failure is an AWS-shaped answer
            if not isinstance(exc, LambdaApiError):
                self.close_connection = True
            status, body, headers = error_of(exc)
            headers["x-amzn-RequestId"] = str(uuid.uuid4())
            self.answer(status, body, headers)

    def _route(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        for verb, pattern, op in _ROUTES:
            match = pattern.match(path)
            if match and verb == method:
                return op, match.groupdict()
        raise ApiError("UnknownOperationException",
                       f"lambda_widget serves {', '.join(SERVED)}; not {method} {path}")

    def _check_client(self, op: str) -> None:
        # A browser page may POST to loopback; it cannot send an AWS signature without a
        # CORS preflight, which is never granted here. DNS rebinding shows in the Host header.
        if self.headers.get("Origin"):
            raise ApiError("AccessDeniedException", "Requests from web pages are not served")
        if not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256"):
            raise ApiError("UnrecognizedClientException",
                           "The request must be signed (AWS Signature Version 4, any credentials): "
                           "use boto3 or the AWS CLI")
        if self.remote:
            if op != "Invoke":
                raise ApiError("AccessDeniedException",
                               f"{op} is served to this machine only; other hosts may call Invoke")
            return
        if self._peer_uid is None:
            uid = peer_uid(self.client_address, self.connection.getsockname())
            self._peer_uid = -1 if uid is None else uid  # -1: unknown (not Linux)
        if self._peer_uid not in (-1, os.getuid()):
            # On a shared machine another user could otherwise deploy code that runs as you.
            raise ApiError("AccessDeniedException", "This endpoint serves its own user's processes only")
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        if host and not is_loopback(host) and is_loopback(self.server.server_address[0]):
            raise ApiError("AccessDeniedException", f"Unexpected Host header {host!r}")

    def _json_body(self, limit: int, operation: str) -> dict[str, Any]:
        body = self.read_body(limit, drain_limit=limit)
        if body is None:
            raise ApiError("RequestTooLargeException",
                           f"Request must be smaller than {limit} bytes for the {operation} operation")
        try:
            data = json.loads(body or b"{}")
        except ValueError as exc:
            raise ApiError("InvalidRequestContentException", f"Could not parse request body into json: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError("InvalidRequestContentException", "The request body must be a JSON object")
        return data

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        headers = dict(headers or {})
        # Not the manager's seeded ids: API calls must not shift a lesson's invocation ids.
        headers.setdefault("x-amzn-RequestId", str(uuid.uuid4()))
        self.answer(status, json.dumps(data).encode(), headers)

    # -- Invoke --------------------------------------------------------------------
    def _op_Invoke(self, name: str) -> None:
        mgr = self.server.manager
        name, qualifier = parse_function_name(name)
        qualifier = self.query.get("Qualifier") or qualifier
        itype = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if itype not in ("RequestResponse", "Event", "DryRun"):
            raise ApiError("InvalidParameterValueException",
                           f"Unsupported invocation type {itype!r}: use RequestResponse, Event or DryRun")
        limit = MAX_ASYNC_REQUEST if itype == "Event" else MAX_SYNC_REQUEST
        # Read (and drop) an oversized body up to twice the limit, so the client reads the
        # 413 instead of a reset connection; a larger one closes the connection.
        payload = self.read_body(limit, drain_limit=2 * MAX_SYNC_REQUEST + 1024)
        if payload is None:
            raise ApiError("RequestTooLargeException",
                           f"Request must be smaller than {limit} bytes for the {'InvokeAsync' if itype == 'Event' else 'InvokeFunction'} operation")
        fn = mgr.function(name)
        executed = _resolve_qualifier(mgr, fn, qualifier)
        client_context = _client_context(self.headers.get("X-Amz-Client-Context"))
        log_type = self.headers.get("X-Amz-Log-Type") or "None"
        if log_type not in ("None", "Tail"):
            raise ApiError("InvalidParameterValueException", f"Unsupported log type {log_type!r}: use None or Tail")
        inv = mgr.invoke(name, payload.strip() or b"{}", invocation_type=itype, client_context=client_context)
        headers = {"x-amzn-RequestId": inv.request_id, "X-Amz-Executed-Version": executed}
        if itype == "DryRun":
            self.answer(204, b"", headers)
            return
        if itype == "Event":
            self.answer(202, b"", headers)
            return
        if inv.status == "throttled":
            error = inv.error or {}
            status, body, extra = error_body("TooManyRequestsException", error.get("errorMessage", "Rate Exceeded."),
                                             Reason=error.get("Reason", "ReservedFunctionConcurrentInvocationLimitExceeded"))
            headers.update(extra)
            headers["Retry-After"] = "1"
            self.answer(status, body, headers)
            return
        if log_type == "Tail":
            text = ("\n".join(inv.logs) + "\n").encode("utf-8", "replace")
            headers["X-Amz-Log-Result"] = base64.b64encode(text[-MAX_TAIL:]).decode()
        if inv.status == "succeeded":
            body = inv.result if isinstance(inv.result, bytes) else json.dumps(inv.result).encode()
        else:
            headers["X-Amz-Function-Error"] = "Unhandled"
            body = json.dumps(inv.error or {}).encode()
        self.answer(200, body, headers)

    # -- reading functions -----------------------------------------------------------
    def _config(self, fn) -> dict[str, Any]:
        mgr = self.server.manager
        return function_configuration(fn, mgr.region, mgr.account_id)

    def _op_ListFunctions(self) -> None:
        mgr = self.server.manager
        try:
            max_items = int(self.query.get("MaxItems") or MAX_LIST)
        except ValueError:
            raise ApiError("InvalidParameterValueException", "MaxItems must be a number") from None
        max_items = max(1, min(max_items, MAX_LIST))
        names = sorted(mgr.functions)
        marker = self.query.get("Marker")
        start = names.index(marker) if marker in names else 0
        page = names[start:start + max_items]
        data: dict[str, Any] = {"Functions": [self._config(mgr.function(n)) for n in page]}
        if start + max_items < len(names):
            data["NextMarker"] = names[start + max_items]
        self._send_json(200, data)

    def _op_GetFunction(self, name: str) -> None:
        mgr = self.server.manager
        name, qualifier = parse_function_name(name)
        fn = mgr.function(name)
        version = _resolve_qualifier(mgr, fn, self.query.get("Qualifier") or qualifier)
        data: dict[str, Any] = {
            "Configuration": function_configuration(fn, mgr.region, mgr.account_id, version),
            "Code": {"RepositoryType": "Local", "Location": fn.path or "(inline source)"},
        }
        if fn.reserved_concurrency is not None:
            data["Concurrency"] = {"ReservedConcurrentExecutions": fn.reserved_concurrency}
        self._send_json(200, data)

    def _op_GetFunctionConfiguration(self, name: str) -> None:
        mgr = self.server.manager
        name, qualifier = parse_function_name(name)
        fn = mgr.function(name)
        version = _resolve_qualifier(mgr, fn, self.query.get("Qualifier") or qualifier)
        self._send_json(200, function_configuration(fn, mgr.region, mgr.account_id, version))

    # -- deploying -------------------------------------------------------------------
    def _op_CreateFunction(self) -> None:
        mgr = self.server.manager
        req = self._json_body(MAX_CREATE_REQUEST, "CreateFunction")
        name, _ = parse_function_name(_required(req, "FunctionName"))
        runtime = req.get("Runtime")
        if runtime is not None and not str(runtime).startswith("python3"):
            raise ApiError("InvalidParameterValueException",
                           f"lambda_widget runs Python functions (it runs {runtime_name()}); not {runtime}")
        if req.get("PackageType", "Zip") != "Zip":
            raise ApiError("InvalidParameterValueException", "Only PackageType Zip is served")
        handler = _required(req, "Handler")
        if name in mgr.functions:
            raise ApiError("ResourceConflictException", f"Function already exist: {name}")
        config: dict[str, Any] = {"handler": handler}
        if "Timeout" in req:
            config["timeout"] = req["Timeout"]
        if "MemorySize" in req:
            config["memory_mb"] = req["MemorySize"]
        variables = (req.get("Environment") or {}).get("Variables")
        if variables:
            config["env"] = variables
        architectures = req.get("Architectures")
        if architectures and "architecture" in inspect.signature(mgr.register).parameters:
            config["architecture"] = architectures[0]
        fn = self._deploy(name, _zip_of(req), config)
        self._send_json(201, self._config(fn))

    def _op_UpdateFunctionCode(self, name: str) -> None:
        mgr = self.server.manager
        req = self._json_body(MAX_CREATE_REQUEST, "UpdateFunctionCode")
        name, _ = parse_function_name(name)
        fn = mgr.function(name)
        data = _zip_of(req)
        if req.get("DryRun"):
            self._send_json(200, self._config(fn))
            return
        params = inspect.signature(mgr.register).parameters
        config = {k: v for k, v in vars(fn).items()
                  if k in params and k not in ("name", "source", "path")}
        config["handler"] = fn.handler_spec  # a package names module.function
        fn = self._deploy(name, data, config)
        self._send_json(200, self._config(fn))

    def _deploy(self, name: str, data: bytes, config: dict[str, Any]):
        from lambda_widget.engine.package import unzip

        with _DEPLOY_LOCK:
            staging = Path(tempfile.mkdtemp(prefix="lambda-widget-upload-"))
            try:
                unzip(data, staging)
                return self.server.manager.register(name, path=str(staging), **config)
            finally:
                shutil.rmtree(staging, ignore_errors=True)


def _required(req: dict, key: str) -> str:
    value = req.get(key)
    if not isinstance(value, str) or not value:
        raise ApiError("InvalidParameterValueException", f"{key} is required")
    return value


def _zip_of(req: dict) -> bytes:
    code = req.get("Code", req)
    if not isinstance(code, dict) or not code.get("ZipFile"):
        raise ApiError("InvalidParameterValueException",
                       "lambda_widget deploys a zip file (ZipFile, e.g. --zip-file fileb://function.zip); "
                       "S3 locations and images are not served")
    try:
        return base64.b64decode(code["ZipFile"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise ApiError("InvalidParameterValueException", "ZipFile is not valid base64") from None


def _resolve_qualifier(mgr, fn, qualifier: str | None) -> str:
    """The version a qualifier names: ``$LATEST`` or the current version's number."""
    if qualifier in (None, "", "$LATEST"):
        return "$LATEST"
    if qualifier.isdigit():
        number = int(qualifier)
        if number == fn.version:
            return str(number)
        if any(v.version == number for v in mgr.versions(fn.name)):
            raise ApiError("InvalidParameterValueException",
                           f"lambda_widget runs only the latest version of {fn.name} "
                           f"({fn.version}); version {number} is kept as a record only")
    raise ApiError("ResourceNotFoundException",
                   f"Function not found: {fn.arn(mgr.region, mgr.account_id)}:{qualifier}")


def _client_context(value: str | None) -> dict | None:
    if not value:
        return None
    if len(value) > MAX_CLIENT_CONTEXT:
        raise ApiError("InvalidParameterValueException",
                       f"Client context must be at most {MAX_CLIENT_CONTEXT} bytes (base64)")
    try:
        data = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        raise ApiError("InvalidRequestContentException",
                       "Client context must be a valid Base64-encoded JSON object.") from None
    if not isinstance(data, dict):
        raise ApiError("InvalidRequestContentException",
                       "Client context must be a valid Base64-encoded JSON object.")
    return data
