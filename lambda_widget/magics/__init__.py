"""IPython extension: ``%load_ext lambda_widget`` registers ``%%lambda`` and ``%lambda``."""

from __future__ import annotations

from typing import Any

from lambda_widget.magics.core import LambdaMagics

__all__ = ["LambdaMagics", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics; loading again changes nothing."""
    if not isinstance(ipython.magics_manager.registry.get(LambdaMagics.__name__), LambdaMagics):
        ipython.register_magics(LambdaMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics (the kernel's manager and its functions stay)."""
    manager = ipython.magics_manager
    instance = manager.registry.pop(LambdaMagics.__name__, None)
    if instance is None:
        return
    for table in manager.magics.values():
        for name, func in list(table.items()):
            if getattr(func, "__self__", None) is instance:
                del table[name]
