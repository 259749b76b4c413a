"""AWS Lambda API shapes: error bodies and status codes, function names, FunctionConfiguration."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import re
import sys
import weakref
from typing import Any

from lambda_widget.engine.errors import LambdaApiError

# Status codes of the error shapes botocore knows (service-2.json, "error": {"httpStatusCode"}).
STATUS = {
    "ResourceNotFoundException": 404,
    "InvalidParameterValueException": 400,
    "InvalidRequestContentException": 400,
    "RequestTooLargeException": 413,
    "TooManyRequestsException": 429,
    "ResourceConflictException": 409,
    "ValidationException": 400,
    "PreconditionFailedException": 412,
    "ProvisionedConcurrencyConfigNotFoundException": 404,
    "UnsupportedMediaTypeException": 415,
    "ServiceException": 500,
    "AccessDeniedException": 403,
    "UnrecognizedClientException": 403,
    "UnknownOperationException": 404,
}


class ApiError(LambdaApiError):
    """An error the front answers with: ``code`` and the message."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.extra = extra


def error_body(code: str, message: str, **extra: Any) -> tuple[int, bytes, dict[str, str]]:
    """(status, body, headers) as Lambda answers an error; botocore reads ``x-amzn-ErrorType``."""
    body: dict[str, Any] = {"Type": "User" if STATUS.get(code, 500) < 500 else "Service",
                            "message": message}
    body.update(extra)
    return STATUS.get(code, 500), json.dumps(body).encode(), {"x-amzn-ErrorType": code}


def error_of(exc: Exception) -> tuple[int, bytes, dict[str, str]]:
    if isinstance(exc, LambdaApiError):
        message = exc.args[0] if exc.args else ""
        return error_body(exc.code, message, **getattr(exc, "extra", {}))
    return error_body("ServiceException", f"lambda_widget internal error: {exc!r}")


_ARN = re.compile(r"^(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:)?(?:\d{12}:)?(?:function:)?"
                  r"(?P<name>[A-Za-z0-9_-]{1,64})(?::(?P<qualifier>\$LATEST|[A-Za-z0-9_-]+))?$")


def parse_function_name(text: str) -> tuple[str, str | None]:
    """``name``, ``name:qualifier``, a partial ARN or an ARN -> (name, qualifier or None)."""
    match = _ARN.match(text or "")
    if match is None:
        raise ApiError("InvalidParameterValueException",
                       f"1 validation error detected: Value '{text}' at 'functionName' failed to satisfy "
                       f"constraint: Member must satisfy regular expression pattern: a function name, "
                       f"a name with a qualifier, or an ARN")
    return match["name"], match["qualifier"]


_seen: dict[int, tuple[weakref.ref, datetime.datetime]] = {}


def _last_modified(fn) -> str:
    """When the front first saw this function version (a Function record holds clock time only)."""
    key = id(fn)
    entry = _seen.get(key)
    if entry is None or entry[0]() is not fn:
        def forget(ref: weakref.ref) -> None:
            if _seen.get(key, (None,))[0] is ref:
                del _seen[key]

        entry = _seen[key] = (weakref.ref(fn, forget), datetime.datetime.now(datetime.timezone.utc))
    return entry[1].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def runtime_name() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def function_configuration(fn, region: str, account: str, version: str = "$LATEST") -> dict[str, Any]:
    """The FunctionConfiguration shape (GetFunction, ListFunctions, CreateFunction answers)."""
    code = (fn.source or "").encode()
    arn = fn.arn(region, account)
    config: dict[str, Any] = {
        "FunctionName": fn.name,
        "FunctionArn": arn if version == "$LATEST" else f"{arn}:{version}",
        "Runtime": runtime_name(),
        "Role": f"arn:aws:iam::{account}:role/lambda-widget-local",
        "Handler": fn.handler_spec,
        "CodeSize": len(code),
        "Description": getattr(fn, "description", "") or "",
        "Timeout": int(fn.timeout),
        "MemorySize": fn.memory_mb,
        "LastModified": _last_modified(fn),
        "CodeSha256": base64.b64encode(hashlib.sha256(code).digest()).decode(),
        "Version": version,
        "TracingConfig": {"Mode": "PassThrough"},
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": [getattr(fn, "architecture", None) or "x86_64"],
        "EphemeralStorage": {"Size": 512},
    }
    if fn.env:
        config["Environment"] = {"Variables": dict(fn.env)}
    return config
