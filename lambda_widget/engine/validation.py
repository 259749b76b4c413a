"""Checks made before anything runs: function configuration and Invoke payloads."""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any

from lambda_widget.engine.errors import InvalidParameterValueException, InvalidRequestContentException
from lambda_widget.engine.interpreters import LAMBDA_PYTHONS
from lambda_widget.placement.limits import ACCOUNT_CONCURRENCY
from lambda_widget.placement.limits import UNRESERVED_MINIMUM as MIN_UNRESERVED
from lambda_widget.pricing import ARCHITECTURES

MAX_SYNC_REQUEST = 6 * 1024 * 1024
MAX_CLIENT_CONTEXT = 3583  # bytes of base64 in X-Amz-Client-Context (API_Invoke)
MAX_EVENT_DEPTH = 200  # nesting the engine's records (deep copies, views) handle without recursion errors
# Lambda's reserved keys (configuration-envvars), AWS_ACCESS_KEY included.
RESERVED_ENV = {
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
}
_ENCODER = json.JSONEncoder(allow_nan=False)  # json.dumps(event, allow_nan=False), built once
# fullmatch everywhere: with `$`, "fn\n" would pass.
NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
HANDLER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
ENV_KEY_RE = re.compile(r"[a-zA-Z]([a-zA-Z0-9_])+")  # Lambda's pattern: two characters at least


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _too_deep(obj: Any, limit: int = MAX_EVENT_DEPTH) -> bool:
    """True if ``obj`` nests lists and dicts more than ``limit`` deep (no recursion)."""
    if not isinstance(obj, (dict, list)):
        return False
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def _bad_event(why: str) -> InvalidRequestContentException:
    return InvalidRequestContentException(f"Could not parse request body into json: {why}")


def encode_event(event: Any) -> bytes:
    """The Invoke payload: JSON text. Bytes must already be JSON (no NaN or Infinity)."""
    try:
        if isinstance(event, (bytes, bytearray)):
            try:
                decoded = json.loads(event, parse_constant=_no_constant)
            except ValueError as exc:
                raise _bad_event(str(exc)) from None
            if _too_deep(decoded):
                raise _bad_event(f"the event nests more than {MAX_EVENT_DEPTH} levels deep")
            return bytes(event)
        if _too_deep(event):
            raise _bad_event(f"the event nests more than {MAX_EVENT_DEPTH} levels deep")
        try:
            return _ENCODER.encode(event).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise _bad_event(str(exc)) from None
    except RecursionError:
        raise _bad_event("the event nests too deeply") from None


