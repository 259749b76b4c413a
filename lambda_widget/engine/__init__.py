"""The engine: functions, execution environments, the Runtime API, the clock and the records.

Nothing here imports a widget; views only read what the engine records.
"""

from lambda_widget.engine.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    RequestTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lambda_widget.engine.manager import ContainerManager, get_manager
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
    "get_manager",
]
