"""Handler sources the cases run, and a loader that turns one into a plain Python function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TRIVIAL = """def lambda_handler(event, context):
    return {"ok": True}
"""

# Two traced lines per iteration (the ``for`` and its body), plus entry and return.
LOOP = """def lambda_handler(event, context):
    total = 0
    for i in range(event["n"]):
        total += i
    return total
"""

SLEEPER = """import time


def lambda_handler(event, context):
    time.sleep(event.get("sleep", 0))
    return context.aws_request_id
"""


def load(source: str, name: str = "lambda_handler") -> Callable[[Any, Any], Any]:
    """The handler function defined by ``source``, compiled in this process."""
    namespace: dict[str, Any] = {"__name__": "benchmark_handler"}
    exec(compile(source, "<benchmark handler>", "exec"), namespace)  # noqa: S102 - our own source
    return namespace[name]

