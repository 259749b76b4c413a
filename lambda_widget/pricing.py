"""AWS Lambda prices, in one place: what every cost figure in lambda_widget is computed from.

Region us-east-1, as of 2026-11. AWS's pricing page (https://aws.amazon.com/lambda/pricing/) renders its
tables client-side, so the figures were collected from AWS's tiered-pricing announcement (Compute Blog,
"Introducing tiered pricing for AWS Lambda", 2022) and from pricing summaries that quote the page; see the
project's reference notes (section 2.5). Re-check them there before quoting money to anyone.

Everything here is plain data plus arithmetic; nothing imports a widget or the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SOURCE = "AWS Lambda pricing, us-east-1, collected 2026-11 (aws.amazon.com/lambda/pricing)"
REGION = "us-east-1"
AS_OF = "2026-11"

ARCHITECTURES = ("x86_64", "arm64")

#: $ per request (both architectures).
PER_REQUEST = 0.20 / 1_000_000

#: Duration tiers: (GB-seconds per month up to which the rate applies, $ per GB-second).
DURATION_TIERS: dict[str, tuple[tuple[float, float], ...]] = {
    "x86_64": ((6e9, 0.0000166667), (15e9, 0.0000150000), (math.inf, 0.0000133334)),
    "arm64": ((7.5e9, 0.0000133334), (18.75e9, 0.0000120001), (math.inf, 0.0000106667)),
}

#: Free tier, per month, shared by both architectures.
FREE_REQUESTS = 1_000_000
FREE_GB_SECONDS = 400_000

#: Provisioned concurrency: $ per GB-second configured (billed whether used or not), and the
#: duration rate of invocations served by provisioned environments.
PROVISIONED_GB_SECOND = {"x86_64": 0.0000041667, "arm64": 0.0000033334}
PROVISIONED_DURATION_GB_SECOND = {"x86_64": 0.0000097222, "arm64": 0.0000077778}

#: SnapStart (Python and .NET), us-east-1: caching a published version's snapshot, $ per GB-second of
#: the function's memory while the version exists (at least 3 hours), and restoring it, $ per GB
#: restored (each cold start). Quoted from the pricing page by secondary summaries (awsnegotiations.com,
#: 2026-05; the same figures since the Python/.NET launch, AWS News Blog, 2024-11-18). Both architectures.
SNAPSTART_CACHE_GB_SECOND = 0.0000015046
SNAPSTART_RESTORE_GB = 0.0001397998
SNAPSTART_MIN_CACHE_SECONDS = 3 * 3600

#: AWS Lambda Power Tuning's price of one millisecond at 128 MB (its lambda/utils.js, us-east-1).
POWER_TUNING_BASE_COST_PER_MS = {"x86_64": 2.1e-9, "arm64": 1.7e-9}


def _check_arch(architecture: str) -> str:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, not {architecture!r}")
    return architecture


def gb_seconds(billed_ms: float, memory_mb: int) -> float:
    """GB-seconds of one invocation: billed milliseconds times memory (1 GB = 1,024 MB)."""
    return billed_ms / 1000.0 * memory_mb / 1024.0


def price_per_gb_second(architecture: str = "x86_64") -> float:
    """The first-tier duration rate, which is what any bill under 6 billion GB-s a month pays."""
    return DURATION_TIERS[_check_arch(architecture)][0][1]


def duration_cost(total_gb_seconds: float, architecture: str = "x86_64") -> float:
    """$ for a month's GB-seconds, through the tiers (no free tier)."""
    cost, below = 0.0, 0.0
    for upto, rate in DURATION_TIERS[_check_arch(architecture)]:
        share = min(total_gb_seconds, upto) - below
        if share <= 0:
            break
        cost += share * rate
        below = upto
    return cost


def invocation_cost(billed_ms: float, memory_mb: int, architecture: str = "x86_64",
                    *, requests: bool = True) -> float:
    """$ for one invocation at the first tier: duration plus (unless ``requests=False``) the request fee."""
    cost = gb_seconds(billed_ms, memory_mb) * price_per_gb_second(architecture)
    return cost + (PER_REQUEST if requests else 0.0)


def power_tuning_cost(duration_ms: float, memory_mb: int, architecture: str = "x86_64") -> float:
    """Power Tuning's cost of one invocation: ``ceil(ms) × base cost per ms at 128 MB × memory / 128``."""
    base = POWER_TUNING_BASE_COST_PER_MS[_check_arch(architecture)]
    return math.ceil(duration_ms) * base * memory_mb / 128


@dataclass(frozen=True)
class MonthlyBill:
    """A month of invocations, priced as AWS bills it."""

    requests: int
    gb_seconds: float
    request_cost: float
    duration_cost: float
    provisioned_cost: float
    free_tier: bool

    @property
    def total(self) -> float:
        return self.request_cost + self.duration_cost + self.provisioned_cost

    def to_dict(self) -> dict:
        return {"requests": self.requests, "gb_seconds": self.gb_seconds,
                "request_cost": self.request_cost, "duration_cost": self.duration_cost,
                "provisioned_cost": self.provisioned_cost, "free_tier": self.free_tier,
                "total": self.total}


def monthly_bill(requests: int, avg_billed_ms: float, memory_mb: int, architecture: str = "x86_64", *,
                 free_tier: bool = True, provisioned: int = 0, provisioned_seconds: float = 0.0,
                 provisioned_share: float = 0.0) -> MonthlyBill:
    """$ for ``requests`` invocations a month of ``avg_billed_ms`` each at ``memory_mb``.

    ``provisioned`` environments configured for ``provisioned_seconds`` are billed for that time, and
    ``provisioned_share`` of the invocations' duration is billed at the provisioned duration rate (the free
    tier does not cover provisioned concurrency).
    """
    if requests < 0 or avg_billed_ms < 0 or memory_mb <= 0:
        raise ValueError("requests and duration must be >= 0 and memory_mb > 0")
    if not 0.0 <= provisioned_share <= 1.0:
        raise ValueError("provisioned_share must be between 0 and 1")
    arch = _check_arch(architecture)
    total_gbs = requests * gb_seconds(avg_billed_ms, memory_mb)
    on_demand_gbs = total_gbs * (1.0 - provisioned_share)
    billable_requests = max(0, requests - FREE_REQUESTS) if free_tier else requests
    billable_gbs = max(0.0, on_demand_gbs - FREE_GB_SECONDS) if free_tier else on_demand_gbs
    pc = (provisioned * provisioned_seconds * memory_mb / 1024.0 * PROVISIONED_GB_SECOND[arch]
          + total_gbs * provisioned_share * PROVISIONED_DURATION_GB_SECOND[arch])
    return MonthlyBill(requests, total_gbs, billable_requests * PER_REQUEST,
                       duration_cost(billable_gbs, arch), pc, free_tier)


def snapstart_cost(memory_mb: int, restores: int, cached_seconds: float) -> dict[str, float]:
    """SnapStart's own charges: the snapshot's cache for ``cached_seconds`` (at least 3 hours) and
    ``restores`` restores, each of the whole memory size. Duration and requests are billed as usual
    (a restored cold start bills its Billed Restore Duration with its Duration)."""
    gb = memory_mb / 1024.0
    cache = gb * max(cached_seconds, SNAPSTART_MIN_CACHE_SECONDS) * SNAPSTART_CACHE_GB_SECOND
    restore = gb * restores * SNAPSTART_RESTORE_GB
    return {"cache_usd": cache, "restore_usd": restore, "total_usd": cache + restore}
