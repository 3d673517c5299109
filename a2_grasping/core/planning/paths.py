"""A time-parameterised joint path: what planners produce and controllers execute."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class TimedPath:
    """Positions (T, 6) and velocities (T, 6) at times_s (T,), starting at 0."""

    times_s: FloatArray
    positions_rad: FloatArray
    velocities_rad_s: FloatArray

    @property
    def duration_s(self) -> float:
        return float(self.times_s[-1])

    def reversed(self) -> TimedPath:
        """The same path run backwards (e.g. the lift back down): same timing law, mirrored."""
        return TimedPath(
            times_s=self.duration_s - self.times_s[::-1],
            positions_rad=self.positions_rad[::-1].copy(),
            velocities_rad_s=-self.velocities_rad_s[::-1],
        )
