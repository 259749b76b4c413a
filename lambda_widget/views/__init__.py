"""Views of the engine's records: live widgets, static HTML and deterministic terminal text.

The renderers (``text``, ``html``, ``moments``) are plain functions and load without
ipywidgets; the widget classes load on first use.
"""

from __future__ import annotations

from typing import Any

from lambda_widget.views.html import invocation_page, pool_page
from lambda_widget.views.moments import key_moments
from lambda_widget.views.text import (
    plain_invocation,
    render_function,
    render_history,
    render_invocation,
    render_pool,
)

_WIDGETS = {"InvocationView": "invocation", "PoolView": "pool", "FunctionCard": "function",
            "HistoryView": "history", "BurstView": "burst", "TuningView": "tuning"}

__all__ = [
    "BurstView",
    "FunctionCard",
    "HistoryView",
    "InvocationView",
    "PoolView",
    "TuningView",
    "invocation_page",
    "key_moments",
    "plain_invocation",
    "pool_page",
    "render_function",
    "render_history",
    "render_invocation",
    "render_pool",
]


def __getattr__(name: str) -> Any:
    if name in _WIDGETS:
        import importlib

        module = importlib.import_module(f"lambda_widget.views.{_WIDGETS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'lambda_widget.views' has no attribute {name!r}")
