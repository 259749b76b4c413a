"""SnapStart runtime hooks for the bundled runtime (standard library only).

Handlers register hooks with AWS's ``snapshot_restore_py`` (``@register_before_snapshot``,
``@register_after_restore``). Lambda's Python runtimes include that package, so a handler
imports it without installing it; here it is a dependency of lambda_widget, and a copy the
function ships in its own code is the one its import finds, so its registry is the one read.
The orders are awslambdaric's: before-snapshot hooks in reverse registration order,
after-restore hooks in registration order.
"""

from __future__ import annotations

import sys

MODULE = "snapshot_restore_py"


def _registry(name: str) -> list:
    module = sys.modules.get(MODULE)
    if module is None:  # the handler never imported it: no hook is registered
        return []
    return getattr(module, name)()


def run_before_snapshot() -> int:
    """Run the before-snapshot hooks, last registered first; returns how many ran."""
    hooks = _registry("get_before_snapshot")
    ran = 0
    while hooks:
        func, args, kwargs = hooks.pop()
        func(*args, **kwargs)
        ran += 1
    return ran


def run_after_restore() -> int:
    """Run the after-restore hooks in registration order; returns how many ran."""
    ran = 0
    for func, args, kwargs in _registry("get_after_restore"):
        func(*args, **kwargs)
        ran += 1
    return ran
