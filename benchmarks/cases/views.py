"""Case 4: a burst of invocations with the views attached vs detached.

Each run gets a fresh manager (history and pool start empty) with a small, warm pool, so
the burst measures what the views add rather than cold starts. The contenders:

- "attached": a PoolView on the manager plus an InvocationView on every invocation of the
  burst, created as each is submitted (what ``lw.invoke`` in a loop returns). The PoolView
  and the first invocation's view are displayed and follow the burst live; the others are
  built only if displayed, as in a notebook where only a cell's last value is shown.
- "BurstView": what ``lw.burst`` shows.
- "every view displayed": the same with every InvocationView displayed, on a smaller burst
  against its own detached baseline; it prices one displayed InvocationView.

"Displayed" means what IPython does to show a value: ``_repr_mimebundle_()``. No front end
is connected, so this is the kernel-side cost: observing, snapshotting, rendering HTML,
creating widget models and syncing their state.
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
ATTACHED = "burst, PoolView + an InvocationView per invocation (the pool's and the first one displayed)"
BURST_VIEW = "burst, BurstView (what lw.burst shows)"
SMALL_DETACHED = "smaller burst, views detached"
ALL_DISPLAYED = "smaller burst, PoolView + an InvocationView per invocation, every one displayed"
PER_VIEW = "per displayed InvocationView (smaller burst: every one displayed - detached) / n"


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

    def __init__(self, sizes: Sizes, attach: str, n: int | None = None) -> None:
        self.sizes, self.attach = sizes, attach
        self.n = n or sizes.burst
        self.settle: list[float] = []
        self.renders: list[int] = []
        self.left_open: list[int] = []

    def __call__(self) -> float:
        n, width = self.n, self.sizes.burst_concurrency
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
        if self.attach in (DETACHED, SMALL_DETACHED):
            return [mgr.submit("trivial", {}) for _ in range(n)], []
        from lambda_widget.views import BurstView, InvocationView, PoolView

        if self.attach == BURST_VIEW:
            futures = [mgr.submit("trivial", {}) for _ in range(n)]
            view = BurstView(futures, mgr)
            view._repr_mimebundle_()
            return futures, [view]
        views: list[Any] = [PoolView(mgr)]
        views[0]._repr_mimebundle_()
        futures = []
        for i in range(n):
            futures.append(mgr.submit("trivial", {}))
            views.append(InvocationView(futures[-1].invocation, mgr))
            if i == 0 or self.attach == ALL_DISPLAYED:
                views[-1]._repr_mimebundle_()
        return futures, views


def run(sizes: Sizes) -> CaseResult:
    result = CaseResult("views", f"Views: a {sizes.burst}-invocation burst, views attached vs detached")
    if not _views_available():
        result.notes.append("lambda_widget.views (InvocationView, PoolView) is not available: skipped")
        return result
    contenders = {name: _Burst(sizes, name) for name in (DETACHED, ATTACHED, BURST_VIEW)}
    samples = interleave(contenders, sizes.burst_rounds)
    small = max(1, sizes.burst // 5)
    contenders.update({name: _Burst(sizes, name, small) for name in (SMALL_DETACHED, ALL_DISPLAYED)})
    samples.update(interleave({name: contenders[name] for name in (SMALL_DETACHED, ALL_DISPLAYED)},
                              sizes.burst_rounds))
    for name in contenders:
        result.add(name, samples[name])
    result.add(PER_VIEW, [(a - d) / small for a, d in zip(samples[ALL_DISPLAYED], samples[SMALL_DETACHED], strict=True)],
               note="paired round by round", signed=True)
    for name in (ATTACHED, BURST_VIEW, ALL_DISPLAYED):
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
    result.compare(ALL_DISPLAYED, SMALL_DETACHED)
    result.info.update(burst=sizes.burst, smaller_burst=small, concurrency=sizes.burst_concurrency, trace=True)
    return result
