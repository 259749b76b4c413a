"""PoolView: a card per execution environment and a timeline, as of one moment or live."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from lambda_widget.views import html
from lambda_widget.views.base import ViewMixin, html_widget, set_html
from lambda_widget.views.coalesce import Coalescer
from lambda_widget.views.snapshot import pool_snapshot
from lambda_widget.views.style import style_tag
from lambda_widget.views.text import pool_text


class PoolView(ViewMixin, widgets.VBox):
    """The container pool of a manager (or of one function).

    By default a snapshot: the pool as it stood when the view was made, which later
    cells (a wait, a reap, a reset) do not change. ``live=True`` follows the manager,
    rendering at most once per ``interval`` seconds, and says "live" on its face;
    ``freeze()`` ends that at the moment it is called.
    """

    def __init__(self, manager: Any, function_name: str | None = None, *, live: bool = False,
                 interval: float = 0.15, layout: widgets.Layout | None = None) -> None:
        self.manager = manager
        self.function_name = function_name
        self.renders = 0
        self.live = live
        self.body = html_widget()
        super().__init__(children=[self.body], layout=layout or widgets.Layout(width="100%", min_width="0"))
        self.add_class("lw-root")
        self.add_class("lw-pool")
        self._snap = self._take()
        if live:
            self._watch(manager, "revision", Coalescer(self.refresh, interval))
        self._render()

    @property
    def snapshot(self) -> dict[str, Any]:
        """The plain data of the last render (``snapshot.pool_snapshot``)."""
        return self._snap

    def _take(self) -> dict[str, Any]:
        return {**pool_snapshot(self.manager, self.function_name), "live": self.live}

    def refresh(self) -> None:
        self._snap = self._take()
        self._render()

    def _render(self) -> None:
        self.renders += 1
        set_html(self.body, style_tag() + html.pool_html(self._snap))

    def static_html(self) -> str:
        return html.pool_page(self._snap)

    def plain_text(self) -> str:
        return pool_text(self._snap, times=False)
