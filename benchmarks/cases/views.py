"""Case 4: a burst of invocations with the views attached vs detached.

Each run gets a fresh manager (history and pool start empty) with a small, warm pool, so
the burst measures what the views add rather than cold starts. "Attached" is a PoolView
on the manager plus an InvocationView on every invocation of the burst (created as each
is submitted); "BurstView" is what ``lw.burst`` shows. No front end is connected, so
this is the kernel-side cost: observing, snapshotting, rendering HTML, syncing state.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from typing import Any

import lambda_widget as lw
from benchmarks.handlers import TRIVIAL
from benchmarks.sizes import Sizes
from benchmarks.stats import CaseResult, interleave

DETACHED = "burst, views detached"
ATTACHED = "burst, PoolView + an InvocationView per invocation"
BURST_VIEW = "burst, BurstView (what lw.burst shows)"


def _open_widgets() -> int:
    """Widgets still registered with the kernel (closed ones are gone)."""
    from ipywidgets.widgets import widget

    return len(getattr(widget, "_instances", {}))


def _views_available() -> bool:
    try:
        from lambda_widget.views import BurstView, InvocationView, PoolView  # noqa: F401
    except (ImportError, AttributeError):
        return False
    return True


class _Burst:
    """One way of watching a burst; each call is one burst on a fresh, warmed-up manager."""

    def __init__(self, sizes: Sizes, attach: str) -> None:
        self.sizes, self.attach = sizes, attach
        self.settle: list[float] = []
        self.renders: list[int] = []
        self.left_open: list[int] = []

    def __call__(self) -> float:
        n, width = self.sizes.burst, self.sizes.burst_concurrency
        with lw.ContainerManager(seed=1, max_concurrency=width) as mgr:
            mgr.register("trivial", TRIVIAL, trace=True)
            for f in [mgr.submit("trivial", {}) for _ in range(width)]:
                f.result()  # a warm pool of ``width`` environments
            open_before = _open_widgets()
            t0 = time.perf_counter()
            futures, views = self._submit(mgr, n)
            invocations = [f.result() for f in futures]
            elapsed = time.perf_counter() - t0
            t1 = time.perf_counter()
            for view in views:
                view.flush()
            self.settle.append(time.perf_counter() - t1)
            if views:
                self.renders.append(getattr(views[0], "pool", views[0]).renders)
            for view in views:
                view.close()
            self.left_open.append(_open_widgets() - open_before)
        failed = [i for i in invocations if i.status != "succeeded"]
        if failed:
            raise RuntimeError(f"{len(failed)} invocations failed: {failed[0].error}")
        return elapsed

    def _submit(self, mgr: lw.ContainerManager, n: int) -> tuple[list[Future], list[Any]]:
        """Submit the burst, attaching this contender's views; the pool (or burst) view first."""
        if self.attach == DETACHED:
            return [mgr.submit("trivial", {}) for _ in range(n)], []
        from lambda_widget.views import BurstView, InvocationView, PoolView

        if self.attach == BURST_VIEW:
            futures = [mgr.submit("trivial", {}) for _ in range(n)]
            return futures, [BurstView(futures, mgr)]
        views: list[Any] = [PoolView(mgr)]
        futures = []
        for _ in range(n):
            futures.append(mgr.submit("trivial", {}))
            views.append(InvocationView(futures[-1].invocation, mgr))
        return futures, views


def run(sizes: Sizes) -> CaseResult:
    result = CaseResult("views", f"Views: a {sizes.burst}-invocation burst, views attached vs detached")
    if not _views_available():
        result.notes.append("lambda_widget.views (InvocationView, PoolView) is not available: skipped")
        return result
    contenders = {name: _Burst(sizes, name) for name in (DETACHED, ATTACHED, BURST_VIEW)}
    samples = interleave(contenders, sizes.burst_rounds)
    for name in contenders:
        result.add(name, samples[name])
    for name in (ATTACHED, BURST_VIEW):
        result.add(f"flush after the burst: {name}", contenders[name].settle,
                   note="renders still pending when the last invocation ended")
        result.info[f"pool_renders: {name}"] = contenders[name].renders
        left = contenders[name].left_open
        result.info[f"widgets_left_open_after_close: {name}"] = left
        if any(left):
            result.notes.append(f"{name}: {max(left)} widgets stayed registered after every view was "
                                f"closed (their memory stays in the kernel)")
    result.compare(ATTACHED, DETACHED, at_most=1.25)
    result.compare(BURST_VIEW, DETACHED, at_most=1.25)
    result.info.update(burst=sizes.burst, concurrency=sizes.burst_concurrency, trace=True)
    return result
