"""The bundled runtime: init (import the handler module), then the invoke loop.

It follows awslambdaric's bootstrap: the same error payloads, log lines and
context object, over the same Runtime API. Options come on the command line so
that the environment variables hold only what Lambda would set.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
import time

from lambda_widget.runtime.client import RuntimeClient
from lambda_widget.runtime.context import LambdaContext
from lambda_widget.runtime.faults import (
    UNHANDLED_WARNING,
    FaultException,
    error_from_exception,
    error_log_line,
    make_error,
    marshal_response,
    to_json,
    unmarshal_event,
)

_request_id = ""


class LogStream:
    """Unbuffered text stream onto a file descriptor; feeds the tracer's per-step output."""

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name
        self.recorder = None
        self.encoding = "utf-8"
        self.errors = "replace"

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self.recorder is not None:
            self.recorder.output(text)
        data = text.encode("utf-8", "replace")
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            pass  # stdout closed by the handler: the text is dropped, as on a closed pipe
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass  # a handler closing sys.stdout must not silence the runtime's own log lines

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.fd

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return False


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _request_id
        return True


class _SinkHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        sys.stdout.write(self.format(record))


def _setup_logging() -> None:
    logging.Formatter.converter = time.gmtime
    handler = _SinkHandler()
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
        "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in logging._nameToLevel:  # noqa: SLF001 - same check as awslambdaric
        root.setLevel(level)
    root.addHandler(handler)


def load_handler(handler: str):
    """Init: import the module (top-level code runs here) and find the handler."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as exc:
        raise FaultException(FaultException.MALFORMED_HANDLER_NAME,
                             f"Bad handler '{handler}': {exc}") from None
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(FaultException.BUILT_IN_MODULE_CONFLICT,
                                 f"Cannot use built-in module {modname} as a handler module")
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as exc:
        raise FaultException(FaultException.IMPORT_MODULE_ERROR,
                             f"Unable to import module '{modname}': {exc}") from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise FaultException(FaultException.USER_CODE_SYNTAX_ERROR,
                             f"Syntax error in module '{modname}': {exc}", trace) from None
    try:
        return getattr(module, fname), module
    except AttributeError:
        raise FaultException(FaultException.HANDLER_NOT_FOUND,
                             f"Handler '{fname}' missing on module '{modname}'") from None


def die_with_parent(parent: int) -> None:
    """Be killed when the process that started us dies (the kernel, even on SIGKILL)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent and os.getppid() != parent:
        os._exit(1)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lambda_widget.runtime")
    parser.add_argument("--parent", type=int, default=0)
    parser.add_argument("--trace-file")
    parser.add_argument("--max-steps", type=int, default=500)
    parser.add_argument("--track", default="[]")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    if args.parent:
        die_with_parent(args.parent)
    run(args.trace_file, args.max_steps, json.loads(args.track))


def run(trace_file: str | None = None, max_steps: int = 500, track: list[str] | None = None) -> None:
    """Init, then serve invocations until the process is killed."""
    global _request_id
    sys.stdout = LogStream(1, "<stdout>")
    sys.stderr = LogStream(2, "<stderr>")
    _setup_logging()
    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])

    try:
        handler, module = load_handler(os.environ.get("_HANDLER", ""))
    except Exception as exc:  # noqa: BLE001 - every init failure is reported
        if isinstance(exc, FaultException):
            error = make_error(exc.msg, exc.exception_type, exc.trace)
        else:
            error = error_from_exception(exc)
            error["requestId"] = ""
        logging.warning(UNHANDLED_WARNING)
        sys.stdout.write(error_log_line(error))
        client.post_init_error(to_json(error).encode(), error["errorType"])
        sys.exit(1)

    recorder = None
    if trace_file:
        from lambda_widget.runtime.tracer import StepRecorder

        fd = os.open(trace_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        recorder = StepRecorder(fd, getattr(module, "__file__", "") or "", max_steps, track or [])
        sys.stdout.recorder = recorder
        sys.stderr.recorder = recorder

    while True:
        invocation = client.next()
        _request_id = invocation.request_id
        if invocation.trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = invocation.trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        error = None
        try:
            context = LambdaContext(
                invocation.request_id,
                _parse_header(invocation.client_context, "Client Context"),
                _parse_header(invocation.cognito_identity, "Cognito Identity"),
                invocation.deadline_ms, invocation.function_arn, invocation.tenant_id)
            event = unmarshal_event(invocation.body, invocation.content_type)
            if recorder is not None:
                result = recorder.run(handler, event, context, invocation.request_id)
            else:
                result = handler(event, context)
            body, content_type = marshal_response(result)
        except FaultException as exc:
            error = make_error(exc.msg, exc.exception_type, exc.trace, invocation.request_id)
        except Exception as exc:  # noqa: BLE001 - the handler's exception is the error
            error = error_from_exception(exc, invocation.request_id)
        if error is not None:
            sys.stdout.write(error_log_line(error))
            client.post_error(invocation.request_id, to_json(error).encode(), error["errorType"])
        else:
            client.post_response(invocation.request_id, body, content_type)


def _parse_header(value: str | None, name: str):
    if not value:
        return None
    try:
        return json.loads(value)
    except Exception as exc:  # noqa: BLE001
        raise FaultException(FaultException.LAMBDA_CONTEXT_UNMARSHAL_ERROR,
                             f"Unable to parse {name} JSON: {exc}") from None