def encode_client_context(client_context: Any) -> str | None:
    """The client context as the runtime receives it (JSON), checked as the Invoke API does."""
    if client_context is None:
        return None
    if not isinstance(client_context, dict):
        raise InvalidRequestContentException(
            f"Client context must be a JSON object (a dict), not {type(client_context).__name__}")
    try:
        text = json.dumps(client_context, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidRequestContentException(f"Client context is not valid JSON: {exc}") from None
    size = len(base64.b64encode(text.encode("utf-8")))
    if size > MAX_CLIENT_CONTEXT:
        raise InvalidRequestContentException(
            f"Client context is {size} bytes of base64, over the limit of {MAX_CLIENT_CONTEXT} bytes")
    return text


def _number(value: Any) -> bool:
    """A real number (booleans are not), finite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_track(track: Any) -> tuple[str, ...]:
    """Tracked expressions: one string, or a list/tuple of strings that are Python expressions."""
    bad = InvalidParameterValueException
    if isinstance(track, str):
        track = (track,)
    if not isinstance(track, (list, tuple)):
        raise bad(f"track must be an expression or a list of expressions, not {type(track).__name__}")
    for expr in track:
        if not isinstance(expr, str):
            raise bad(f"track must hold expressions as strings, e.g. \"event['value']\"; got {expr!r}")
        try:
            compile(expr, "<track>", "eval")
        except (SyntaxError, ValueError) as exc:
            raise bad(f"Invalid tracked expression {expr!r}: {exc}") from None
    return tuple(track)


def validate_source(source: Any) -> None:
    bad = InvalidParameterValueException
    if not isinstance(source, str):
        raise bad("source must be the handler module's code, as a string")
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = source.count("\n", 0, exc.start) + 1
        raise bad(f"source is not valid UTF-8 text: {exc.reason} ({source[exc.start]!r}) on line {line}; "
                  f"remove the character or write it as an escape") from None


def validate_env(env: dict) -> None:
    bad = InvalidParameterValueException
    for key, value in env.items():
        if not isinstance(key, str) or not ENV_KEY_RE.fullmatch(key):
            raise bad(f"Invalid environment variable name {key!r}: a letter, then one or more "
                      f"letters, digits or underscores ([a-zA-Z]([a-zA-Z0-9_])+)")
        if not isinstance(value, str):
            raise bad(f"Environment variable {key} must be a string, not {type(value).__name__}")
        if "\0" in value:
            raise bad(f"Environment variable {key} contains a NUL character (\\0), which no "
                      f"process environment can hold")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise bad(f"Environment variable {key} is not valid UTF-8 text") from None
    reserved_keys = sorted(set(env) & RESERVED_ENV)
    if reserved_keys:
        raise bad("Lambda was unable to configure your environment variables because the "
                  "environment variables you have provided contains reserved keys that are "
                  "currently not supported for modification. Reserved keys used in this "
                  f"request: {', '.join(reserved_keys)}")
    if sum(len(k) + len(v) for k, v in env.items()) > 4096:
        raise bad("Environment variables exceed the 4 KB limit")


def validate_config(name, source, handler, timeout, memory_mb, idle_timeout, env,
                    reserved, provisioned, runtime, max_steps, max_retry_attempts=2,
                    max_event_age=21600, on_success=None, on_failure=None, cpu_scaling=True,
                    architecture="x86_64") -> None:
    """Check a function's configuration as CreateFunction would; raise with a clear message."""
    bad = InvalidParameterValueException
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise bad(f"Invalid function name {name!r}: use 1-64 letters, digits, hyphens or underscores")
    validate_source(source)
    if not isinstance(handler, str) or not HANDLER_RE.fullmatch(handler):
        raise bad(f"Invalid handler {handler!r}: give a function name, or module.function")
    if not _number(timeout) or not 1 <= timeout <= 900 or timeout != int(timeout):
        raise bad(f"Invalid timeout {timeout!r}: it must be a whole number of seconds between 1 and 900 seconds")
    if not _whole(memory_mb) or not 128 <= memory_mb <= 10240:
        raise bad(f"Invalid memory size {memory_mb!r}: it must be a whole number of MB from 128 to 10240")
    if not _number(idle_timeout) or idle_timeout <= 0:
        raise bad(f"Invalid idle timeout {idle_timeout!r}: it must be a positive number of seconds")
    if not isinstance(env, dict):
        raise bad(f"env must be a dict of strings, not {type(env).__name__}")
    validate_env(env)
    limit = ACCOUNT_CONCURRENCY - MIN_UNRESERVED
    if reserved is not None and (not _whole(reserved) or not 0 <= reserved <= limit):
        raise bad(f"Invalid reserved concurrency {reserved!r}: a whole number from 0 to {limit} "
                  f"(the account's {ACCOUNT_CONCURRENCY} minus the {MIN_UNRESERVED} that stay unreserved)")
    if not _whole(provisioned) or not 0 <= provisioned <= limit:
        raise bad(f"Invalid provisioned concurrency {provisioned!r}: a whole number from 0 to {limit} "
                  f"(the account's {ACCOUNT_CONCURRENCY} minus the {MIN_UNRESERVED} that stay unreserved)")
    if reserved is not None and provisioned > reserved:
        raise bad(f"Provisioned concurrency ({provisioned}) cannot exceed reserved concurrency ({reserved})")
    if not isinstance(runtime, str) or (runtime not in ("bundled", "awslambdaric") and runtime not in LAMBDA_PYTHONS):
        raise bad(f"Unknown runtime {runtime!r}: use 'bundled', 'awslambdaric' or one of Lambda's Python "
                  f"runtimes ({', '.join(LAMBDA_PYTHONS)}: the bundled runtime on that Python)")
    if not _whole(max_steps) or max_steps < 1:
        raise bad(f"Invalid max_steps {max_steps!r}: a whole number >= 1")
    if not isinstance(cpu_scaling, bool):
        raise bad(f"cpu_scaling must be True or False, not {cpu_scaling!r}")
    if not _whole(max_retry_attempts) or not 0 <= max_retry_attempts <= 2:
        raise bad(f"Invalid max_retry_attempts {max_retry_attempts!r}: 0, 1 or 2")
    if not _number(max_event_age) or not 60 <= max_event_age <= 21600:
        raise bad(f"Invalid max_event_age {max_event_age!r}: between 60 and 21600 seconds")
    for key, dest in (("on_success", on_success), ("on_failure", on_failure)):
        if dest is not None and not callable(dest) and not isinstance(dest, list):
            raise bad(f"{key} must be a callable or a list, not {type(dest).__name__}")
    if architecture not in ARCHITECTURES:
        raise bad(f"Invalid architecture {architecture!r}: use {' or '.join(map(repr, ARCHITECTURES))} "
                  f"(here it only changes the price)")


def check_seconds(seconds: Any, what: str = "seconds") -> float:
    """A finite number of seconds >= 0 (for the clock); raises ValueError otherwise."""
    if not _number(seconds) or seconds < 0:
        raise ValueError(f"{what} must be a finite number >= 0, not {seconds!r}")
    return float(seconds)
