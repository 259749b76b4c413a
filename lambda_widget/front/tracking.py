"""Which endpoints a manager has, so they close when it shuts down (``mgr.on_shutdown``)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambda_widget.engine.manager import ContainerManager
    from lambda_widget.front.server import Endpoint

_lock = threading.Lock()


def _track(mgr: ContainerManager, endpoint: Endpoint) -> Endpoint:
    """Keep ``endpoint`` with its manager, so that it closes when the manager shuts down."""
    with _lock:
        first = "_fronts" not in mgr.__dict__
        mgr.__dict__.setdefault("_fronts", []).append(endpoint)
    if first:
        try:
            mgr.on_shutdown(lambda: close_all(mgr))
        except RuntimeError:  # the manager shut down meanwhile
            endpoint.close()
            raise
    return endpoint


def _forget(mgr: ContainerManager):
    def on_close(endpoint: Endpoint) -> None:
        with _lock:
            fronts = mgr.__dict__.get("_fronts", [])
            if endpoint in fronts:
                fronts.remove(endpoint)
            urls = mgr.__dict__.get("_function_urls", {})
            for name, ep in list(urls.items()):
                if ep is endpoint:
                    del urls[name]
    return on_close


def close_all(mgr: ContainerManager) -> None:
    """Close every endpoint of ``mgr`` (a hook of ``mgr.on_shutdown``: it runs when the manager shuts down)."""
    with _lock:
        fronts = list(mgr.__dict__.get("_fronts", []))
    for endpoint in fronts:
        endpoint.close()
