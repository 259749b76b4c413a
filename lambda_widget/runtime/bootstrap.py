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
import resource
import signal
import socket
import sys

from lambda_widget.runtime.client import RuntimeClient
from lambda_widget.runtime.context import LambdaContext
from lambda_widget.runtime.faults import (
    UNHANDLED_WARNING,
    FaultException,
    error_from_exception,
    make_error,
    marshal_response,
    to_json,
    unmarshal_event,
)
from lambda_widget.runtime.lifeline import die_with_parent
from lambda_widget.runtime.logsink import LogSink, LogStream, RequestContext


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


_sink: LogSink | None = None  # the log sink the zygote built for every environment


def prepare() -> None:
    """In the zygote, before it forks: build what every environment sets up the same way.

    Objects built here stay in pages the environments share; built after the fork, each
    environment would hold its own copy.
    """
    global _sink
    _sink = LogSink()
    _sink.install()
    _rehearse_import()


def _rehearse_import() -> None:
    """Import a throwaway handler module, from source then from bytecode, and forget it.

    Runs importlib's path finders and loaders once here, so the caches and specialised
    bytecode they create on first use are shared instead of built in every environment.
    """
    import shutil

    # Not tempfile: it would cache its directory and seed its name generator in the zygote,
    # and every environment would inherit both.
    root = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"lambda-widget-zygote-{os.getpid()}")
    name = "_lambda_widget_rehearsal"
    try:
        os.mkdir(root, 0o700)
    except OSError:
        return
    try:
        with open(os.path.join(root, name + ".py"), "w") as f:
            f.write("def handler(event, context):\n    return event\n")
        sys.path.insert(0, root)
        for _ in range(2):
            load_handler(name + ".handler")
            del sys.modules[name]
    except Exception:  # noqa: BLE001 - a rehearsal only; the environments import for real
        pass
    finally:
        if sys.path and sys.path[0] == root:
            del sys.path[0]
        sys.path_importer_cache.pop(root, None)
        importlib.invalidate_caches()
        shutil.rmtree(root, ignore_errors=True)


OPEN_FILES = 1024  # Lambda's quota of file descriptors


def _as_lambda_runs_us() -> None:
    """Before init: Lambda's open-file limit, and a freeze the handler cannot see.

    Lambda freezes with the cgroup freezer, which sends no signal; this runtime is thawed
    with SIGCONT. Blocked here (and in every thread and child the handler starts), SIGCONT
    still resumes the process, but a handler the code installed for it never runs.
    """
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))
    except (OSError, ValueError):
        pass
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCONT})


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lambda_widget.runtime")
    parser.add_argument("--parent", type=int, default=0)
    parser.add_argument("--trace-file")
    parser.add_argument("--max-steps", type=int, default=500)
    parser.add_argument("--track", default="[]")
    parser.add_argument("--api-fd", type=int, default=None)
    parser.add_argument("--opt", default=None)
    parser.add_argument("--control-fd", type=int, default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    if args.parent:
        die_with_parent(args.parent)
    from lambda_widget.runtime import sandbox

    sandbox.subreaper()  # descendants that detach stay in this process's tree
    run(args.trace_file, args.max_steps, json.loads(args.track), args.api_fd, args.opt, args.control_fd)


def run(trace_file: str | None = None, max_steps: int = 500, track: list[str] | None = None,
        api_fd: int | None = None, opt: str | None = None, control_fd: int | None = None) -> None:
    """Init, then serve invocations until the process is killed.

    ``api_fd``: a connection to the Runtime API the engine made for this environment;
    without it the runtime connects to ``AWS_LAMBDA_RUNTIME_API`` itself. ``opt``: where
    ``/opt`` is (its ``extensions/`` are started first). ``control_fd``: SnapStart, this
    process becomes the version's snapshot (see ``lambda_widget.runtime.platform``).
    """
    _as_lambda_runs_us()
    sink = _sink
    if sink is None:
        sink = LogSink()
        sink.install()
    sink.open()
    # Python-level output goes through the runtime's own copy of the log pipe, so a handler
    # that closes fd 1 or 2 does not silence the environment's later invocations.
    sys.stdout = LogStream(sink.fd, "<stdout>")
    sys.stderr = LogStream(sink.fd, "<stderr>")
    if opt:
        from lambda_widget.runtime.platform import start_extensions

        start_extensions(opt)  # Extension init comes before Runtime init
    api = socket.socket(fileno=api_fd) if api_fd is not None else None
    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"], api)

    try:
        handler, module = load_handler(os.environ.get("_HANDLER", ""))
    except Exception as exc:  # noqa: BLE001 - every init failure is reported
        if isinstance(exc, FaultException):
            error = make_error(exc.msg, exc.exception_type, exc.trace)
        else:
            error = error_from_exception(exc)
            error["requestId"] = ""
        logging.warning(UNHANDLED_WARNING)
        sink.error(error)
        client.post_init_error(to_json(error).encode(), error["errorType"])
        sys.exit(1)

    recorder = None
    if trace_file:
        from lambda_widget.runtime.tracer import StepRecorder

        fd = os.open(trace_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        recorder = StepRecorder(fd, getattr(module, "__file__", "") or "", max_steps, track or [])
        sys.stdout.recorder = recorder
        sys.stderr.recorder = recorder

    if control_fd is not None:
        _snapshot(client, sink, control_fd, [recorder.fd] if recorder is not None else [])

    while True:
        invocation = client.next()
        RequestContext.request_id = invocation.request_id
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
            sink.error(error)
            client.post_error(invocation.request_id, to_json(error).encode(), error["errorType"])
        else:
            client.post_response(invocation.request_id, body, content_type)


def _snapshot(client: RuntimeClient, sink: LogSink, control_fd: int, trace_fds: list[int]) -> None:
    """SnapStart, as awslambdaric does it: the before-snapshot hooks, ``restore/next`` (the
    snapshot is taken while it waits; each restored environment returns from it), then the
    after-restore hooks. A hook's error exits 64 (before) or 65 (after), as awslambdaric."""
    import threading

    from lambda_widget.runtime import hooks, platform

    platform.arm_snapshot(control_fd, [client.fileno()], [sink.fd], trace_fds)
    try:
        hooks.run_before_snapshot()
    except Exception as exc:  # noqa: BLE001 - reported as the init's error
        _hook_failed(exc, sink, client.post_init_error, FaultException.BEFORE_SNAPSHOT_ERROR, 64)
    if threading.active_count() > 1:
        sink.write(f"[lambda_widget] {threading.active_count() - 1} thread(s) started at init do not "
                   f"survive a restore (a restore here is a fork: only the runtime's thread lives on)\n")
    client.restore_next()
    try:
        hooks.run_after_restore()
    except Exception as exc:  # noqa: BLE001
        _hook_failed(exc, sink, client.post_restore_error, FaultException.AFTER_RESTORE_ERROR, 65)


def _hook_failed(exc: Exception, sink: LogSink, post, error_type: str, code: int) -> None:
    error = error_from_exception(exc)
    error["requestId"] = ""
    sink.error(error)
    post(to_json(error).encode(), error_type)
    sys.exit(code)


def _parse_header(value: str | None, name: str):
    if not value:
        return None
    try:
        return json.loads(value)
    except Exception as exc:  # noqa: BLE001
        raise FaultException(FaultException.LAMBDA_CONTEXT_UNMARSHAL_ERROR,
                             f"Unable to parse {name} JSON: {exc}") from None
