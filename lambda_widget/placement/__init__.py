"""Where an event goes, when an idle environment is reaped, and when an event is throttled.

Plain decisions over plain descriptions of environments: no processes, no locks, no widgets. The
real engine (``ContainerManager``) and the traffic simulator (``lambda_widget.traffic``) both ask
these objects, so the two cannot drift apart.
"""

from lambda_widget.placement.keepalive import (
    FixedKeepAlive,
    HybridHistogramKeepAlive,
    KeepAlive,
    NoKeepAlive,
    idle_deadline,
    keep_alive,
    reap_due,
)
from lambda_widget.placement.limits import (
    ACCOUNT_CONCURRENCY,
    SCALE_STEP,
    SCALE_WINDOW,
    UNRESERVED_MINIMUM,
    Limits,
    ScalingBucket,
)
from lambda_widget.placement.policy import COLD_REASONS, Decision, EnvView, IdleSet, Placement, cold_reason

__all__ = [
    "ACCOUNT_CONCURRENCY",
    "COLD_REASONS",
    "SCALE_STEP",
    "SCALE_WINDOW",
    "UNRESERVED_MINIMUM",
    "Decision",
    "EnvView",
    "FixedKeepAlive",
    "HybridHistogramKeepAlive",
    "IdleSet",
    "KeepAlive",
    "Limits",
    "NoKeepAlive",
    "Placement",
    "ScalingBucket",
    "cold_reason",
    "idle_deadline",
    "keep_alive",
    "reap_due",
]
