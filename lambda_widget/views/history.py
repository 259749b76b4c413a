"""HistoryView: a table of past invocations (#, function, version, status, cold/warm, duration)."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from lambda_widget.views import html
from lambda_widget.views.base import ViewMixin, html_widget, set_html
from lambda_widget.views.coalesce import Coalescer
from lambda_widget.views.snapshot import history_window
from lambda_widget.views.style import style_tag
from lambda_widget.views.text import history_text


class HistoryView(ViewMixin, widgets.VBox):
    """Every invocation of a manager (or of one function), newest last: up to when it was made,
    or, with ``live=True``, updated as they happen."""

    def __init__(self, manager: Any, function_name: str | None = None, *, interval: float = 0.2,
                 live: bool = False) -> None:
        self.manager = manager
        self.live = live
        self.function_name = function_name
        self.body = html_widget()
        super().__init__(children=[self.body], layout=widgets.Layout(width="100%"))
        self.add_class("lw-root")
        self.add_class("lw-history-view")
        if live:
            self._watch(manager, "revision", Coalescer(self.refresh, interval))
        self.refresh()

    def refresh(self) -> None:
        self._rows, self._total = history_window(self.manager, self.function_name, html.MAX_HISTORY_ROWS)
        set_html(self.body, style_tag() + html.sec("", "Invocation history",
                                                   html.history_html(self._rows, self._total)))

    def static_html(self) -> str:
        return html.history_page(self._rows, self._total)

    def plain_text(self) -> str:
        return history_text(self._rows, total=self._total)
