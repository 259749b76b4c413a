"""Error payloads and error log lines, in the shape awslambdaric produces them."""

from __future__ import annotations

import decimal
import json
import math
import traceback

LOG_LINE_TERMINATE = "\r"  # CloudWatch keeps \r-joined lines as one event
LOG_INDENT = "\u00a0"
UNHANDLED_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function change, "
    "or can be applied automatically. To determine if the runtime has been updated, check the "
    "runtime version in the INIT_START log entry. If this error correlates with a change in the "
    "runtime version, you may be able to mitigate this error by temporarily rolling back to the "
    "previous runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"  # \r as awslambdaric's
)


class FaultException(Exception):
    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

    def __init__(self, exception_type: str, msg: str, trace: list[str] | None = None) -> None:
        super().__init__(msg)
        self.exception_type = exception_type
        self.msg = msg
        self.trace = trace


def make_error(message: str, error_type: str, stack_trace: list[str] | None,
               request_id: str | None = None) -> dict:
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace or [],
    }


def error_from_exception(exc: BaseException, request_id: str | None = None) -> dict:
    """The payload for an exception raised by user code, runtime frames dropped."""
    # Plain tuples, as awslambdaric formats them: no column markers under the line.
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(exc.__traceback__)]
    for i, frame in enumerate(frames):
        if "/lambda_widget/runtime/" not in frame[0]:
            frames = frames[i:]
            break
    frames = [(_lambda_path(name), line, func, text) for name, line, func, text in frames]
    return make_error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


def _lambda_path(filename: str) -> str:
    """Where Lambda's Python has the file: the standard library and installed packages under
    ``/var/lang/lib/pythonX.Y`` (as AWS's stack traces show them), not this machine's paths."""
    import os
    import sys
    import sysconfig  # only when an error is reported: no cost at init

    lang = f"/var/lang/lib/python{sys.version_info.major}.{sys.version_info.minor}"
    paths = sysconfig.get_paths()
    for prefix, there in ((paths.get("purelib"), lang + "/site-packages"),
                          (paths.get("platlib"), lang + "/site-packages"),
                          (os.path.dirname(os.__file__), lang)):
        if prefix and filename.startswith(prefix.rstrip("/") + "/"):
            return there + filename[len(prefix.rstrip("/")):]
    return filename


def error_log_line(error: dict) -> str:
    """``[ERROR] Type: message`` then the traceback, joined by ``\\r`` as one log event."""
    head = "[ERROR]"
    if error.get("errorType"):
        head += " " + error["errorType"]
    if error.get("errorMessage"):
        head += (":" if error.get("errorType") else "") + " " + error["errorMessage"]
    lines = [head]
    if error.get("stackTrace") is not None:
        lines.append("Traceback (most recent call last):")
        for element in error["stackTrace"]:
            for line in element.splitlines() or [""]:
                stripped = line.lstrip(" ")
                lines.append(LOG_INDENT * (len(line) - len(stripped)) + stripped)
    return LOG_LINE_TERMINATE.join(lines) + "\n"


class _Encoder(json.JSONEncoder):
    def default(self, obj):
        if isinstance(obj, bytes):
            return obj.decode("utf-8")  # simplejson, which awslambdaric uses, encodes bytes as text
        if isinstance(obj, decimal.Decimal):
            # awslambdaric (simplejson) writes Decimals as raw JSON numbers.
            return _RawNumber(obj)
        return super().default(obj)


class _RawNumber(float):
    """A float whose repr is the Decimal's own digits, so json writes them unchanged."""

    def __new__(cls, value: decimal.Decimal):
        self = super().__new__(cls, float(value))
        self._text = "NaN" if value.is_nan() else str(value)
        return self

    def __repr__(self) -> str:
        return self._text


def to_json(obj) -> str:
    return json.dumps(obj, cls=_Encoder)


def marshal_response(result) -> tuple[bytes, str]:
    if isinstance(result, bytes):
        return result, "application/unknown"
    try:
        text = _encode_result(result)
    except Exception as exc:  # noqa: BLE001 - every encoding failure is a MarshalError
        raise FaultException(FaultException.MARSHAL_ERROR,
                             f"Unable to marshal response: {exc}") from None
    return text.encode("utf-8"), "application/json"


class _NeedsRawNumbers(Exception):
    """A Decimal is in the result: only the pure-Python encoder can write its digits as they are."""


def _fast_default(obj):
    if isinstance(obj, bytes):
        return obj.decode("utf-8")
    if isinstance(obj, decimal.Decimal):
        raise _NeedsRawNumbers
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _encode_result(result) -> str:
    try:  # the C encoder, for the usual result
        return json.dumps(result, default=_fast_default)
    except _NeedsRawNumbers:
        pass
    encoder = _Encoder()
    # float.__repr__ is used by json for floats; _RawNumber overrides it.
    encoder_iter = json.encoder._make_iterencode(  # type: ignore[attr-defined]
        {}, encoder.default, json.encoder.py_encode_basestring_ascii, None,
        _float_repr, ": ", ", ", False, False, True)
    return "".join(encoder_iter(result, 0))


def _float_repr(value: float) -> str:
    if isinstance(value, _RawNumber):
        return repr(value)
    if value != value:
        return "NaN"
    if value == math.inf:
        return "Infinity"
    if value == -math.inf:
        return "-Infinity"
    return float.__repr__(value)


def unmarshal_event(body: bytes, content_type: str):
    if content_type != "application/json":
        return body
    try:
        return json.loads(body)
    except Exception as exc:  # noqa: BLE001
        raise FaultException(FaultException.UNMARSHAL_ERROR,
                             f"Unable to unmarshal input: {exc}") from None
