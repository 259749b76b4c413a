"""``lambda-widget``: the execution model in a terminal, for anyone without a browser.

    lambda-widget demo                      # the seed lesson's doubling handler, step by step
    lambda-widget run handler.py --event '{"value": 5}' [--times N] [--wait SECONDS]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

MAX_SOURCE = 50 * 1024 * 1024  # Lambda's limit for a (zipped) deployment package

SEED_HANDLER = """\
def lambda_handler(event, context):
    print('Start')
    result = event['value'] * 2
    print('End')
    return result
"""


def _seconds(text: str) -> float:
    """An argparse type: a finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number of seconds >= 0")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range for a JSON number")
    return value


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _parse_event(text: str):
    """The --event text as JSON that Lambda accepts: no NaN, no Infinity, no 1e999."""
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)


def _read_source(path: Path) -> str:
    """The handler file, read with a bound (``/dev/zero`` must not fill the memory)."""
    with open(path, "rb") as f:
        data = f.read(MAX_SOURCE + 1)
    if len(data) > MAX_SOURCE:
        raise ValueError(f"it is larger than {MAX_SOURCE // 2**20} MB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"it is not UTF-8 text (byte {exc.start})") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambda-widget",
        description="Run a Lambda handler in real execution environments and print what happened.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--event", default=None,
                       help="the event as JSON (default: {\"value\": 5} for demo, {} for run)")
        p.add_argument("--times", type=int, default=1, help="invoke this many times, one after another")
        p.add_argument("--wait", type=_seconds, default=None, metavar="SECONDS",
                       help="then advance the clock by SECONDS (idle environments may be reaped)")
        p.add_argument("--track", action="append", default=[], metavar="EXPR",
                       help="an expression to follow in the variable tracker (repeatable)")
        p.add_argument("--timeout", type=float, default=3.0, help="function timeout in seconds")
        p.add_argument("--memory", type=int, default=128, help="memory size in MB")
        p.add_argument("--idle-timeout", type=_seconds, default=600.0,
                       help="seconds an idle environment stays warm")
        p.add_argument("--seed", type=int, default=None, help="reproducible request ids")

    demo = sub.add_parser("demo", help="the seed lesson: a handler that doubles event['value']")
    common(demo)
    run = sub.add_parser("run", help="run a handler file")
    run.add_argument("path", type=Path, help="the handler module (a .py file)")
    run.add_argument("--handler", default="lambda_handler", help="the handler function's name")
    run.add_argument("--name", default=None, help="function name (default: the file's stem)")
    common(run)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C: every environment is already gone (the manager's exit)
        print("lambda-widget: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        source, name, handler = SEED_HANDLER, "double", "lambda_handler"
        event_text = args.event or '{"value": 5}'
        track = args.track or ["event['value']"]
    else:
        try:
            source = _read_source(args.path)
        except OSError as exc:
            print(f"lambda-widget: cannot read {args.path}: {exc.strerror}", file=sys.stderr)
            return 2
        except ValueError as exc:
            print(f"lambda-widget: cannot use {args.path}: {exc}", file=sys.stderr)
            return 2
        name = args.name or "".join(c if c.isalnum() or c in "-_" else "-" for c in args.path.stem)
        handler, event_text, track = args.handler, args.event or "{}", args.track
    try:
        event = _parse_event(event_text)
    except json.JSONDecodeError as exc:
        print(f"lambda-widget: --event is not valid JSON: {exc.msg} at line {exc.lineno} "
              f"column {exc.colno}\n  {event_text}\n  {' ' * (exc.pos)}^", file=sys.stderr)
        return 2
    except (ValueError, RecursionError) as exc:
        why = "it nests too deeply" if isinstance(exc, RecursionError) else str(exc)
        print(f"lambda-widget: --event is not valid JSON: {why}", file=sys.stderr)
        return 2
    if args.times < 1:
        print("lambda-widget: --times must be at least 1", file=sys.stderr)
        return 2

    from lambda_widget.engine import ContainerManager, InvalidParameterValueException
    from lambda_widget.engine.errors import LambdaApiError
    from lambda_widget.engine.validation import encode_event

    try:
        encode_event(event)  # checked before anything starts: nesting, size of numbers
    except LambdaApiError as exc:
        print(f"lambda-widget: --event: {exc}", file=sys.stderr)
        return 2
    from lambda_widget.views.text import render_invocation, render_pool

    with ContainerManager(seed=args.seed) as mgr:
        try:
            mgr.register(name, source, handler=handler, timeout=args.timeout, memory_mb=args.memory,
                         idle_timeout=args.idle_timeout, track=track)
        except InvalidParameterValueException as exc:
            print(f"lambda-widget: {exc}", file=sys.stderr)
            return 2
        invocations = []
        for i in range(args.times):
            try:
                inv = mgr.invoke(name, event)
            except LambdaApiError as exc:
                print(f"lambda-widget: {exc}", file=sys.stderr)
                return 2
            invocations.append(inv)
            print(f"=== Invocation {i + 1} of {args.times} ===")
            print(render_invocation(inv, history=list(mgr.history), function=mgr.function(name)))
            print()
        if args.wait is not None:
            reaped = mgr.advance(args.wait)
            print(f"=== {args.wait:g} s later: {len(reaped)} environment(s) reaped ===")
            if reaped and invocations:
                print(render_invocation(invocations[-1], history=list(mgr.history),
                                        function=mgr.function(name)))
            print()
        print(render_pool(mgr))
        failed = [i for i in invocations if i.status != "succeeded"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
