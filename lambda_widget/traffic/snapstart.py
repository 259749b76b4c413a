"""SnapStart as a cold-start model for the traffic lab: a cold start restores a snapshot.

With SnapStart a new environment does not run Init: it restores the version's snapshot, then
serves the event. Its cold service time is the restore plus the warm time; the price adds
the snapshot's cache (for the whole simulated time) and a restore charge per cold start
(``lambda_widget.pricing``).
"""

from __future__ import annotations

import numpy as np

from lambda_widget.traffic.service import ServiceTime


class Restored(ServiceTime):
    """A cold start that restores a snapshot: ``restore`` then ``warm``, drawn independently."""

    def __init__(self, warm: ServiceTime, restore: ServiceTime) -> None:
        self.warm, self.restore = warm, restore
        if warm.constant is not None and restore.constant is not None:
            self.constant = warm.constant + restore.constant

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.restore.draw(n, rng) + self.warm.draw(n, rng)

    def mean_ms(self) -> float:
        return self.warm.mean_ms() + self.restore.mean_ms()

    def to_dict(self) -> dict:
        return {"kind": "snapstart-restore", "restore": self.restore.to_dict(), "warm": self.warm.to_dict()}

    def __repr__(self) -> str:
        return f"restore {self.restore!r} + warm {self.warm!r}"
