"""BurstView: many invocations at once: progress, the pool beside, cold/warm counts."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from lambda_widget.views import html
from lambda_widget.views.base import ViewMixin, html_widget, set_html
from lambda_widget.views.coalesce import Coalescer
from lambda_widget.views.pool import PoolView
from lambda_widget.views.snapshot import invocation_row
from lambda_widget.views.style import style_tag
from lambda_widget.views.text import burst_text, pool_text


class BurstView(ViewMixin, widgets.HBox):
    """Progress "k of N done" while a burst runs, the PoolView beside it, and a summary table.

    ``invocations``: Invocation records or the Futures ``manager.submit`` returned.
    The view follows the pool while the burst runs and keeps the moment its last
    invocation finished; ``live=True`` keeps following the pool after that.
    """

    def __init__(self, invocations: list[Any], manager: Any, *, function_name: str | None = None,
                 interval: float = 0.15, live: bool = False) -> None:
        self.invocations = [getattr(i, "invocation", i) for i in invocations]
        self.manager = manager
        self.progress = widgets.IntProgress(min=0, max=max(len(self.invocations), 1), value=0,
                                            layout=widgets.Layout(width="95%"))
        self.summary = html_widget()
        names = {i.function_name for i in self.invocations}
        name = function_name or (names.pop() if len(names) == 1 else None)
        self.keep_live = live
        self.live = True
        self.pool = PoolView(manager, name, interval=interval, live=True,
                             layout=widgets.Layout(flex="1 1 600px", width="auto", min_width="0"))
        left = widgets.VBox([self.summary, self.progress],
                            layout=widgets.Layout(width="250px", flex="0 1 250px", min_width="0"))
        super().__init__(children=[left, self.pool],
                         layout=widgets.Layout(width="100%", align_items="flex-start", flex_flow="row wrap"))
        self.add_class("lw-root")
        self.add_class("lw-burst")
        self._watch(manager, "revision", Coalescer(self.refresh, interval))
        self.refresh()

    def rows(self) -> list[dict[str, Any]]:
        return [invocation_row(i) for i in self.invocations]

    def refresh(self) -> None:
        self._rows = self.rows()
        done = sum(r["status"] not in ("queued", "running") for r in self._rows)
        set_html(self.summary, style_tag() + html.burst_html(self._rows))
        if self.progress.value != done:
            self.progress.value = done
        if done == len(self._rows) and self.live and not self.keep_live:
            # The burst's moment: its last invocation finished and its environment went back to the
            # pool (the record says "succeeded" a moment before the environment is idle).
            self.pool.flush()
            if not any(e["state"] in ("busy", "initializing") for e in self.pool.snapshot["containers"]):
                self.freeze()

    def flush(self) -> None:
        super().flush()
        self.pool.flush()

    def freeze(self) -> None:
        """Keep the burst and the pool as they are now (also done by itself when the burst ends)."""
        self.live = False
        self._unwatch()
        self.pool.freeze()

    def static_html(self) -> str:
        return html.root("lw-burst", f'<div class="lw-pair"><div class="lw-sec lw-narrow">'
                                     f'{html.burst_html(self._rows)}</div><div class="lw-sec lw-pool">'
                                     f'{html.pool_html(self.pool.snapshot, static=True)}</div></div>')

    def plain_text(self) -> str:
        return burst_text(self._rows) + "\n" + pool_text(self.pool.snapshot, times=False)

    def _owned_widgets(self) -> list[widgets.Widget]:
        named = [getattr(self, n, None) for n in ("summary", "progress", "pool")]
        return [w for w in named if w is not None] + list(self.children)
