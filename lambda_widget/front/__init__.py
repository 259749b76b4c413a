"""The HTTP front: Lambda's Invoke API, function URLs and API routes, served from a manager.

    with mgr.serve() as endpoint:                     # Invoke API for boto3 / the AWS CLI
        boto3.client("lambda", endpoint_url=endpoint.url, ...)
    url = mgr.function_url("hello")                   # any HTTP request -> payload 2.0 event

Every request becomes an ordinary invocation of the manager: it shows in ``mgr.history``
and the pool view. Endpoints close with ``close()`` and when the manager shuts down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambda_widget.front import http_events
from lambda_widget.front.server import LOOPBACK, Endpoint, FrontWarning, listen
from lambda_widget.front.tracking import _forget, _lock, _track, close_all
from lambda_widget.front.urls import Route, sort_routes

if TYPE_CHECKING:
    from lambda_widget.engine.manager import ContainerManager

__all__ = ["Endpoint", "FrontWarning", "Route", "close_all", "function_url", "serve", "serve_api"]

def serve(mgr: ContainerManager, port: int = 0, host: str = LOOPBACK) -> Endpoint:
    """Serve Lambda's Invoke API (and ListFunctions, GetFunction, CreateFunction,
    UpdateFunctionCode) for ``mgr`` on ``host:port``; returns the Endpoint (``.url``)."""
    from lambda_widget.front.lambda_api import LambdaApiHandler

    mgr._check_open()
    return _track(mgr, listen(LambdaApiHandler, host, port, "Invoke API", {"manager": mgr},
                              on_close=_forget(mgr)))


def function_url(mgr: ContainerManager, name: str, port: int = 0, host: str = LOOPBACK,
                 cors: dict | None = None) -> Endpoint:
    """The function URL of ``name`` (one port per function; the same one on every call).

    ``cors``: ``FunctionUrlConfig.Cors`` (``AllowOrigins``, ``AllowMethods``, ...); a later call
    with ``cors`` updates it."""
    from lambda_widget.front.urls import FunctionUrlHandler

    mgr._check_open()
    mgr.function(name)  # ResourceNotFoundException, listing the registered ones
    with _lock:
        existing = mgr.__dict__.setdefault("_function_urls", {}).get(name)
    if existing is not None and not existing.closed:
        if cors is not None:
            existing._server.cors = dict(cors)
        return existing
    uid = http_events.url_id(name, mgr.account_id)
    endpoint = listen(FunctionUrlHandler, host, port, f"function URL of {name}",
                      {"manager": mgr, "function": name, "url_id": uid, "cors": dict(cors) if cors else None,
                       "domain": f"{uid}.lambda-url.{mgr.region}.on.aws"}, on_close=_forget(mgr))
    with _lock:
        mgr.__dict__["_function_urls"][name] = endpoint
    return _track(mgr, endpoint)


def serve_api(mgr: ContainerManager, routes: list[Route], port: int = 0, host: str = LOOPBACK,
              api_id: str = "lambdawidget") -> Endpoint:
    """Serve ``routes`` (a SAM template's ``Api`` / ``HttpApi`` events) on one port."""
    from lambda_widget.front.urls import ApiHandler

    mgr._check_open()
    endpoint = listen(ApiHandler, host, port, "API", {"manager": mgr, "routes": sort_routes(routes),
                                                      "api_id": api_id}, on_close=_forget(mgr))
    endpoint.routes = sort_routes(routes)
    return _track(mgr, endpoint)
