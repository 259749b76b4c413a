"""lambda_widget: the AWS Lambda execution model, live in a notebook.

``import lambda_widget as lw`` stays light: the engine loads on first use, the
widgets and magics only in a kernel.
"""

from __future__ import annotations

import sys
from typing import Any

__version__ = "0.1.0"

_MANAGER = {"ContainerManager", "get_manager"}  # the engine's, with the services built on it
_ENGINE = {"Invocation", "Step", "Function", "Alias", "LifecycleEvent",
           "ResourceNotFoundException", "InvalidParameterValueException",
           "InvalidRequestContentException", "RequestTooLargeException", "ResourceConflictException"}


_API = {"register", "publish", "alias", "invoke", "burst", "wait", "containers", "monitor", "history", "reset",
        "quiz", "serve", "function_url", "load_template", "simulate", "keep_alive_sweep", "power_tune",
        "sqs_url", "event_source", "queue", "simulate_queue"}
_MODULES = {"events", "traffic", "pricing", "tuning"}


_QUIZ = {"Quiz", "quiz_from", "QuizError"}


def _show_quiz(quiz: Any, include: Any = None, exclude: Any = None) -> Any:
    from lambda_widget.views.quiz import quiz_bundle

    return quiz_bundle(quiz, include, exclude)


def _register_quiz_display() -> None:
    """In IPython, display a ``Quiz`` as its widget. The quiz model knows no views; the display is
    registered by name here, so neither the model nor ipywidgets is imported until a quiz is shown."""
    ipython_module = sys.modules.get("IPython")
    ipython = ipython_module.get_ipython() if ipython_module is not None else None
    if ipython is not None:
        ipython.display_formatter.mimebundle_formatter.for_type_by_name(
            "lambda_widget.quizzes.model", "Quiz", _show_quiz)


def __getattr__(name: str) -> Any:
    if name in _MANAGER:
        from lambda_widget import manager

        return getattr(manager, name)
    if name in _ENGINE:
        from lambda_widget import engine

        return getattr(engine, name)
    if name in _QUIZ:
        from lambda_widget import quizzes

        _register_quiz_display()  # in case IPython started after this package was imported
        return getattr(quizzes, name)
    if name in _API:
        from lambda_widget import api

        return getattr(api, name)
    if name in _MODULES:
        import importlib

        return importlib.import_module(f"lambda_widget.{name}")
    raise AttributeError(f"module 'lambda_widget' has no attribute {name!r}")


_register_quiz_display()


def load_ipython_extension(ipython) -> None:
    """``%load_ext lambda_widget``: register the ``%%lambda`` and ``%lambda`` magics."""
    from lambda_widget.magics import load_ipython_extension as load

    load(ipython)
    _register_quiz_display()


def unload_ipython_extension(ipython) -> None:
    from lambda_widget.magics import unload_ipython_extension as unload

    unload(ipython)
