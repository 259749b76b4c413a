"""Lambda's Invoke API (and the calls a deploy needs) on loopback, for boto3 and the AWS CLI.

Served: ``Invoke``, ``ListFunctions``, ``GetFunction``, ``GetFunctionConfiguration``,
``CreateFunction`` and ``UpdateFunctionCode`` (zip files); versions, aliases and provisioned
concurrency come from ``front/versions.py``, the SQS event source mapping operations from
``front/event_sources.py``. Requests must be signed the way
AWS clients sign them (SigV4, any credentials: the signature is not checked), so a web page
in your browser cannot deploy code here. Other hosts get ``Invoke`` only.

Every answer, errors included, has the status, headers and body AWS gives (recorded in
``tests/data/aws_recorded/lambda.json``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import inspect
import io
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
import uuid
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from lambda_widget.engine import logs
from lambda_widget.engine.asyncq import MAX_ASYNC_REQUEST
from lambda_widget.engine.errors import (
    InvalidRequestContentException,
    LambdaApiError,
    ResourceNotFoundException,
)
from lambda_widget.engine.validation import MAX_SYNC_REQUEST
from lambda_widget.front.event_sources import ROUTES as EVENT_SOURCE_ROUTES
from lambda_widget.front.event_sources import EventSourceOps
from lambda_widget.front.payload import check_payload, describe
from lambda_widget.front.server import BoundedHandler, MalformedRequest, host_name, is_loopback, peer_uid
from lambda_widget.front.shapes import (
    ROLE_PATTERN,
    ApiError,
    FunctionName,
    check_runtime,
    constraint,
    error_body,
    error_of,
    facts,
    function_configuration,
    not_found,
    parse_function_name,
    validation_error,
)
from lambda_widget.front.versions import ROUTES as VERSION_ROUTES
from lambda_widget.front.versions import VersionOps, published_on_deploy, version_configuration

MAX_CLIENT_CONTEXT = 3583  # bytes of the base64 header, as Lambda limits it
MAX_CREATE_REQUEST = 70_167_211  # "Request must be smaller than 70167211 bytes for the CreateFunction operation"
MAX_ZIPPED = 52_428_800  # "Zipped size must be smaller than 52428800 bytes"
MAX_TAIL = 4096
MAX_LIST = 50
_ROUTES = [
    ("POST", re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$"), "Invoke"),
    ("GET", re.compile(r"^/2015-03-31/functions/?$"), "ListFunctions"),
    ("POST", re.compile(r"^/2015-03-31/functions/?$"), "CreateFunction"),
    ("GET", re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/configuration/?$"), "GetFunctionConfiguration"),
    ("GET", re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/?$"), "GetFunction"),
    ("PUT", re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/code/?$"), "UpdateFunctionCode"),
] + VERSION_ROUTES + EVENT_SOURCE_ROUTES  # versions, aliases, provisioned concurrency: front/versions.py;
# the SQS event source mapping operations: front/event_sources.py
# GetFunction's Code.Location: the code as a zip, like AWS's presigned S3 URL (a token, no signature).
_CODE_ROUTE = re.compile(r"^/lambda-widget/code/(?P<name>[^/]+)/(?P<version>[^/]+)\.zip$")
SERVED = [op for _, _, op in _ROUTES]
_DEPLOY_LOCK = threading.Lock()  # one deploy at a time: unzip and pip are not cheap
_UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."
_log = logging.getLogger("lambda_widget.front")

# CreateFunction / UpdateFunctionCode members the front reads, with their JSON types.
_MEMBERS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "FunctionName": (str, "a string"), "Runtime": (str, "a string"), "Role": (str, "a string"),
    "Handler": (str, "a string"), "Description": (str, "a string"), "Timeout": (int, "an integer"),
    "MemorySize": (int, "an integer"), "Publish": (bool, "a boolean"), "DryRun": (bool, "a boolean"),
    "PackageType": (str, "a string"), "Code": (dict, "an object"), "Environment": (dict, "an object"),
    "Architectures": (list, "a list"), "ZipFile": (str, "a base64 string"), "Layers": (list, "a list"),
    "Tags": (dict, "an object"), "TracingConfig": (dict, "an object"), "RevisionId": (str, "a string"),
}


class LambdaApiHandler(EventSourceOps, VersionOps, BoundedHandler):
    """Answers Lambda API calls from the manager on ``server.manager``."""

    _peer_uid: int | None = None  # of this connection's client, looked up once

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    # -- dispatch ------------------------------------------------------------------
    def _dispatch(self) -> None:
        self._body_read = False
        try:
            url = urlsplit(self.path)
            path = unquote(url.path)
            self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            code = _CODE_ROUTE.match(path)
            if code is not None and self.command in ("GET", "HEAD"):
                self._check_local()
                self._code_zip(code["name"], code["version"])
                return
            op, params = self._route(self.command, path)
            self._check_client(op)
            getattr(self, "_op_" + op)(**params)
        except MalformedRequest as exc:
            self._send_error(error_body("InvalidRequestContentException", f"Could not read the request: {exc}"))
        except Exception as exc:  # noqa: BLE001 - every failure is an AWS-shaped answer
            if not isinstance(exc, LambdaApiError):
                _log.exception("lambda_widget's Invoke API failed on %s %s", self.command, self.path)
                self.close_connection = True
            self._send_error(error_of(exc))

    def _send_error(self, answer: tuple[int, bytes, dict[str, str]]) -> None:
        status, body, headers = answer
        if not self._body_read and (self.headers.get("Content-Length", "0").strip() not in ("", "0")
                                    or self.headers.get("Transfer-Encoding")):
            self.close_connection = True  # an unread body must not be taken for the next request
        headers["x-amzn-RequestId"] = str(uuid.uuid4())
        self.answer(status, body, headers)

    def read_body(self, limit: int, drain_limit: int | None = None) -> bytes | None:
        try:
            return super().read_body(limit, drain_limit)
        finally:
            self._body_read = True

    def error_answer(self, code: int, message: str) -> tuple[int, bytes, dict[str, str], str]:
        kind = "InvalidRequestContentException" if code < 500 else "ServiceException"
        status, body, headers = error_body(kind, message)
        return code, body, headers, "application/json"

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
        self._check_local()

    def _check_local(self) -> None:
        if self.remote:
            raise ApiError("AccessDeniedException", "The code is served to this machine only")
        if self._peer_uid is None:
            uid = peer_uid(self.client_address, self.connection.getsockname())
            self._peer_uid = -1 if uid is None else uid  # -1: unknown (not Linux)
        if self._peer_uid not in (-1, os.getuid()):
            # On a shared machine another user could otherwise deploy code that runs as you.
            raise ApiError("AccessDeniedException", "This endpoint serves its own user's processes only")
        host = host_name(self.headers.get("Host"))
        if host and not is_loopback(host) and is_loopback(self.server.server_address[0]):
            raise ApiError("AccessDeniedException", f"Unexpected Host header {host!r}")

    def _json_body(self, limit: int, operation: str) -> dict[str, Any]:
        body = self.read_body(limit, drain_limit=limit)
        if body is None:
            raise ApiError("RequestEntityTooLargeException",
                           f"Request must be smaller than {limit} bytes for the {operation} operation")
        try:
            data = json.loads(body or b"{}")
        except (ValueError, RecursionError):
            raise ApiError("InvalidRequestContentException",
                           f"Could not parse request body into json: {describe(body) or 'it nests too deeply'}") from None
        if not isinstance(data, dict):
            raise ApiError("InvalidRequestContentException",
                           "Could not parse request body into json: the request body must be a JSON object")
        return data

    def resolve_qualifier(self, fn, qualifier: str | None) -> str:
        """The version ``qualifier`` names for ``fn`` (ApiError if none): for the operations served elsewhere."""
        mgr = self.server.manager
        try:
            return mgr.function(fn.name, qualifier).version
        except ResourceNotFoundException:
            raise not_found(mgr.region, mgr.account_id, fn.name, qualifier) from None

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        headers = dict(headers or {})
        # Not the manager's seeded ids: API calls must not shift a lesson's invocation ids.
        headers.setdefault("x-amzn-RequestId", str(uuid.uuid4()))
        self.answer(status, json.dumps(data).encode(), headers)

    # -- names and functions ---------------------------------------------------------
    def _name(self, text: str, kind: str = "read") -> FunctionName:
        mgr = self.server.manager
        return parse_function_name(text, self.query.get("Qualifier"), kind=kind,
                                   region=mgr.region, account=mgr.account_id)

    def _function(self, fname: FunctionName, latest: bool):
        """The function ``fname`` names, or Lambda's 404 (Invoke names ``:$LATEST``; GetFunction
        only a qualifier it was given)."""
        mgr = self.server.manager
        try:
            return mgr.function(fname.name)
        except ResourceNotFoundException:
            shown = fname.qualifier or ("$LATEST" if latest else None)
            raise not_found(mgr.region, mgr.account_id, fname.name, shown) from None

    # -- Invoke --------------------------------------------------------------------
    def _op_Invoke(self, name: str) -> None:
        mgr = self.server.manager
        itype = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        # The body is read first, whatever follows: the connection stays in step with the client.
        limit = MAX_ASYNC_REQUEST if itype == "Event" else MAX_SYNC_REQUEST
        # Read (and drop) an oversized body up to twice the limit, so the client reads the
        # 413 instead of a reset connection; a larger one closes the connection.
        payload = self.read_body(limit, drain_limit=2 * MAX_SYNC_REQUEST + 1024)
        fname = self._name(name)
        log_type = self.headers.get("X-Amz-Log-Type") or "None"
        problems = []
        if itype not in ("Event", "RequestResponse", "DryRun"):
            problems.append(f"Value '{itype}' at 'invocationType' failed to satisfy constraint: Member must "
                            f"satisfy enum value set: [Event, RequestResponse, DryRun]")
        if log_type not in ("None", "Tail"):
            problems.append(f"Value '{log_type}' at 'logType' failed to satisfy constraint: Member must "
                            f"satisfy enum value set: [None, Tail]")
        if problems:
            raise validation_error(problems)
        if payload is None:
            if itype == "Event":
                raise ApiError("RequestEntityTooLargeException",
                               f"{self.body_size} byte payload is too large for the Event invocation type "
                               f"(limit {MAX_ASYNC_REQUEST} bytes)")
            raise ApiError("RequestEntityTooLargeException",
                           f"Request must be smaller than {MAX_SYNC_REQUEST} bytes for the InvokeFunction operation")
        self._function(fname, latest=True)
        client_context = _client_context(self.headers.get("X-Amz-Client-Context"))
        payload = payload.strip() or b"{}"
        try:
            inv = mgr.invoke(fname.name, payload, qualifier=fname.qualifier, invocation_type=itype,
                             client_context=client_context)
        except ResourceNotFoundException:  # deleted meanwhile
            raise not_found(mgr.region, mgr.account_id, fname.name, fname.qualifier or "$LATEST") from None
        except InvalidRequestContentException as exc:  # the engine parsed it; Lambda's words for why not
            raise ApiError("InvalidRequestContentException", check_payload(payload) or exc.args[0]) from None
        headers = {"x-amzn-RequestId": inv.request_id}
        if itype in ("DryRun", "Event"):  # no X-Amz-Executed-Version on either (recorded)
            self.answer(204 if itype == "DryRun" else 202, b"", headers)
            return
        headers["X-Amz-Executed-Version"] = inv.version
        if inv.status == "throttled":
            error = inv.error or {}
            status, body, extra = error_body("TooManyRequestsException", error.get("errorMessage", "Rate Exceeded."),
                                             Reason=error.get("Reason", "ReservedFunctionConcurrentInvocationLimitExceeded"))
            headers.update(extra)
            headers["Retry-After"] = "1"
            self.answer(status, body, headers)
            return
        if log_type == "Tail":
            headers["X-Amz-Log-Result"] = base64.b64encode(logs.tail(inv.logs, MAX_TAIL)).decode()
        if inv.status == "succeeded":
            body = inv.result if isinstance(inv.result, bytes) else json.dumps(inv.result).encode()
        else:
            headers["X-Amz-Function-Error"] = "Unhandled"
            body = json.dumps(inv.error or {}).encode()
        self.answer(200, body, headers)

    # -- reading functions -----------------------------------------------------------
    def _config(self, fn, version: str = "$LATEST", **options: Any) -> dict[str, Any]:
        mgr = self.server.manager
        return function_configuration(fn, mgr.region, mgr.account_id, version, code=facts(fn).code, **options)

    def _op_ListFunctions(self) -> None:
        mgr = self.server.manager
        every = self.query.get("FunctionVersion")
        raw_max = self.query.get("MaxItems")
        problems = []
        if every is not None and every != "ALL":
            problems.append(f"Value '{every}' at 'functionVersion' failed to satisfy constraint: "
                            f"Member must satisfy enum value set: [ALL]")
        if raw_max is not None and not re.fullmatch(r"-?\d{1,9}", raw_max):
            problems.append(f"Value '{raw_max}' at 'maxItems' failed to satisfy constraint: Member must be a number")
        elif raw_max is not None and not 1 <= int(raw_max) <= 10_000:
            bound = "greater than or equal to 1" if int(raw_max) < 1 else "less than or equal to 10000"
            problems.append(f"Value '{raw_max}' at 'maxItems' failed to satisfy constraint: "
                            f"Member must have value {bound}")
        if problems:
            raise validation_error(problems)
        max_items = min(int(raw_max or MAX_LIST), MAX_LIST)
        entries: list[tuple[str, Any, str]] = []  # (marker, function record, version)
        for name, fn in sorted(mgr.functions.items()):
            entries.append((name, fn, "$LATEST"))
            if every:
                entries += [(f"{name}:{v.version}", v, v.version) for v in mgr.versions(name)[1:]]
        markers = [marker for marker, _, _ in entries]
        marker = self.query.get("Marker")
        start = markers.index(marker) if marker in markers else 0
        page = entries[start:start + max_items]
        data: dict[str, Any] = {"Functions": [self._config(fn, version, listing=True, qualified=bool(every))
                                              for _, fn, version in page]}
        if start + max_items < len(entries):
            data["NextMarker"] = markers[start + max_items]
        self._send_json(200, data)

    def _op_GetFunction(self, name: str) -> None:
        mgr = self.server.manager
        fname = self._name(name)
        self._function(fname, latest=False)
        fn = mgr.function(fname.name, fname.qualifier)
        data: dict[str, Any] = {
            "Configuration": version_configuration(mgr, fname.name, fname.qualifier),
            "Code": {"RepositoryType": "S3", "Location": self._code_location(fn)},
        }
        if fn.reserved_concurrency is not None:
            data["Concurrency"] = {"ReservedConcurrentExecutions": fn.reserved_concurrency}
        self._send_json(200, data)

    def _op_GetFunctionConfiguration(self, name: str) -> None:
        mgr = self.server.manager
        fname = self._name(name)
        self._function(fname, latest=False)
        self._send_json(200, version_configuration(mgr, fname.name, fname.qualifier))

    def _code_location(self, fn) -> str:
        server = self.server
        token = getattr(server, "code_token", None)
        if token is None:
            token = server.code_token = secrets.token_urlsafe(16)
        host, port = server.server_address[:2]
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        shown = f"[{host}]" if ":" in host else host
        return (f"http://{shown}:{port}/lambda-widget/code/{quote(fn.name)}/{fn.version}.zip"
                f"?token={token}")

    def _code_zip(self, name: str, version: str) -> None:
        """The function's code as a zip: the uploaded zip, or one made of the code it runs."""
        token = getattr(self.server, "code_token", None)
        if token is None or not secrets.compare_digest(self.query.get("token", ""), token):
            raise ApiError("AccessDeniedException", "Request has expired or its token is not valid")
        mgr = self.server.manager
        fn = next((v for v in mgr.versions(name) if str(v.version) == version), None)
        if fn is None:
            raise not_found(mgr.region, mgr.account_id, name, None)
        self.answer(200, code_zip(fn), {"x-amzn-RequestId": str(uuid.uuid4())}, content_type="application/zip")

    # -- deploying -------------------------------------------------------------------
    def _op_CreateFunction(self) -> None:
        mgr = self.server.manager
        req = self._json_body(MAX_CREATE_REQUEST, "CreateFunction")
        _check_members(req)
        name = self._name(_required(req, "FunctionName"), "write").name
        runtime = check_runtime(req.get("Runtime"))
        if req.get("PackageType", "Zip") != "Zip":
            raise ApiError("InvalidParameterValueException", "Only PackageType Zip is served")
        role = req.get("Role")
        if role is None or not re.fullmatch(ROLE_PATTERN, role):
            rule = "Member must not be null" if role is None else \
                f"Member must satisfy regular expression pattern: {ROLE_PATTERN}"
            raise validation_error([constraint(role, "role", rule)])
        handler = _required(req, "Handler")
        if name in mgr.functions:
            raise ApiError("ResourceConflictException", f"Function already exist: {name}")
        config: dict[str, Any] = {"handler": handler}
        if runtime is not None:  # the bundled runtime on that Python, if the machine has it
            config["runtime"] = runtime
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
        facts(fn).role = role
        self._send_json(201, published_on_deploy(mgr, name, True) if req.get("Publish") else self._config(fn))

    def _op_UpdateFunctionCode(self, name: str) -> None:
        mgr = self.server.manager
        req = self._json_body(MAX_CREATE_REQUEST, "UpdateFunctionCode")
        _check_members(req)
        fname = self._name(name, "write")
        fn = self._function(fname, latest=False)
        data = _zip_of(req)
        if req.get("DryRun"):
            self._send_json(200, self._config(fn))
            return
        params = inspect.signature(mgr.register).parameters
        config = {k: v for k, v in vars(fn).items()
                  if k in params and k not in ("name", "source", "path")}
        config["handler"] = fn.handler_spec  # a package names module.function
        role = facts(fn).role
        fn = self._deploy(fname.name, data, config)
        facts(fn).role = role
        self._send_json(200, published_on_deploy(mgr, fname.name, False) if req.get("Publish") else self._config(fn))

    def _deploy(self, name: str, data: bytes, config: dict[str, Any]):
        """Unpack the zip where it stays as long as the manager (versions, power tuning and
        GetFunction use it), and register it."""
        from lambda_widget.engine.package import unzip

        mgr = self.server.manager
        uploads = mgr._root / "uploads"
        with _DEPLOY_LOCK:
            uploads.mkdir(exist_ok=True)
            home = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=uploads))
            try:
                try:
                    unzip(data, home / "code")
                except LambdaApiError as exc:
                    if str(home) in str(exc.args[0] if exc.args else ""):  # a file of it failed to write
                        raise ApiError("InvalidParameterValueException", _UNZIP_FAILED) from None
                    raise
                except (OSError, RecursionError, ValueError):
                    raise ApiError("InvalidParameterValueException", _UNZIP_FAILED) from None
                try:
                    fn = mgr.register(name, path=str(home / "code"), **config)
                except LambdaApiError as exc:  # no host paths in the answer
                    message = str(exc.args[0] if exc.args else "").replace(str(home / "code"), "the package")
                    raise ApiError(exc.code, message.replace(str(mgr._root), "...")) from None
                except (OSError, RecursionError) as exc:
                    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "the package nests too deeply"
                    raise ApiError("InvalidParameterValueException",
                                   f"Could not install the uploaded code: {why}") from None
            except BaseException:
                shutil.rmtree(home, ignore_errors=True)
                raise
            (home / "function.zip").write_bytes(data)
            remembered = facts(fn)
            remembered.code = (len(data), base64.b64encode(hashlib.sha256(data).digest()).decode())
            remembered.zip_path = home / "function.zip"
            return fn


