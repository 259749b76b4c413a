"""InvocationView: one invocation, live: header, stepper, flow, step table, source, tracker, logs."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_string import HTMLStyle

from lambda_widget.views import html
from lambda_widget.views.base import LazyView, Part, set_html
from lambda_widget.views.coalesce import Coalescer
from lambda_widget.views.moments import key_moments
from lambda_widget.views.snapshot import history_entry
from lambda_widget.views.style import style_tag
from lambda_widget.views.text import plain_invocation

HISTORY_LOOKBACK = 50  # earlier invocations of the same environment the key moments may cite
BUTTONS = (("First", "step-backward", "lw-first"), ("Prev", "chevron-left", "lw-prev"),
           ("Next", "chevron-right", "lw-next"), ("Last", "step-forward", "lw-last"))


class InvocationView(LazyView, widgets.VBox):
    """An invocation as it runs and after: moving the stepper moves the highlighted table row,
    flow node, source line and tracker column together (one comm message per move).

    It follows its own invocation only. After the invocation finished, the one thing
    that can still change is the final step, appended when its environment is reused or
    reaped by a later cell; the view shows it, marked with the clock at which it was added.
    Its widgets are created when it is first displayed (see :class:`LazyView`); before
    that it costs no widget models.
    """

    head = Part()
    stage = Part()
    details = Part()
    play = Part()
    slider = Part()
    link = Part()
    buttons = Part()
    stepper = Part()

    def __init__(self, inv: Any, manager: Any = None, *, step: int | None = None,
                 interval: float = 0.05) -> None:
        self.inv = inv
        self.manager = manager
        self._lock = threading.RLock()
        self._quiet = False
        self._first_step = step
        self._interval = interval
        self._data: dict[str, Any] | None = None
        self._settled_steps: int | None = None  # how many steps it had when it was first seen finished
        self._late: dict[int, float | None] = {}  # step number -> clock when a later cell added it
        super().__init__()

    def _build(self) -> dict[str, Any]:
        seen = self.inv.revision
        data = self._data = self._read()
        n = len(data["steps"])
        first = min(max(self._first_step or n, 1), max(n, 1))
        self._seen = seen
        # One Layout and one Style per kind, shared by the parts: fewer models to create and sync.
        full, auto = widgets.Layout(width="100%", margin="0"), widgets.Layout(width="auto")
        html_style, button_style = HTMLStyle(), widgets.ButtonStyle()
        head, stage, details = (widgets.HTML(value, layout=full, style=html_style) for value in
                                (style_tag() + html.header_html(data), html.stage_html(data, first if n else None),
                                 html.details_html(data, self._moments(data))))
        play = widgets.Play(min=1, max=max(n, 1), value=first, interval=900, step=1, description="Play",
                            show_repeat=False, disabled=n == 0, layout=auto)
        slider = widgets.IntSlider(min=1, max=max(n, 1), value=first, description="Step", disabled=n == 0,
                                   continuous_update=True, layout=widgets.Layout(width="340px"))
        link = widgets.jslink((play, "value"), (slider, "value"))
        buttons: dict[str, widgets.Button] = {}
        for name, icon, cls in BUTTONS:
            button = widgets.Button(description=name, icon=icon, tooltip=f"{name} step", disabled=n == 0,
                                    layout=auto, style=button_style, _dom_classes=(cls,))
            button.on_click(self._on_button)
            buttons[name] = button
        stepper = widgets.HBox([play, slider, *buttons.values()], _dom_classes=("lw-stepper",),
                               layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
        self.layout = full
        # Here, not in __init__, so unbuilt views stay cheap; classes a caller added are kept.
        self._dom_classes = ("lw-root", "lw-invocation", *self._dom_classes)
        self.children = [head, stepper, stage, details]
        return {"head": head, "stage": stage, "details": details, "play": play, "slider": slider,
                "link": link, "buttons": buttons, "stepper": stepper}

    def _start(self) -> None:
        self._parts["slider"].observe(self._on_step, "value")
        self._watch(self.inv, "revision", Coalescer(self.refresh, self._interval))
        if self.inv.revision != self._seen:  # it changed between the snapshot and the subscription
            self._coalescer.poke()

    # ------------------------------------------------------------------ state
    @property
    def step(self) -> int | None:
        """The stepper's step (1-based), or None before any step is recorded."""
        if not self.built:
            n = len(self.inv.steps)
            return min(max(self._first_step or n, 1), n) if n else None
        return self.slider.value if self._data["steps"] else None

    @step.setter
    def step(self, value: int) -> None:
        self.slider.value = value

    def _current(self) -> dict[str, Any]:
        """The invocation as last rendered (as it is now, before the view is built)."""
        return self._data if self.built and self._data is not None else self._read()

    def _read(self) -> dict[str, Any]:
        """The invocation's data, with ``late_steps``: steps added after it had finished."""
        data = self.inv.to_dict()
        n = len(data["steps"])
        if self._settled_steps is None:
            if data["status"] not in ("queued", "running"):
                self._settled_steps = n
        else:
            for number in range(self._settled_steps + 1, n + 1):
                if number not in self._late:
                    self._late[number] = self._when_environment_moved_on(data)
        data["late_steps"] = dict(self._late)
        return data

    def _when_environment_moved_on(self, data: dict[str, Any]) -> float | None:
        """The clock time of the first lifecycle event of this invocation's environment after it
        ended (the next invocation, a reset, the reap): when the final step became true."""
        events = getattr(self.manager, "events", None)
        env, rid = data.get("container_id"), data.get("request_id")
        if events is None or env is None:
            return None
        first = None
        for ev in reversed(list(events)):  # back to this invocation's own start
            if ev.request_id == rid and ev.kind == "invoke":
                break
            if ev.container_id == env and ev.request_id != rid and \
                    ev.kind in ("invoke", "thaw", "init-start", "reset", "terminate"):
                first = ev.time
        return first

    def moments(self) -> list[str]:
        return self._moments(self._current())

    def _moments(self, data: dict[str, Any]) -> list[str]:
        return key_moments(data, self._history(data), self._function(data))

    def _history(self, me: dict[str, Any]) -> list[dict[str, Any]] | None:
        """Earlier invocations in the same environment, as much of them as the key moments read."""
        if self.manager is None:
            return None
        if me["container_id"] is None:
            return []
        earlier = []
        for h in reversed(list(self.manager.history)):
            if h.container_id == me["container_id"] and h.number < me["number"]:
                earlier.append(h)
                if len(earlier) == HISTORY_LOOKBACK:
                    break
        earlier.reverse()
        return [history_entry(h, steps=h is earlier[-1]) for h in earlier]

    def _function(self, me: dict[str, Any]) -> dict[str, Any] | None:
        fn = getattr(self.inv, "function", None)  # the version record it ran
        return fn.to_dict() if fn is not None else None

    # ------------------------------------------------------------------ rendering
    def refresh(self) -> None:
        """Re-read the invocation and re-render; the stepper follows new steps if it was at the end."""
        with self._lock:
            old = len(self._data["steps"])
            self._data = self._read()
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
            # Both maxima first, then the values: the front end links play and slider, and a value
            # that arrives before its widget's new maximum is clamped, and linked back, to the old one.
            for w in (self.slider, self.play):
                w.max = max(n, 1)
            for w in (self.slider, self.play):
                w.value = min(max(value, 1), max(n, 1))
            for w in (self.slider, self.play, *self.buttons.values()):
                w.disabled = n == 0

    def _render_all(self) -> None:
        data, step = self._data, self.step
        set_html(self.head, style_tag() + html.header_html(data))
        set_html(self.stage, html.stage_html(data, step))
        set_html(self.details, html.details_html(data, self._moments(data)))

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
            data = self._current()
            return html.invocation_page(data, self.step, self._moments(data))

    def plain_text(self) -> str:
        return plain_invocation(self._current())

    def _owned_widgets(self) -> list[widgets.Widget]:
        parts = dict(getattr(self, "_parts", {}))
        return [*parts.pop("buttons", {}).values(), *parts.values()]
