"""What every view widget shares: the three-part mime bundle and a clean close."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from lambda_widget.views.coalesce import Coalescer


def html_widget() -> widgets.HTML:
    return widgets.HTML(layout=widgets.Layout(width="100%", margin="0"))


def set_html(widget: widgets.HTML, value: str) -> None:
    """Replace an HTML widget's content: one comm message, none if nothing changed."""
    if widget.value != value:
        with widget.hold_sync():
            widget.value = value


def _parts(widget: Any) -> list[widgets.Widget]:
    """The Layout and Style models a widget creates for itself (they are widgets too)."""
    return [p for p in (getattr(widget, "layout", None), getattr(widget, "style", None))
            if isinstance(p, widgets.Widget)]


def close_tree(widget: widgets.Widget) -> None:
    """Close a widget, its children and their layout/style models, so nothing stays registered."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    for part in _parts(widget):
        part.close()
    widget.close()


class ViewMixin:
    """A view is a live widget, static HTML of the same content, and short deterministic text.

    Each view class defines ``static_html() -> str``, ``plain_text() -> str`` and
    ``refresh()`` (render now from the records; also what the coalescer calls).
    """

    _coalescer: Coalescer | None = None
    _observed: list[tuple[Any, str]]
    static_html: Callable[[], str]
    plain_text: Callable[[], str]
    refresh: Callable[[], None]

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = super()._repr_mimebundle_(**kwargs) or {}  # type: ignore[misc]
        data["text/html"] = self.static_html()
        data["text/plain"] = self.plain_text()
        return data

    def _watch(self, record: Any, name: str, coalescer: Coalescer) -> None:
        self._coalescer = coalescer
        self._observed = getattr(self, "_observed", [])
        record.observe(coalescer.poke, name)
        self._observed.append((record, name))

    def flush(self) -> None:
        """Render the records as they are now (instead of waiting for the coalesced render)."""
        if self._coalescer is not None:
            self._coalescer.flush()

    def close(self) -> None:
        if self._coalescer is not None:
            for record, name in getattr(self, "_observed", []):
                try:
                    record.unobserve(self._coalescer.poke, name)
                except ValueError:
                    pass
            self._coalescer.close()
        for child in self._owned_widgets():
            close_tree(child)
        for part in _parts(self):
            part.close()
        super().close()  # type: ignore[misc]

    def _owned_widgets(self) -> list[widgets.Widget]:
        return list(getattr(self, "children", ()))
