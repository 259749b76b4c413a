"""The engine: functions, execution environments, the Runtime API, the clock and the records.

Nothing here imports a widget; views only read what the engine records. The engine imports no room
above it (front, traffic, tuning, views, magics, api, project): ``lambda_widget.manager`` composes
those on it (``tests/test_architecture.py`` keeps it so).
"""

from lambda_widget.engine.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    RequestTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lambda_widget.engine.manager import ContainerManager
from lambda_widget.engine.records import Alias, Function, Invocation, LifecycleEvent, Step

__all__ = [
    "Alias",
    "ContainerManager",
    "Function",
    "InvalidParameterValueException",
    "InvalidRequestContentException",
    "Invocation",
    "LifecycleEvent",
    "RequestTooLargeException",
    "ResourceConflictException",
    "ResourceNotFoundException",
    "Step",
]
