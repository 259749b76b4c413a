"""Checks made before anything runs: function configuration and Invoke payloads."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from lambda_widget.engine.errors import InvalidParameterValueException, InvalidRequestContentException
from lambda_widget.pricing import ARCHITECTURES

MAX_SYNC_REQUEST = 6 * 1024 * 1024
RESERVED_ENV = {
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
}
_ENCODER = json.JSONEncoder(allow_nan=False)  # json.dumps(event, allow_nan=False), built once
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
HANDLER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def encode_event(event: Any) -> bytes:
    """The Invoke payload: JSON text. Bytes must already be JSON."""
    if isinstance(event, (bytes, bytearray)):
        try:
            json.loads(event)
        except ValueError as exc:
            raise InvalidRequestContentException(
                f"Could not parse request body into json: {exc}") from None
        return bytes(event)
    try:
        return _ENCODER.encode(event).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: {exc}") from None



def validate_config(name, source, handler, timeout, memory_mb, idle_timeout, env,
                    reserved, provisioned, runtime, max_steps, max_retry_attempts=2,
                    max_event_age=21600, on_success=None, on_failure=None, cpu_scaling=True,
                    architecture="x86_64") -> None:
    """Check a function's configuration as CreateFunction would; raise with a clear message."""
    bad = InvalidParameterValueException
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise bad(f"Invalid function name {name!r}: use 1-64 letters, digits, hyphens or underscores")
    if not isinstance(source, str):
        raise bad("source must be the handler module's code, as a string")
    if not isinstance(handler, str) or not HANDLER_RE.match(handler):
        raise bad(f"Invalid handler {handler!r}: give a function name, or module.function")
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 1 <= timeout <= 900:
        raise bad(f"Invalid timeout {timeout!r}: it must be between 1 and 900 seconds")
    if not isinstance(memory_mb, int) or isinstance(memory_mb, bool) or not 128 <= memory_mb <= 10240:
        raise bad(f"Invalid memory size {memory_mb!r}: it must be a whole number of MB from 128 to 10240")
    if not isinstance(idle_timeout, (int, float)) or idle_timeout <= 0 or math.isnan(idle_timeout):
        raise bad(f"Invalid idle timeout {idle_timeout!r}: it must be a positive number of seconds")
    for key, value in env.items():
        if not isinstance(key, str) or not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", key):
            raise bad(f"Invalid environment variable name {key!r}")
        if not isinstance(value, str):
            raise bad(f"Environment variable {key} must be a string, not {type(value).__name__}")
    reserved_keys = sorted(set(env) & RESERVED_ENV)
    if reserved_keys:
        raise bad("Lambda was unable to configure your environment variables because the "
                  "environment variables you have provided contains reserved keys that are "
                  "currently not supported for modification. Reserved keys used in this "
                  f"request: {', '.join(reserved_keys)}")
    if sum(len(k) + len(v) for k, v in env.items()) > 4096:
        raise bad("Environment variables exceed the 4 KB limit")
    if reserved is not None and (not isinstance(reserved, int) or reserved < 0):
        raise bad(f"Invalid reserved concurrency {reserved!r}: a whole number >= 0")
    if not isinstance(provisioned, int) or provisioned < 0:
        raise bad(f"Invalid provisioned concurrency {provisioned!r}: a whole number >= 0")
    if reserved is not None and provisioned > reserved:
        raise bad(f"Provisioned concurrency ({provisioned}) cannot exceed reserved concurrency ({reserved})")
    if runtime not in ("bundled", "awslambdaric"):
        raise bad(f"Unknown runtime {runtime!r}: use 'bundled' or 'awslambdaric'")
    if not isinstance(max_steps, int) or max_steps < 1:
        raise bad(f"Invalid max_steps {max_steps!r}: a whole number >= 1")


    if not isinstance(cpu_scaling, bool):
        raise bad(f"cpu_scaling must be True or False, not {cpu_scaling!r}")
    if not isinstance(max_retry_attempts, int) or not 0 <= max_retry_attempts <= 2:
        raise bad(f"Invalid max_retry_attempts {max_retry_attempts!r}: 0, 1 or 2")
    if not isinstance(max_event_age, (int, float)) or not 60 <= max_event_age <= 21600:
        raise bad(f"Invalid max_event_age {max_event_age!r}: between 60 and 21600 seconds")
    for key, dest in (("on_success", on_success), ("on_failure", on_failure)):
        if dest is not None and not callable(dest) and not isinstance(dest, list):
            raise bad(f"{key} must be a callable or a list, not {type(dest).__name__}")
    if architecture not in ARCHITECTURES:
        raise bad(f"Invalid architecture {architecture!r}: use {' or '.join(map(repr, ARCHITECTURES))} "
                  f"(here it only changes the price)")
