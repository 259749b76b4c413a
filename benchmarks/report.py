"""Print results as text tables (Markdown-compatible) and write them as JSON."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.stats import CaseResult, Ratio

MB = 1024 * 1024


def quantity(value: float, unit: str) -> str:
    """A value with a readable unit: µs/ms/s for seconds, MB for bytes."""
    if unit == "B":
        return f"{value / MB:.2f} MB"
    if unit != "s":
        return f"{value:g}"
    if abs(value) < 1e-3:
        return f"{value * 1e6:.2f} µs"
    if abs(value) < 1:
        return f"{value * 1e3:.2f} ms"
    return f"{value:.2f} s"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: ""}[met]


def _ratio_text(r: Ratio) -> str:
    if r.ratio < 1:
        return f"{r.ratio:.3f}× ({1 / r.ratio:.1f}× {'faster' if r.unit == 's' else 'less'})"
    return f"{r.ratio:.2f}×"


def measurement_rows(case: CaseResult) -> list[str]:
    rows = ["| measurement | n | median | p95 |", "|---|---:|---:|---:|"]
    for m in case.measurements:
        rows.append(f"| {m.label} | {len(m.samples)} | {quantity(m.median, m.unit)} | "
                    f"{quantity(m.p95, m.unit)} |")
    return rows


def target_rows(case: CaseResult) -> list[str]:
    if not case.ratios and not case.limits:
        return []
    rows = ["| comparison | ratio (medians) | target | verdict |", "|---|---:|---|---|"]
    for r in case.ratios:
        rows.append(f"| {r.subject} / {r.baseline} | {_ratio_text(r)} | {r.target} | {_verdict(r.met)} |")
    for limit in case.limits:
        rows.append(f"| {limit.label} | {quantity(limit.median, limit.unit)} | "
                    f"≤ {quantity(limit.at_most, limit.unit)} | {_verdict(limit.met)} |")
    return rows


def render(case: CaseResult) -> str:
    lines = [f"### {case.name}: {case.title}", ""]
    if case.measurements:
        lines += measurement_rows(case) + [""]
    targets = target_rows(case)
    if targets:
        lines += targets + [""]
    lines += [f"- {note}" for note in case.notes]
    return "\n".join(lines).rstrip() + "\n"


def machine() -> dict[str, Any]:
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"python": sys.version.split()[0], "platform": platform.platform(),
            "cpus": os.cpu_count(), "loadavg": load, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def write_json(path: Path, cases: list[CaseResult], mode: str, errors: dict[str, str],
               started: dict[str, Any]) -> None:
    """The run's results; ``started`` is ``machine()`` at the start (load averages then and now)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"mode": mode, "machine": started, "loadavg_at_end": machine()["loadavg"],
            "cases": [c.to_dict() for c in cases], "errors": errors}
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

