"""Reading the gripper: is something held, and how wide are the fingers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A knuckle less than this share of its travel closed reads as open (nothing between the pads).
OPEN_SHARE = 0.05


@dataclass(frozen=True)
class GripperReading:
    open_rad: float
    closed_rad: float
    hold_margin_rad: float  # closer than this to fully closed: the fingers met, nothing held
    max_width_m: float

    def holding(self, knuckle_rad: float) -> bool:
        """The fingers stopped between open and closed: on an object."""
        travel = self.closed_rad - self.open_rad
        return (
            self.open_rad + OPEN_SHARE * travel
            < knuckle_rad
            < self.closed_rad - self.hold_margin_rad
        )

    def width_m(self, knuckle_rad: float) -> float:
        """Finger opening from the knuckle angle (linear approximation of the 2F-85 linkage)."""
        closed_fraction = (knuckle_rad - self.open_rad) / (self.closed_rad - self.open_rad)
        return float(np.clip(1.0 - closed_fraction, 0.0, 1.0) * self.max_width_m)
