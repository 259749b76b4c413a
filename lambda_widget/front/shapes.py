"""AWS Lambda API shapes: error bodies and status codes, function names, FunctionConfiguration.

What each shape holds is taken from recordings of real AWS (LocalStack's snapshot files,
``tests/data/aws_recorded/lambda.json``) and from botocore's service model.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import re
import sys
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_widget.engine.errors import LambdaApiError

# code -> (status, the body member holding the message, whether the body has "Type").
# Modelled errors (botocore's lambda service-2.json) spell the member as the model does
# (ResourceNotFoundException has "Message", InvalidParameterValueException "message"): botocore
# copies it into the response under that name. The others are answered before Lambda's own
# code runs (request validation, the size gate) and carry only a message.
ERRORS: dict[str, tuple[int, str, bool]] = {
    "ResourceNotFoundException": (404, "Message", True),
    "InvalidParameterValueException": (400, "message", True),
    "InvalidRequestContentException": (400, "message", True),
    "RequestTooLargeException": (413, "message", True),
    "TooManyRequestsException": (429, "message", True),
    "ResourceConflictException": (409, "message", True),
    "UnsupportedMediaTypeException": (415, "message", True),
    "ServiceException": (500, "Message", True),
    "ValidationException": (400, "message", False),
    "RequestEntityTooLargeException": (413, "Message", False),
    "AccessDeniedException": (403, "Message", False),
    "UnrecognizedClientException": (403, "message", False),
    "UnknownOperationException": (404, "message", False),
    "PreconditionFailedException": (412, "message", True),
    "ProvisionedConcurrencyConfigNotFoundException": (404, "message", True),
}
STATUS = {code: status for code, (status, _, _) in ERRORS.items()}
SERVICE_ERROR = "An internal error occurred in lambda_widget's front; the kernel's log has the details."


class ApiError(LambdaApiError):
    """An error the front answers with: ``code`` and the message (None: a null message, as AWS
    answers a call on another account's function)."""

    def __init__(self, code: str, message: str | None, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.extra = extra


def error_body(code: str, message: str | None, **extra: Any) -> tuple[int, bytes, dict[str, str]]:
    """(status, body, headers) as Lambda answers an error; botocore reads ``x-amzn-ErrorType``."""
    status, key, typed = ERRORS.get(code, (500, "message", False))
    body: dict[str, Any] = {"Type": "User" if status < 500 else "Service"} if typed else {}
    body[key] = message
    body.update(extra)
    return status, json.dumps(body).encode(), {"x-amzn-ErrorType": code}


def error_of(exc: Exception) -> tuple[int, bytes, dict[str, str]]:
    """The answer to an exception: its own shape for an API error, a ServiceException without
    the exception's text (no paths or internals reach the client) for anything else."""
    if isinstance(exc, LambdaApiError):
        message = exc.args[0] if exc.args else ""
        return error_body(exc.code, message, **getattr(exc, "extra", {}))
    return error_body("ServiceException", SERVICE_ERROR)


# ---------------------------------------------------------------------- function names
# AWS's patterns, as its ValidationException messages quote them (recorded 2025-11). Invoke,
# GetFunction and GetFunctionConfiguration check the newer pattern only (a 200-character ARN is
# refused for its pattern, not its length); CreateFunction, DeleteFunction and UpdateFunctionCode
# the older one, and at most 140 characters.
NAME_PATTERNS = {
    "read": r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
            r"(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?",
    "write": r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
             r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?",
}
NAME_LENGTH = {"read": None, "write": 140}
ROLE_PATTERN = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
QUALIFIER_PATTERN = r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"
QUALIFIER_LENGTH = 128
_NAME_RE = {kind: re.compile(pattern) for kind, pattern in NAME_PATTERNS.items()}
_QUALIFIER_RE = re.compile(QUALIFIER_PATTERN)
# Groups of both name patterns: 3 the region and its colon, 9 the account and its colon,
# 11 the name, 13 the qualifier.
_REGION, _ACCOUNT, _NAME, _QUALIFIER = 3, 9, 11, 13


@dataclass(frozen=True)
class FunctionName:
    """A parsed ``FunctionName`` (name, partial ARN or ARN) and the qualifier that applies."""

    name: str
    qualifier: str | None
    region: str | None
    account: str | None

    def __iter__(self):
        """``name, qualifier = parse_function_name(text)`` (the older two-value form) still works."""
        return iter((self.name, self.qualifier))


def constraint(value: str | None, field: str, rule: str) -> str:
    shown = "null" if value is None else f"'{value}'"
    return f"Value {shown} at '{field}' failed to satisfy constraint: {rule}"


def validation_error(problems: list[str]) -> ApiError:
    """ValidationException with AWS's wording: "N validation error(s) detected: a; b"."""
    n = len(problems)
    return ApiError("ValidationException",
                    f"{n} validation error{'s' if n != 1 else ''} detected: {'; '.join(problems)}")


def parse_function_name(text: str, qualifier: str | None = None, *, kind: str = "read",
                        region: str | None = None, account: str | None = None) -> FunctionName:
    """Check ``FunctionName`` (and a ``Qualifier``) as Lambda does, in Lambda's words.

    ``kind``: ``"read"`` (Invoke, GetFunction) or ``"write"`` (CreateFunction, UpdateFunctionCode).
    With ``region`` / ``account``, an ARN of another region is not found there (404) and one of
    another account is refused (403), as AWS answers them.
    """
    text = text or ""
    problems = []
    if qualifier is not None:
        if len(qualifier) > QUALIFIER_LENGTH:
            problems.append(constraint(qualifier, "qualifier",
                                        f"Member must have length less than or equal to {QUALIFIER_LENGTH}"))
        elif not _QUALIFIER_RE.fullmatch(qualifier):
            problems.append(constraint(qualifier, "qualifier",
                                        f"Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}"))
    if NAME_LENGTH[kind] is not None and len(text) > NAME_LENGTH[kind]:
        problems.append(constraint(text, "functionName",
                                    f"Member must have length less than or equal to {NAME_LENGTH[kind]}"))
    match = _NAME_RE[kind].fullmatch(text)
    if match is None:
        problems.append(constraint(text, "functionName",
                                    f"Member must satisfy regular expression pattern: {NAME_PATTERNS[kind]}"))
    if problems:
        raise validation_error(problems)
    derived = match[_QUALIFIER]
    if qualifier is not None and derived is not None and qualifier != derived:
        raise ApiError("InvalidParameterValueException",
                       "The derived qualifier from the function name does not match the specified qualifier.")
    parsed = FunctionName(match[_NAME], qualifier if qualifier is not None else derived,
                          (match[_REGION] or "")[:-1] or None, (match[_ACCOUNT] or "")[:-1] or None)
    if region is not None and parsed.region is not None and parsed.region != region:
        raise ApiError("ResourceNotFoundException",
                       f"Functions from '{parsed.region}' are not reachable in this region ('{region}')")
    if account is not None and parsed.account is not None and parsed.account != account:
        raise ApiError("AccessDeniedException", None)
    if kind == "write" and len(parsed.name) > 64:
        raise ApiError("InvalidParameterValueException", "1 validation error detected: " + constraint(
            parsed.name, "functionName", "Member must have length less than or equal to 64"))
    return parsed


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def not_found(region: str, account: str, name: str, qualifier: str | None) -> ApiError:
    """Lambda's 404: ``Function not found: <ARN>`` (with the qualifier when one applies)."""
    return ApiError("ResourceNotFoundException",
                    f"Function not found: {function_arn(region, account, name, qualifier)}")


# ---------------------------------------------------------------------- configurations
@dataclass
class _Facts:
    """What the front remembers of a function version that its record does not hold."""

    ref: weakref.ref
    last_modified: datetime.datetime
    revision_id: str
    code: tuple[int, str] | None = None  # (CodeSize, CodeSha256) of the uploaded zip
    zip_path: Path | None = None  # where the uploaded zip is kept
    role: str | None = None  # the Role CreateFunction was given


_facts: dict[int, _Facts] = {}


def facts(fn) -> _Facts:
    """When the front first saw this function version, and its RevisionId (a record holds neither)."""
    key = id(fn)
    entry = _facts.get(key)
    if entry is None or entry.ref() is not fn:
        def forget(ref: weakref.ref) -> None:
            current = _facts.get(key)
            if current is not None and current.ref is ref:
                del _facts[key]

        entry = _facts[key] = _Facts(weakref.ref(fn, forget), datetime.datetime.now(datetime.timezone.utc),
                                     str(uuid.uuid4()))
        _inherit(entry, fn)
    return entry


def _inherit(entry: _Facts, fn) -> None:
    """A version published from $LATEST, or $LATEST with a new configuration, runs the code of an
    earlier record of the function (``code_revision``): it has that record's zip, and the function's role."""
    code = getattr(fn, "code_revision", None)
    for other in list(_facts.values()):
        known = other.ref()
        if other is entry or known is None or known.name != fn.name:
            continue
        entry.role = entry.role or other.role
        if code is not None and getattr(known, "code_revision", None) == code and other.code is not None:
            entry.code, entry.zip_path = other.code, other.zip_path


def check_runtime(runtime: Any) -> str | None:
    """A request's ``Runtime``: one of Lambda's Pythons (or None), else AWS's answer to it."""
    from lambda_widget.engine.interpreters import LAMBDA_PYTHONS

    if runtime is None or runtime in LAMBDA_PYTHONS:
        return runtime
    if not (isinstance(runtime, str) and runtime.startswith("python3")):
        raise ApiError("InvalidParameterValueException",
                       f"lambda_widget runs Python functions (it runs {runtime_name()}); not {runtime}")
    minor = runtime[len("python3."):]
    if minor.isdigit() and int(minor) < min(v[1] for v in LAMBDA_PYTHONS.values()):
        raise ApiError("InvalidParameterValueException",
                       f"The runtime parameter of {runtime} is no longer supported for creating or updating "
                       "AWS Lambda functions. We recommend you use a supported runtime while creating or "
                       "updating functions.")
    raise validation_error([constraint(runtime, "runtime", "Member must satisfy enum value set: "
                                                           f"[{', '.join(LAMBDA_PYTHONS)}]")])


def runtime_name(fn=None) -> str:
    """The ``Runtime`` of ``fn``: the Python it was created with (``python3.12``), else this kernel's."""
    asked = getattr(fn, "python_runtime", "") if fn is not None else ""
    return asked or f"python{sys.version_info.major}.{sys.version_info.minor}"


def runtime_version_arn(region: str, fn=None) -> str:
    """``arn:aws:lambda:REGION::runtime:<64 hex>``, as AWS names a runtime version (the Python that
    runs ``fn``: this kernel's unless its runtime names another the machine has)."""
    own = ".".join(map(str, sys.version_info[:3]))
    version = getattr(fn, "python_version", own) if fn is not None else own
    text = sys.version if version == own else version
    return f"arn:aws:lambda:{region}::runtime:{hashlib.sha256(text.encode()).hexdigest()}"


def function_configuration(fn, region: str, account: str, version: str = "$LATEST", *,
                           listing: bool = False, qualified: bool = False,
                           code: tuple[int, str] | None = None) -> dict[str, Any]:
    """The FunctionConfiguration shape, with the keys AWS answers (recorded 2025-11).

    ``listing``: as ListFunctions has it (no ``State``, ``LastUpdateStatus`` or
    ``RuntimeVersionConfig``); ``qualified``: the ARN ends with the version (``FunctionVersion=ALL``
    lists ``...:$LATEST``); ``code``: (CodeSize, CodeSha256) of the uploaded zip, if there was one.
    """
    source = (fn.source or "").encode()
    size, sha = code or (len(source), base64.b64encode(hashlib.sha256(source).digest()).decode())
    remembered = facts(fn)
    config: dict[str, Any] = {
        "FunctionName": fn.name,
        "FunctionArn": function_arn(region, account, fn.name,
                                    version if qualified or version != "$LATEST" else None),
        "Runtime": runtime_name(fn),
        "Role": remembered.role or f"arn:aws:iam::{account}:role/lambda-widget-local",
        "Handler": fn.handler_spec,
        "CodeSize": size,
        "Description": getattr(fn, "description", "") or "",
        "Timeout": int(fn.timeout),
        "MemorySize": fn.memory_mb,
        "LastModified": remembered.last_modified.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
        "CodeSha256": sha,
        "Version": version,
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": getattr(fn, "revision_id", None) or remembered.revision_id,  # the engine's, if it has one
        "PackageType": "Zip",
        "Architectures": [getattr(fn, "architecture", None) or "x86_64"],
        "EphemeralStorage": {"Size": 512},
        # SnapStart: On for a published version whose snapshot was taken ($LATEST stays Off).
        "SnapStart": {"ApplyOn": "PublishedVersions" if getattr(fn, "snap_start", False) else "None",
                      "OptimizationStatus": "On" if (getattr(fn, "snapshot", None) or {}).get("state") == "ready"
                      else "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{fn.name}"},
    }
    if fn.env:
        config["Environment"] = {"Variables": dict(fn.env)}
    if not listing:
        config.update({"State": "Active", "LastUpdateStatus": "Successful",
                       "RuntimeVersionConfig": {"RuntimeVersionArn": runtime_version_arn(region, fn)}})
    return dict(sorted(config.items()))
