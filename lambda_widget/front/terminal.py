"""``lambda-widget serve``: the HTTP front from a terminal, with a live line per invocation."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

from lambda_widget.views.words import version_tag


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="serve a SAM template or a handler file to boto3, the AWS CLI and HTTP",
                       description="Serve Lambda's Invoke API (boto3, aws lambda invoke --endpoint-url), "
                                   "function URLs and a template's Api/HttpApi routes, printing a line "
                                   "per invocation. Ctrl-C stops.")
    p.add_argument("path", nargs="?", type=Path, default=None,
                   help="template.yaml (default: ./template.yaml) or a handler .py file")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; other hosts get Invoke only)")
    p.add_argument("--port", type=int, default=3001, help="Invoke API port (default 3001, as sam local start-lambda)")
    p.add_argument("--api-port", type=int, default=3000, help="port of the template's routes (default 3000)")
    p.add_argument("--handler", default="lambda_handler", help="handler function of a .py file")
    p.add_argument("--name", default=None, help="function name of a .py file (default: the file's stem)")
    p.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                   help="a template parameter (repeatable)")
    p.add_argument("--logs", action="store_true", help="print each invocation's log lines too")
    p.add_argument("--logical-ids", action="store_true",
                   help="name a template's functions by their logical IDs, as sam local does, not FunctionName")
    p.add_argument("--allow-outside-code", action="store_true",
                   help="accept a CodeUri or ContentUri outside the template's directory")


def _line(inv) -> str:
    kind = "throttled" if inv.status == "throttled" else ("cold" if inv.cold else "warm")
    reason = f" ({inv.cold_reason})" if inv.cold and inv.cold_reason else ""
    duration = f" {inv.duration_ms:.1f} ms" if inv.duration_ms is not None else ""
    billed = f", billed {inv.billed_duration_ms} ms" if inv.billed_duration_ms is not None else ""
    where = f" {inv.container_id}" if inv.container_id else ""
    error = f" {inv.error.get('errorType')}" if inv.error and inv.status != "succeeded" else ""
    return (f"{time.strftime('%H:%M:%S')} #{inv.number} {inv.function_name} {version_tag(inv.version)} "
            f"{inv.invocation_type} {kind}{reason}{where} {inv.status}{error}{duration}{billed}")


def run(args: argparse.Namespace) -> int:
    from lambda_widget.engine import ContainerManager
    from lambda_widget.engine.errors import LambdaApiError
    from lambda_widget.front import FrontWarning, function_url, serve, serve_api
    from lambda_widget.project.sam import TemplateError, load

    for flag, port in (("--port", args.port), ("--api-port", args.api_port)):
        if not 0 <= port <= 65535:
            print(f"lambda-widget: {flag} must be a port number from 0 (any free port) to 65535, not {port}",
                  file=sys.stderr)
            return 2
    path = args.path or Path("template.yaml")
    if not path.exists():
        print(f"lambda-widget: {path} not found (give a template.yaml or a handler .py file)", file=sys.stderr)
        return 2
    overrides = {}
    for item in args.parameter:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"lambda-widget: --parameter must be KEY=VALUE, not {item!r}", file=sys.stderr)
            return 2
        overrides[key] = value
    with warnings.catch_warnings(record=True) as caught, ContainerManager() as mgr:
        warnings.simplefilter("always", FrontWarning)
        try:
            urls = []
            cors: dict = {}
            routes_ep = None
            if path.suffix == ".py":
                name = args.name or "".join(c if c.isalnum() or c in "-_" else "-" for c in path.stem)
                mgr.register(name, path.read_text(encoding="utf-8"), handler=args.handler)
                urls.append(name)
                print(f"Function {name} ({path}, handler {args.handler})")
            else:
                project = load(mgr, path, overrides, logical_ids=args.logical_ids,
                               allow_outside_code=args.allow_outside_code)
                print(project)
                urls = [s.name for s in project.specs if s.function_url]
                cors = {s.name: s.cors for s in project.specs}
                if project.routes:
                    routes_ep = serve_api(mgr, project.routes, port=args.api_port, host=args.host)
            endpoint = serve(mgr, port=args.port, host=args.host)
        except (TemplateError, LambdaApiError, OSError, UnicodeDecodeError) as exc:
            print(f"lambda-widget: {exc}", file=sys.stderr)
            return 2
        for w in caught:
            print(f"warning: {w.message}", file=sys.stderr)
        print(f"Invoke API: {endpoint.url}  (aws lambda invoke --endpoint-url {endpoint.url.rstrip('/')} "
              f"--function-name NAME out.json)")
        if routes_ep is not None:
            print(f"API routes: {routes_ep.url}")
        for name in urls:
            print(f"Function URL of {name}: {function_url(mgr, name, host=args.host, cors=cors.get(name)).url}")
        print("Ctrl-C stops.", flush=True)
        return _follow(mgr, args.logs)


def _follow(mgr, logs: bool, stop: threading.Event | None = None) -> int:
    """Print a line for every invocation that finishes, until Ctrl-C, SIGTERM (or ``stop``)."""
    def on_term(signum, frame) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_term)
    printed = 0  # the highest invocation number printed, and those done out of order
    seen: set[int] = set()
    try:
        while not (stop is not None and stop.is_set()):
            for inv in list(mgr.history):
                if inv.number <= printed or inv.number in seen or not inv.done:
                    continue
                seen.add(inv.number)
                print(_line(inv), flush=True)
                if logs:
                    for line in inv.logs:
                        print("    " + line, flush=True)
            while printed + 1 in seen:
                printed += 1
                seen.discard(printed)
            time.sleep(0.2)
    except KeyboardInterrupt:
        print("\nStopped.")
    return 0
