"""FunctionCard: a function version's configuration (and, with a manager, its live numbers, its
versions and its aliases)."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from lambda_widget.views import html
from lambda_widget.views.base import ViewMixin, html_widget, set_html
from lambda_widget.views.coalesce import Coalescer
from lambda_widget.views.snapshot import function_stats
from lambda_widget.views.style import style_tag
from lambda_widget.views.text import function_text


class FunctionCard(ViewMixin, widgets.VBox):
    """Name, version, handler, timeout, memory, idle timeout, tracked expressions, concurrency.

    With a manager it also counts environments and invocations: as they were when the card
    was made, or, with ``live=True``, as they change. ``alias``: the alias (an ``Alias``) the
    card was made for; it names the alias and its weights above the version's configuration.
    """

    def __init__(self, fn: Any, manager: Any = None, *, interval: float = 0.25, live: bool = False,
                 alias: Any = None) -> None:
        self.fn = fn
        self.alias = alias
        self.manager = manager
        self.live = live
        self.body = html_widget()
        super().__init__(children=[self.body], layout=widgets.Layout(width="100%"))
        self.add_class("lw-root")
        if manager is not None and live:
            self._watch(manager, "revision", Coalescer(self.refresh, interval))
        self.refresh()

    def _stats(self) -> dict[str, Any] | None:
        if self.manager is None:
            return None
        return {**function_stats(self.manager, self.fn.name), "live": self.live}

    def refresh(self) -> None:
        self._stats_now = self._stats()
        set_html(self.body, style_tag() + html.function_html(self.fn.to_dict(), self._stats_now, self._alias()))

    def _alias(self) -> dict[str, Any] | None:
        return self.alias.to_dict() if self.alias is not None else None

    def static_html(self) -> str:
        return html.function_page(self.fn.to_dict(), self._stats_now, self._alias())

    def plain_text(self) -> str:
        return function_text(self.fn.to_dict(), (self._stats_now or {}).get("versions"), self._alias())
