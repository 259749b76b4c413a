"""InvocationView: one invocation, live: header, stepper, flow, step table, source, tracker, logs."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any

import ipywidgets as widgets

from lambda_widget.views import html
from lambda_widget.views.base import ViewMixin, html_widget, set_html
from lambda_widget.views.coalesce import Coalescer
from lambda_widget.views.moments import key_moments
from lambda_widget.views.style import style_tag
from lambda_widget.views.text import plain_invocation

HISTORY_LOOKBACK = 50  # earlier invocations of the same environment the key moments may cite
BUTTONS = (("First", "step-backward", "lw-first"), ("Prev", "chevron-left", "lw-prev"),
           ("Next", "chevron-right", "lw-next"), ("Last", "step-forward", "lw-last"))


class InvocationView(ViewMixin, widgets.VBox):
    """An invocation as it runs and after: moving the stepper moves the highlighted table row,
    flow node, source line and tracker column together (one comm message per move).

    It keeps observing the invocation after it finished: a step appended when its
    environment is reaped or reused shows up too.
    """

    def __init__(self, inv: Any, manager: Any = None, *, step: int | None = None,
                 interval: float = 0.05) -> None:
        self.inv = inv
        self.manager = manager
        self._lock = threading.RLock()
        self._quiet = False
        seen = inv.revision
        self._data: dict[str, Any] = inv.to_dict()
        n = len(self._data["steps"])
        first = min(max(step or n, 1), max(n, 1))
        self.head, self.stage, self.details = html_widget(), html_widget(), html_widget()
        self.play = widgets.Play(min=1, max=max(n, 1), value=first, interval=900, step=1,
                                 description="Play", show_repeat=False,
                                 layout=widgets.Layout(width="auto"))
        self.slider = widgets.IntSlider(min=1, max=max(n, 1), value=first, description="Step",
                                        continuous_update=True, layout=widgets.Layout(width="340px"))
        self.link = widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.buttons: dict[str, widgets.Button] = {}
        for name, icon, cls in BUTTONS:
            button = widgets.Button(description=name, icon=icon, tooltip=f"{name} step",
                                    layout=widgets.Layout(width="auto"))
            button.add_class(cls)
            button.on_click(self._on_button)
            self.buttons[name] = button
        self.stepper = widgets.HBox([self.play, self.slider, *self.buttons.values()],
                                    layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
        self.stepper.add_class("lw-stepper")
        super().__init__(children=[self.head, self.stepper, self.stage, self.details],
                         layout=widgets.Layout(width="100%"))
        self.add_class("lw-root")
        self.add_class("lw-invocation")
        self.slider.observe(self._on_step, "value")
        self._watch(inv, "revision", Coalescer(self.refresh, interval))
        self._sync_range(n, first)
        self._render_all()
        if inv.revision != seen:  # it changed between the snapshot and the subscription
            self._coalescer.poke()

    # ------------------------------------------------------------------ state
    @property
    def step(self) -> int | None:
        """The stepper's step (1-based), or None before any step is recorded."""
        return self.slider.value if self._data["steps"] else None

    @step.setter
    def step(self, value: int) -> None:
        self.slider.value = value

    def moments(self) -> list[str]:
        return key_moments(self._data, self._history(), self._function())

    def _history(self) -> list[dict[str, Any]] | None:
        if self.manager is None:
            return None
        me, earlier = self._data, []
        if me["container_id"] is None:
            return []
        for h in reversed(list(self.manager.history)):
            if h.container_id == me["container_id"] and h.number < me["number"]:
                earlier.append(h)
                if len(earlier) == HISTORY_LOOKBACK:
                    break
        return [h.to_dict() for h in reversed(earlier)]

    def _function(self) -> dict[str, Any] | None:
        if self.manager is None:
            return None
        fn = next((f for f in self.manager.versions(self._data["function_name"])
                   if f.version == self._data["version"]), None)
        return fn.to_dict() if fn is not None else None

    # ------------------------------------------------------------------ rendering
    def refresh(self) -> None:
        """Re-read the invocation and re-render; the stepper follows new steps if it was at the end."""
        with self._lock:
            old = len(self._data["steps"])
            self._data = self.inv.to_dict()
            n = len(self._data["steps"])
            if n != old:
                at_end = old == 0 or self.slider.value >= old
                self._sync_range(n, n if at_end else self.slider.value)
            self._render_all()

    @contextmanager
    def _muted(self):
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    def _sync_range(self, n: int, value: int) -> None:
        with self._muted():
            for w in (self.slider, self.play):
                with w.hold_sync():
                    w.max = max(n, 1)
                    w.value = min(max(value, 1), max(n, 1))
            for w in (self.slider, self.play, *self.buttons.values()):
                w.disabled = n == 0

    def _render_all(self) -> None:
        data, step = self._data, self.step
        set_html(self.head, style_tag() + html.header_html(data))
        set_html(self.stage, html.stage_html(data, step))
        set_html(self.details, html.details_html(data, self.moments()))

    def _on_step(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        with self._lock:
            set_html(self.stage, html.stage_html(self._data, change["new"]))

    def _on_button(self, button: widgets.Button) -> None:
        s = self.slider
        s.value = {"First": s.min, "Prev": max(s.min, s.value - 1), "Next": min(s.max, s.value + 1),
                   "Last": s.max}[button.description]

    # ------------------------------------------------------------------ representations
    def static_html(self) -> str:
        with self._lock:
            return html.invocation_page(self._data, self.step, self.moments())

    def plain_text(self) -> str:
        return plain_invocation(self._data)

    def _owned_widgets(self) -> list[widgets.Widget]:
        named = [getattr(self, n, None) for n in ("head", "stage", "details", "stepper", "link", "play", "slider")]
        return [w for w in named if w is not None] + list(getattr(self, "buttons", {}).values())