def _check_members(req: dict) -> None:
    """The members the front reads must have their JSON types (else AWS's 400, not a 500)."""
    for holder in (req, req.get("Code") if isinstance(req.get("Code"), dict) else {}):
        for key, (kind, what) in _MEMBERS.items():
            value = holder.get(key)
            if value is None:
                continue
            wrong = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
            if wrong:
                raise ApiError("InvalidRequestContentException",
                               f"Could not parse request body into json: {key} must be {what}, "
                               f"not {json.dumps(value)[:60]}")
    variables = (req.get("Environment") or {}).get("Variables")
    if variables is not None and not (isinstance(variables, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in variables.items())):
        raise ApiError("InvalidRequestContentException",
                       "Could not parse request body into json: Environment.Variables must map strings to strings")
    if any(not isinstance(a, str) for a in req.get("Architectures") or []):
        raise ApiError("InvalidRequestContentException",
                       "Could not parse request body into json: Architectures must be a list of strings")


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
        data = base64.b64decode(code["ZipFile"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise ApiError("InvalidParameterValueException", "ZipFile is not valid base64") from None
    if len(data) > MAX_ZIPPED:
        raise ApiError("RequestEntityTooLargeException", f"Zipped size must be smaller than {MAX_ZIPPED} bytes")
    return data


def code_zip(fn) -> bytes:
    """The zip GetFunction's ``Code.Location`` serves: the uploaded one, or the code ``fn`` runs."""
    uploaded = facts(fn).zip_path
    if uploaded is not None and uploaded.is_file():
        return uploaded.read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        if fn.path and Path(fn.path).is_dir():
            from lambda_widget.engine.package import IGNORED

            root = Path(fn.path)
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root)
                if path.is_file() and not path.is_symlink() and not set(relative.parts) & set(IGNORED):
                    archive.write(path, str(relative))
        elif fn.task_files:
            for relative, (data, *_) in sorted(fn.task_files.items()):
                if not relative.endswith(".pyc") and "__pycache__" not in relative:
                    archive.writestr(relative, data)
        else:
            archive.writestr(fn.module.replace(".", "/") + ".py", fn.source or "")
    return buf.getvalue()


def _client_context(value: str | None) -> dict | None:
    if not value:
        return None
    if len(value) > MAX_CLIENT_CONTEXT:
        raise ApiError("InvalidParameterValueException",
                       f"Client context must be at most {MAX_CLIENT_CONTEXT} bytes (base64)")
    try:
        data = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError, RecursionError):
        raise ApiError("InvalidRequestContentException",
                       "Client context must be a valid Base64-encoded JSON object.") from None
    if not isinstance(data, dict):
        raise ApiError("InvalidRequestContentException",
                       "Client context must be a valid Base64-encoded JSON object.")
    return data


