"""``python -m benchmarks [--quick] [--only NAME] [--json PATH]``: run the cases, print, save JSON."""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from benchmarks.cases import CASES
from benchmarks.report import machine, render, write_json
from benchmarks.sizes import FULL, QUICK, TINY
from benchmarks.stats import CaseResult

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a rough run in about a minute")
    parser.add_argument("--tiny", action="store_true", help="the smoke test's sizes (checks, not numbers)")
    parser.add_argument("--only", action="append", choices=sorted(CASES), metavar="NAME",
                        help=f"run only this case (repeatable): {', '.join(CASES)}")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
                        help=f"where to write the results (default: {DEFAULT_JSON})")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sizes, mode = (TINY, "tiny") if args.tiny else (QUICK, "quick") if args.quick else (FULL, "full")
    names = [n for n in CASES if not args.only or n in args.only]
    info = machine()
    load = ", ".join(f"{x:.2f}" for x in info["loadavg"]) if info["loadavg"] else "unknown"
    print(f"# lambda_widget benchmarks ({mode}; Python {info['python']}, {info['cpus']} CPUs, "
          f"load average {load})\n", flush=True)
    results: list[CaseResult] = []
    errors: dict[str, str] = {}
    for name in names:
        try:
            result = CASES[name](sizes)
        except Exception:  # noqa: BLE001 - one broken case must not hide the others
            errors[name] = traceback.format_exc()
            print(f"### {name}: FAILED\n\n```\n{errors[name]}```\n", flush=True)
            continue
        results.append(result)
        print(render(result), flush=True)
    write_json(args.json, results, mode, errors, info)
    end = machine()["loadavg"]
    if end:
        print(f"load average at the end: {', '.join(f'{x:.2f}' for x in end)}")
    print(f"results written to {args.json}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
