"""lambda_widget: the AWS Lambda execution model, live in a notebook.

``import lambda_widget as lw`` stays light: the engine loads on first use, the
widgets and magics only in a kernel.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_ENGINE = {"ContainerManager", "get_manager", "Invocation", "Step", "Function", "LifecycleEvent",
           "ResourceNotFoundException", "InvalidParameterValueException",
           "InvalidRequestContentException", "RequestTooLargeException"}


_API = {"register", "invoke", "burst", "wait", "containers", "history", "reset", "quiz", "power_tune"}
_MODULES = {"events", "pricing", "tuning"}


_QUIZ = {"Quiz", "quiz_from", "QuizError"}


def __getattr__(name: str) -> Any:
    if name in _ENGINE:
        from lambda_widget import engine

        return getattr(engine, name)
    if name in _QUIZ:
        from lambda_widget import quizzes

        return getattr(quizzes, name)
    if name in _API:
        from lambda_widget import api

        return getattr(api, name)
    if name in _MODULES:
        import importlib

        return importlib.import_module(f"lambda_widget.{name}")
    raise AttributeError(f"module 'lambda_widget' has no attribute {name!r}")


def load_ipython_extension(ipython) -> None:
    """``%load_ext lambda_widget``: register the ``%%lambda`` and ``%lambda`` magics."""
    from lambda_widget.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    from lambda_widget.magics import unload_ipython_extension as unload

    unload(ipython)
