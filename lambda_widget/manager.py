"""The ContainerManager that ``lambda_widget`` exports: the engine's, with the services built on it.

The engine (``lambda_widget.engine``) runs functions and imports nothing above it. The services one
floor up (the HTTP front, the traffic simulator, power tuning) each take an engine manager as their
first argument. This module is where they are composed into one object, so that ``mgr.serve()``,
``mgr.function_url(name)``, ``mgr.simulate(...)`` and ``mgr.power_tune(...)`` work on
``lw.ContainerManager()`` and on the kernel's ``lw.get_manager()``.

To add a service (as the SQS endpoint, ``sqs_url``, is added): write it in its own room as functions that
take the manager, then add one method here that calls into it, imported inside the method so that
``import lambda_widget`` stays light. A service that must close with the manager registers a hook with
``mgr.on_shutdown(...)``. ``tests/test_architecture.py`` checks that the engine never imports a room
above it and that no imports go round in a circle.
"""

from __future__ import annotations

import threading
from typing import Any

from lambda_widget import engine

LOOPBACK = "127.0.0.1"

__all__ = ["ContainerManager", "get_manager"]


class ContainerManager(engine.ContainerManager):
    __doc__ = engine.ContainerManager.__doc__

    # ------------------------------------------------------------------ the HTTP front (lambda_widget.front)
    def serve(self, port: int = 0, host: str = LOOPBACK):
        """Serve Lambda's Invoke API on ``host:port`` for boto3 and the AWS CLI; returns an
        Endpoint (``.url``, ``.close()``, a context manager). Other hosts get Invoke only."""
        from lambda_widget import front

        return front.serve(self, port=port, host=host)

    def function_url(self, name: str, port: int = 0, host: str = LOOPBACK) -> str:
        """The URL of function ``name``: any HTTP request to it is a payload-2.0 event."""
        from lambda_widget import front

        return front.function_url(self, name, port=port, host=host).url

    # ------------------------------------------------------------------ queues (lambda_widget.front.sqs)
    @property
    def sqs_url(self) -> str:
        """The URL of this manager's SQS endpoint (moto's SQS server on this manager's clock), started on
        first use and closed with the manager; environments initialised after that reach it through
        ``AWS_ENDPOINT_URL_SQS``."""
        from lambda_widget.front import sqs

        return sqs.sqs_url(self)

    # ------------------------------------------------------------------ the traffic simulator (lambda_widget.traffic)
    def simulate(self, workload: Any, duration: float | str | None = None, **options: Any) -> Any:
        """Simulate ``workload`` by the placement rules this manager routes by
        (``lambda_widget.traffic.simulate``); ``function="name"`` measures one of this manager's functions."""
        from lambda_widget.traffic import simulate

        options.setdefault("account_concurrency", self.account_concurrency)
        return simulate(workload, duration, manager=self, **options)

    # ------------------------------------------------------------------ power tuning (lambda_widget.tuning)
    def power_tune(self, name: str, event: Any = None, **options: Any):
        """Run ``name`` at several memory sizes and price each, as AWS Lambda Power Tuning does;
        see :func:`lambda_widget.tuning.power_tune` for the options. Returns a PowerTuneResult."""
        from lambda_widget.tuning import power_tune

        return power_tune(self, name, event, **options)


_default: ContainerManager | None = None
_default_lock = threading.Lock()


def get_manager() -> ContainerManager:
    """The kernel's manager, created on first use (and again after it was shut down)."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = ContainerManager()
        return _default
