"""What every view widget shares: the three-part mime bundle and a clean close."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_string import HTMLStyle

from lambda_widget.views.coalesce import Coalescer


def html_widget(layout: widgets.Layout | None = None, style: HTMLStyle | None = None) -> widgets.HTML:
    """An HTML widget filling its row; a view passes one ``layout``/``style`` to share among its parts."""
    return widgets.HTML(layout=layout or widgets.Layout(width="100%", margin="0"),
                        style=style or HTMLStyle())


def set_html(widget: widgets.HTML, value: str) -> None:
    """Replace an HTML widget's content: one comm message, none if nothing changed."""
    if widget.value != value:
        with widget.hold_sync():
            widget.value = value


def _parts(widget: Any) -> list[widgets.Widget]:
    """The Layout and Style models a widget has (they are widgets too); none is created by asking."""
    return [getattr(widget, name) for name in ("layout", "style")
            if widget.has_trait(name) and widget.trait_has_value(name)
            and isinstance(getattr(widget, name), widgets.Widget)]


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
    live = False  # a snapshot view renders once; a live one re-renders as its records change
    static_html: Callable[[], str]
    plain_text: Callable[[], str]
    refresh: Callable[[], None]

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = super()._repr_mimebundle_(**kwargs) or {}  # type: ignore[misc]
        data["text/html"] = self.static_html()
        data["text/plain"] = self.plain_text()
        return data

    def __repr__(self) -> str:
        lines = self.plain_text().strip().splitlines()
        return f"<{type(self).__name__}: {lines[0][:100] if lines else ''}>"

    def _watch(self, record: Any, name: str, coalescer: Coalescer) -> None:
        self._coalescer = coalescer
        self._observed = getattr(self, "_observed", [])
        record.observe(coalescer.poke, name)
        self._observed.append((record, name))

    def flush(self) -> None:
        """Render the records as they are now (instead of waiting for the coalesced render)."""
        if self._coalescer is not None:
            self._coalescer.flush()

    def freeze(self) -> None:
        """Render the records as they are now, then stop following them: the view keeps this moment."""
        self.live = False
        self.flush()  # under the coalescer's render lock: after any render already under way
        self._unwatch()

    def _unwatch(self) -> None:
        if self._coalescer is not None:
            for record, name in getattr(self, "_observed", []):
                try:
                    record.unobserve(self._coalescer.poke, name)
                except ValueError:
                    pass
            self._observed = []
            self._coalescer.close()

    def close(self) -> None:
        self._unwatch()
        for child in self._owned_widgets():
            close_tree(child)
        for part in _parts(self):
            part.close()
        super().close()  # type: ignore[misc]

    def _owned_widgets(self) -> list[widgets.Widget]:
        return list(getattr(self, "children", ()))


class Part:
    """A child widget of a :class:`LazyView`: reading it builds the view's widgets first."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, view: Any, owner: type | None = None) -> Any:
        if view is None:
            return self
        view.materialize()
        return view._parts[self.name]  # a closed view keeps its (closed) parts


class LazyView(ViewMixin):
    """A view that creates its widgets, and registers with the front end, when first displayed.

    ``lw.invoke`` returns a view for every invocation; a loop of a thousand of them must
    not create tens of thousands of widget models nobody looks at. Displaying the view,
    putting it in a container (``model_id``), asking for its state or reading one of its
    :class:`Part` attributes builds it. The class defines ``_build() -> dict[str, Widget]``
    (creates the parts with their content and sets ``children``) and ``_start()`` (subscribes
    to the records; called once the parts are in place).
    """

    _parts: dict[str, widgets.Widget]
    _build: Callable[[], dict[str, widgets.Widget]]
    _start: Callable[[], None]
    _lazy_state = "new"  # "new" -> "building" -> "built"; "closed" for good

    def open(self) -> None:
        if self._lazy_state == "built":
            super().open()  # type: ignore[misc]

    @property
    def built(self) -> bool:
        return self._lazy_state == "built"

    @property
    def _closed_unbuilt(self) -> bool:
        """Closed before it was ever built: it has no parts and never will."""
        return self._lazy_state == "closed" and "_parts" not in self.__dict__

    def materialize(self) -> None:
        """Create the widgets and open their comms now (idempotent; a closed view stays closed)."""
        if self._lazy_state != "new":
            if self._closed_unbuilt:
                raise RuntimeError(f"this {type(self).__name__} was closed before it was displayed")
            return
        self._lazy_state = "building"
        self._parts = self._build()
        self._lazy_state = "built"
        self._start()
        self.open()

    @property
    def model_id(self) -> str:
        if self._lazy_state == "new":
            self.materialize()
        return self.comm.comm_id  # type: ignore[attr-defined]

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        if self._closed_unbuilt:
            # Closed before it was ever shown: its static renderings, as a closed widget shows text.
            return {"text/html": self.static_html(), "text/plain": self.plain_text()}
        self.materialize()
        return super()._repr_mimebundle_(**kwargs)

    def get_state(self, key: Any = None, drop_defaults: bool = False) -> dict[str, Any]:
        if self._lazy_state == "new":  # what the front end would see is the built view
            self.materialize()
        return super().get_state(key, drop_defaults)  # type: ignore[misc]

    def close(self) -> None:
        self._lazy_state = "closed"
        super().close()

    def _owned_widgets(self) -> list[widgets.Widget]:
        return list(getattr(self, "_parts", {}).values())
