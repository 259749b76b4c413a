"""Where the function's output goes: stdout/stderr streams, the logging handler, error lines.

Text format by default; ``AWS_LAMBDA_LOG_FORMAT=JSON`` switches the logging handler and
the runtime's error records to JSON, as awslambdaric does.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import time

from lambda_widget.runtime.faults import error_log_line, to_json

TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "aws_request_id", "tenant_id", "taskName"}


def write_fd(fd: int, data: bytes) -> None:
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass  # the descriptor was closed by the handler: the text is dropped, as on a closed pipe


class BinaryStream:
    """``sys.stdout.buffer``: bytes straight to the descriptor."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: bytes) -> int:
        write_fd(self.fd, bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        return self.fd


class LogStream:
    """Unbuffered text stream onto a file descriptor; feeds the tracer's per-step output."""

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name
        self.recorder = None
        self.encoding = "utf-8"
        self.errors = "replace"
        self.buffer = BinaryStream(fd)

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self.recorder is not None:
            self.recorder.output(text)
        write_fd(self.fd, text.encode("utf-8", "replace"))
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass  # a handler closing sys.stdout must not silence later invocations' logs

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


class RequestContext:
    """The request id the logging filter stamps on every record."""

    request_id = ""


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = RequestContext.request_id
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a record: timestamp, level, message, logger, requestId (+ error fields, extras)."""

    def format(self, record: logging.LogRecord) -> str:
        level = min(50, max(0, record.levelno)) // 10 * 10
        stamp = datetime.datetime.fromtimestamp(record.created, tz=datetime.timezone.utc)
        exc = record.exc_info
        if exc:
            import traceback
        out = {  # the field order awslambdaric writes
            "timestamp": stamp.strftime(DATE_FORMAT + ".%f")[:-3] + "Z",
            "level": logging.getLevelName(level),
            "message": record.getMessage(),
            "logger": record.name,
            "stackTrace": traceback.format_tb(exc[2]) if exc else None,
            "errorType": exc[0].__name__ if exc else None,
            "errorMessage": str(exc[1]) if exc else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": f"{record.pathname}:{record.funcName}:{record.lineno}" if exc else None,
        }
        out.update((k, v) for k, v in vars(record).items() if k not in _RECORD_FIELDS and k not in out
                   and k not in ("exc_info", "exc_text", "stack_info"))
        return json.dumps({k: v for k, v in out.items() if v is not None}, ensure_ascii=False,
                          default=str) + "\n"


class _SinkHandler(logging.Handler):
    def __init__(self, sink: LogSink) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.write(self.format(record))


class LogSink:
    """The runtime's own log channel: a private copy of stdout, so a handler that closes
    fd 1 does not silence later invocations' logs.

    Built (and installed on the root logger) before the fork in the zygote, so environments
    share it; ``open()`` then binds it to this process's stdout and its environment.
    """

    def __init__(self) -> None:
        self.fd = 1
        self.json = False
        self.handler = _SinkHandler(self)
        self.handler.setFormatter(logging.Formatter(TEXT_FORMAT, DATE_FORMAT))
        self.handler.addFilter(_RequestIdFilter())

    def install(self) -> None:
        """Route the root logger through this sink (UTC timestamps, as on Lambda)."""
        logging.Formatter.converter = time.gmtime
        logging.getLogger().addHandler(self.handler)

    def open(self) -> None:
        """Take a private copy of stdout; apply ``AWS_LAMBDA_LOG_FORMAT`` / ``AWS_LAMBDA_LOG_LEVEL``."""
        try:
            self.fd = os.dup(1)
        except OSError:
            self.fd = 1
        self.json = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
        if self.json:
            self.handler.setFormatter(JsonFormatter())
        level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
        level = {"TRACE": "DEBUG"}.get(level, level)
        if level in logging._nameToLevel:  # noqa: SLF001 - the same check awslambdaric makes
            logging.getLogger().setLevel(level)

    def write(self, text: str) -> None:
        write_fd(self.fd, text.encode("utf-8", "replace"))

    def error(self, error: dict) -> None:
        """The record of an unhandled error (the ``[ERROR]`` line, or its JSON form)."""
        if self.json:
            stamp = time.strftime(DATE_FORMAT, time.gmtime(time.time()))
            self.write(to_json({"timestamp": stamp, "level": "ERROR", **error}) + "\n")
        else:
            self.write(error_log_line(error))
