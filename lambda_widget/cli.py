"""``lambda-widget``: the execution model in a terminal, for anyone without a browser.

    lambda-widget demo                      # the seed lesson's doubling handler, step by step
    lambda-widget run handler.py --event '{"value": 5}' [--times N] [--wait SECONDS]
    lambda-widget serve [template.yaml | handler.py] [--port 3001]   # boto3, the AWS CLI, HTTP
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

MAX_SOURCE = 50 * 1024 * 1024  # Lambda's limit for a (zipped) deployment package

DEMO_EXAMPLE = """\
  lambda-widget demo --times 2 --wait 600
      the doubling handler: a cold start, a warm start, then ten idle minutes reap the environment
"""
RUN_EXAMPLE = """\
  lambda-widget run app.py --handler main --event '{"name": "Ana"}' --times 3 --seed 1
      three invocations of app.main, with reproducible request ids
"""
TRAFFIC_EXAMPLE = """\
  lambda-widget traffic --rate 1/s --for 1d --warm-ms 2021.7 --cold-ms 2172.5 --idle-timeout 10m
      a simulated day of random traffic (no processes): cold starts, environments and cost
"""

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


class _Help(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' line breaks."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambda-widget", formatter_class=_Help, epilog="examples:\n" + DEMO_EXAMPLE + RUN_EXAMPLE + TRAFFIC_EXAMPLE,
        description="Run a Lambda handler in real execution environments and print what happened: "
                    "the step table, the variable tracker, key moments, the logs and the pool.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,run,serve,traffic}")

    def common(p: argparse.ArgumentParser, event_default: str) -> None:
        p.add_argument("--event", default=None, metavar="JSON",
                       help=f"the event as JSON (default: {event_default})")
        p.add_argument("--times", type=int, default=1, metavar="N",
                       help="invoke this many times, one after another (default: %(default)s)")
        p.add_argument("--wait", type=_seconds, default=None, metavar="SECONDS",
                       help="then advance the clock by SECONDS and print what changed: environments "
                            "reaped, final steps added (default: no wait)")
        p.add_argument("--track", action="append", default=[], metavar="EXPR",
                       help="an expression to follow in the variable tracker; repeatable "
                            f"(default: {'event[' + repr('value') + ']' if event_default != '{}' else 'none'})")
        p.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                       help="function timeout (default: %(default)g s)")
        p.add_argument("--memory", type=int, default=128, metavar="MB",
                       help="memory size (default: %(default)s MB)")
        p.add_argument("--idle-timeout", type=_seconds, default=600.0, metavar="SECONDS",
                       help="how long an idle environment stays warm before it is reaped "
                            "(default: %(default)g s)")
        p.add_argument("--seed", type=int, default=None, metavar="N",
                       help="reproducible request ids (default: random ones)")

    demo = sub.add_parser("demo", help="the seed lesson: a handler that doubles event['value']",
                          description="Run the seed lesson's handler, which doubles event['value'].",
                          formatter_class=_Help, epilog="example:\n" + DEMO_EXAMPLE)
    common(demo, '{"value": 5}')
    run = sub.add_parser("run", help="run a handler file", description="Run a handler from a .py file.",
                         formatter_class=_Help, epilog="example:\n" + RUN_EXAMPLE)
    run.add_argument("path", type=Path, help="the handler module (a .py file)")
    run.add_argument("--handler", default="lambda_handler", metavar="NAME",
                     help="the handler function's name (default: %(default)s)")
    run.add_argument("--name", default=None, help="function name (default: the file's name without .py)")
    common(run, "{}")
    from lambda_widget.front.terminal import add_parser as add_serve

    add_serve(sub)
    traffic = sub.add_parser("traffic", help="simulate traffic (no processes): cold starts, environments, cost",
                             description="Simulate a workload through the execution model's placement rules.",
                             formatter_class=_Help, epilog="example:\n" + TRAFFIC_EXAMPLE)
    traffic.add_argument("--rate", required=True, help="mean arrival rate, e.g. 5/s, 30/min or 0.1")
    traffic.add_argument("--for", dest="duration", default="1d", help="simulated time, e.g. 1h or 1d (default 1d)")
    traffic.add_argument("--warm-ms", type=float, required=True, help="a warm request's service time, ms")
    traffic.add_argument("--cold-ms", type=float, required=True, help="a cold one's (init included), ms")
    traffic.add_argument("--idle-timeout", default="10m", help="keep-alive, e.g. 10m; 'none' or 'hybrid'")
    traffic.add_argument("--memory", type=int, default=128, help="memory size in MB")
    traffic.add_argument("--reserved", type=int, default=None, help="reserved concurrency")
    traffic.add_argument("--provisioned", type=int, default=0, help="provisioned concurrency")
    traffic.add_argument("--constant", action="store_true", help="evenly spaced arrivals instead of Poisson")
    traffic.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    traffic.add_argument("--json", action="store_true", help="print the whole result as JSON")
    return parser


def _traffic(args: argparse.Namespace) -> int:
    from lambda_widget import traffic

    try:
        rate = traffic.parse_rate(args.rate)
        workload = traffic.constant(rate) if args.constant else traffic.poisson(rate)
        result = traffic.simulate(workload, args.duration, warm_ms=args.warm_ms, cold_ms=args.cold_ms,
                                  keep_alive=args.idle_timeout, memory_mb=args.memory,
                                  reserved_concurrency=args.reserved,
                                  provisioned_concurrency=args.provisioned, seed=args.seed)
    except ValueError as exc:
        print(f"lambda-widget: {exc}", file=sys.stderr)
        return 2
    print(result.to_json(indent=1) if args.json else "\n".join(result.summary_lines()))
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C: every environment is already gone (the manager's exit)
        print("lambda-widget: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "traffic":
        return _traffic(args)
    if args.command == "serve":
        from lambda_widget.front.terminal import run as serve

        return serve(args)
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
    from lambda_widget.views.text import render_invocation, render_pool, wait_text

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
            shown = {inv.number: len(inv.steps) for inv in mgr.history}
            reaped = mgr.advance(args.wait)
            added = [(inv.to_dict(), [s.to_dict() for s in inv.steps[shown.get(inv.number, 0):]])
                     for inv in mgr.history if len(inv.steps) > shown.get(inv.number, 0)]
            print(wait_text(args.wait, [env.to_dict() for env in reaped], added))
            print()
        print(render_pool(mgr))
        failed = [i for i in invocations if i.status != "succeeded"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
