"""``lambda-widget``: the execution model in a terminal, for anyone without a browser.

    lambda-widget demo                      # the seed lesson's doubling handler, step by step
    lambda-widget run handler.py --event '{"value": 5}' [--times N] [--wait SECONDS]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SEED_HANDLER = """\
def lambda_handler(event, context):
    print('Start')
    result = event['value'] * 2
    print('End')
    return result
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambda-widget",
        description="Run a Lambda handler in real execution environments and print what happened.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--event", default=None,
                       help="the event as JSON (default: {\"value\": 5} for demo, {} for run)")
        p.add_argument("--times", type=int, default=1, help="invoke this many times, one after another")
        p.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                       help="then advance the clock by SECONDS (idle environments may be reaped)")
        p.add_argument("--track", action="append", default=[], metavar="EXPR",
                       help="an expression to follow in the variable tracker (repeatable)")
        p.add_argument("--timeout", type=float, default=3.0, help="function timeout in seconds")
        p.add_argument("--memory", type=int, default=128, help="memory size in MB")
        p.add_argument("--idle-timeout", type=float, default=600.0,
                       help="seconds an idle environment stays warm")
        p.add_argument("--seed", type=int, default=None, help="reproducible request ids")

    demo = sub.add_parser("demo", help="the seed lesson: a handler that doubles event['value']")
    common(demo)
    run = sub.add_parser("run", help="run a handler file")
    run.add_argument("path", type=Path, help="the handler module (a .py file)")
    run.add_argument("--handler", default="lambda_handler", help="the handler function's name")
    run.add_argument("--name", default=None, help="function name (default: the file's stem)")
    common(run)
    traffic = sub.add_parser("traffic", help="simulate traffic (no processes): cold starts, environments, cost")
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
    args = _parser().parse_args(argv)
    if args.command == "traffic":
        return _traffic(args)
    if args.command == "demo":
        source, name, handler = SEED_HANDLER, "double", "lambda_handler"
        event_text = args.event or '{"value": 5}'
        track = args.track or ["event['value']"]
    else:
        try:
            source = args.path.read_text(encoding="utf-8")
        except OSError as exc:
            print(f"lambda-widget: cannot read {args.path}: {exc.strerror}", file=sys.stderr)
            return 2
        name = args.name or "".join(c if c.isalnum() or c in "-_" else "-" for c in args.path.stem)
        handler, event_text, track = args.handler, args.event or "{}", args.track
    try:
        event = json.loads(event_text)
    except json.JSONDecodeError as exc:
        print(f"lambda-widget: --event is not valid JSON: {exc.msg} at line {exc.lineno} "
              f"column {exc.colno}\n  {event_text}\n  {' ' * (exc.pos)}^", file=sys.stderr)
        return 2
    if args.times < 1:
        print("lambda-widget: --times must be at least 1", file=sys.stderr)
        return 2

    from lambda_widget.engine import ContainerManager, InvalidParameterValueException
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
            inv = mgr.invoke(name, event)
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
