"""PoolView: a card per execution environment and a timeline, coalescing the manager's changes."""

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
    """The container pool of a manager (or of one function), updated as environments come and go.

    Renders at most once per ``interval`` seconds however fast the manager changes.
    """

    def __init__(self, manager: Any, function_name: str | None = None, *, interval: float = 0.15,
                 layout: widgets.Layout | None = None) -> None:
        self.manager = manager
        self.function_name = function_name
        self.renders = 0
        self.body = html_widget()
        super().__init__(children=[self.body], layout=layout or widgets.Layout(width="100%"))
        self.add_class("lw-root")
        self.add_class("lw-pool")
        self._snap = pool_snapshot(manager, function_name)
        self._watch(manager, "revision", Coalescer(self.refresh, interval))
        self._render()

    @property
    def snapshot(self) -> dict[str, Any]:
        """The plain data of the last render (``snapshot.pool_snapshot``)."""
        return self._snap

    def refresh(self) -> None:
        self._snap = pool_snapshot(self.manager, self.function_name)
        self._render()

    def _render(self) -> None:
        self.renders += 1
        set_html(self.body, style_tag() + html.pool_html(self._snap))

    def static_html(self) -> str:
        return html.pool_page(self._snap)

    def plain_text(self) -> str:
        return pool_text(self._snap, times=False)
