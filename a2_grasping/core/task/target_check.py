"""Did the lift take the object the instruction named? Judged from what the cameras see after it.

The named object's box (from grounding, before the grasp) is a region of the table. After the
lift that region is empty if the object is in the hand; if another object was lifted, the target
still stands there. The check counts scene points in the box grown by a small margin (the cloud's
voxels and calibration error put surface points on or just past the box faces), up to just below
where the lifted target's underside now is, before and after; a target that kept at least
`remaining_limit` of its points never left.

It needs no model of the held object and holds for any cause of a wrong pick (a neighbour pinched
instead, the target slipping away while another was dragged up). Limits: points of the region
hidden after the lift (by the arm) count as gone, so a target occluded by the arm would pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# The region's bottom: above the table by this much (table points and depth noise stay out).
FLOOR_CLEARANCE_M = 0.008
# The region's top stays this far below where the lifted target's underside now is.
LIFTED_CLEARANCE_M = 0.015


@dataclass(frozen=True)
class TargetCheck:
    points_before: int
    points_after: int
    remaining_limit: float

    @property
    def observable(self) -> bool:
        return self.points_before > 0

    @property
    def remaining_share(self) -> float:
        return self.points_after / self.points_before if self.points_before else float("nan")

    @property
    def target_left(self) -> bool:
        """True when the target's place emptied: the lift took the target."""
        return self.observable and self.remaining_share < self.remaining_limit

    def summary(self) -> str:
        return (
            f"{self.points_after} of {self.points_before} points remain where the target stood "
            f"({100 * self.remaining_share:.0f} %, limit {100 * self.remaining_limit:.0f} %)"
        )


def target_region_mask(
    points_m: NDArray[np.floating],
    base_from_box: NDArray[np.float64],
    extents_m: NDArray[np.float64],
    lift_height_m: float,
    margin_m: float,
) -> NDArray[np.bool_]:
    """Points inside the lower part of the target's box that a lifted target has vacated."""
    local = (np.asarray(points_m, dtype=np.float64) - base_from_box[:3, 3]) @ base_from_box[:3, :3]
    half = 0.5 * np.asarray(extents_m, dtype=np.float64)
    bottom = -half[2]
    top = bottom + min(2.0 * half[2] + margin_m, lift_height_m - LIFTED_CLEARANCE_M)
    inside: NDArray[np.bool_] = (
        (np.abs(local[:, 0]) <= half[0] + margin_m)
        & (np.abs(local[:, 1]) <= half[1] + margin_m)
        & (local[:, 2] >= bottom + FLOOR_CLEARANCE_M)
        & (local[:, 2] <= top)
    )
    return inside


def check_target_left(
    base_from_box: NDArray[np.float64],
    extents_m: NDArray[np.float64],
    points_before_m: NDArray[np.floating],
    points_after_m: NDArray[np.floating],
    lift_height_m: float,
    *,
    margin_m: float = 0.005,
    remaining_limit: float = 0.5,
) -> TargetCheck:
    """Compare the target's region in the scene before the grasp and after the lift.

    Raises:
        ValueError: a lift lower than the clearance the check needs (nothing could be judged).
    """
    if lift_height_m <= LIFTED_CLEARANCE_M + FLOOR_CLEARANCE_M:
        raise ValueError(
            f"lift_height_m={lift_height_m} is too low to tell a lifted target from one left "
            f"standing (needs > {LIFTED_CLEARANCE_M + FLOOR_CLEARANCE_M} m)"
        )
    before = target_region_mask(points_before_m, base_from_box, extents_m, lift_height_m, margin_m)
    after = target_region_mask(points_after_m, base_from_box, extents_m, lift_height_m, margin_m)
    return TargetCheck(int(before.sum()), int(after.sum()), remaining_limit)
