"""Concurrency limits: reserved concurrency, the account pool, and the per-function scaling rate.

AWS (scaling-behavior, configuration-concurrency): 1,000 concurrent executions per account and Region by
default, of which at least 100 stay unreserved; a function with reserved concurrency can run that many
at once and no more; every function can add 1,000 execution environments every 10 seconds, refilled
continuously, with unused capacity not accumulating beyond 1,000. An invocation beyond any of these is
throttled (HTTP 429, ``TooManyRequestsException``).
"""

from __future__ import annotations

ACCOUNT_CONCURRENCY = 1000
UNRESERVED_MINIMUM = 100
SCALE_STEP = 1000       # environments ...
SCALE_WINDOW = 10.0     # ... every this many seconds, per function

#: Throttle reasons, as the Invoke API's ``Reason`` field spells them.
RESERVED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT = "ConcurrentInvocationLimitExceeded"
SCALING = "FunctionInvocationRateLimitExceeded"


class Limits:
    """The account's concurrency: who may start one more execution right now."""

    def __init__(self, account_concurrency: int = ACCOUNT_CONCURRENCY,
                 unreserved_minimum: int = UNRESERVED_MINIMUM) -> None:
        if not isinstance(account_concurrency, int) or account_concurrency < 1:
            raise ValueError(f"account_concurrency must be a whole number >= 1, not {account_concurrency!r}")
        self.account_concurrency = account_concurrency
        self.unreserved_minimum = min(unreserved_minimum, account_concurrency)

    def check_reserved(self, reserved_total: int) -> None:
        """Reserved concurrency over all functions must leave the unreserved minimum free."""
        most = self.account_concurrency - self.unreserved_minimum
        if reserved_total > most:
            raise ValueError(
                f"Specified ReservedConcurrentExecutions decreases account's UnreservedConcurrentExecution "
                f"below its minimum value of [{self.unreserved_minimum}] (reserved {reserved_total}, "
                f"account concurrency {self.account_concurrency})")

    def ceiling(self, reserved: int | None, reserved_elsewhere: int = 0) -> int:
        """How many executions the function may run at once: its reservation, or the unreserved pool."""
        if reserved is not None:
            return reserved
        return self.account_concurrency - reserved_elsewhere

    def admit(self, running: int, reserved: int | None, *, running_unreserved: int | None = None,
              reserved_elsewhere: int = 0) -> str | None:
        """None if one more execution may start, else the throttle reason.

        ``running`` counts the function's executions; ``running_unreserved`` those of every function
        without a reservation (the shared pool; defaults to ``running``).
        """
        if reserved is not None:
            return RESERVED if running >= reserved else None
        shared = running if running_unreserved is None else running_unreserved
        return ACCOUNT if shared >= self.account_concurrency - reserved_elsewhere else None


class ScalingBucket:
    """A token bucket per function: ``step`` new environments, refilled over ``window`` seconds."""

    __slots__ = ("capacity", "rate", "tokens", "at")

    def __init__(self, step: int = SCALE_STEP, window: float = SCALE_WINDOW, now: float = 0.0) -> None:
        self.capacity = float(step)
        self.rate = step / window
        self.tokens = float(step)
        self.at = now

    def take(self, now: float) -> bool:
        """Spend one token for a new environment at ``now``; False (throttle) if none is left."""
        if now < self.at:  # the clock was reset
            self.at = now
        elif now > self.at:
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
