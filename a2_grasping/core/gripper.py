"""The Robotiq 2F-85 and its TCP convention, defined once for every module that needs them.

TCP frame (spec §2.6, the "tip" frame of ORIG): the origin lies midway between the two finger
pads, at the middle of the pads' contact patch; +z is the approach (from the gripper towards the
object), +y is the closing axis and +x = y cross z. The gripper is symmetric under 180° about z,
so a grasp and the same grasp with x and y negated are equivalent.

Box dimensions are an approximation of the 2F-85 for collision checks, not a CAD model; the
defaults keep a few millimetres of margin. `tool0_to_tcp_m` and the mounting rotation must be
measured on the cell (spec §2.6: the simulator's 0.1625 m is about 1.1 cm off the real fingertips).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from a2_grasping.core.config_fields import config_field, validate_ranges

# Rotation of T_tool0_tcp from spec §2.6: the TCP is tool0 turned +90° about tool0 z. On the real
# robot the coupling's mounting angle decides this; only ±90° matters because of the symmetry.
TOOL0_R_TCP = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
TOOL0_R_TCP.setflags(write=False)


@dataclass(frozen=True)
class GripperBoxes:
    """Axis-aligned boxes in the TCP frame: row i spans lower_m[i] .. upper_m[i] (metres)."""

    names: tuple[str, ...]
    lower_m: NDArray[np.float64]
    upper_m: NDArray[np.float64]

    def contains(self, points_tcp: NDArray[np.float64], margin_m: float = 0.0) -> NDArray[np.bool_]:
        """(N,) mask of TCP-frame points inside any box grown by margin_m."""
        pts = np.asarray(points_tcp, dtype=np.float64).reshape(-1, 1, 3)
        inside = np.all(
            (pts >= self.lower_m[None] - margin_m) & (pts <= self.upper_m[None] + margin_m), axis=2
        )
        result: NDArray[np.bool_] = np.any(inside, axis=1)
        return result

    def corners(self) -> NDArray[np.float64]:
        """(8 * boxes, 3) box corners in the TCP frame, for table-clearance checks."""
        bits = np.array([[(i >> k) & 1 for k in range(3)] for i in range(8)], dtype=np.float64)
        lo = self.lower_m[:, None, :]
        hi = self.upper_m[:, None, :]
        result: NDArray[np.float64] = (lo + bits[None] * (hi - lo)).reshape(-1, 3)
        return result


@dataclass(frozen=True)
class GripperGeometry:
    """Dimensions of the Robotiq 2F-85 used by grasp generation; all lengths in metres."""

    max_width_m: float = config_field(
        0.085,
        "Full stroke: distance between the finger pads when open.",
        min_value=0.001,
        max_value=0.085,
    )
    finger_pad_depth_m: float = config_field(
        0.022,
        "Extent of a finger pad along the approach axis (TCP z); the TCP is at its middle.",
        min_value=0.001,
        max_value=0.1,
    )
    finger_pad_width_m: float = config_field(
        0.022,
        "Extent of a finger pad across the closing plane (TCP x).",
        min_value=0.001,
        max_value=0.1,
    )
    finger_thickness_m: float = config_field(
        0.012,
        "Thickness of a finger along the closing axis (TCP y), outward from its pad.",
        min_value=0.001,
        max_value=0.05,
    )
    finger_length_m: float = config_field(
        0.055,
        "Distance along the approach from the palm face to the fingertips.",
        min_value=0.001,
        max_value=0.2,
    )
    palm_size_x_m: float = config_field(
        0.070,
        "Extent of the gripper body along TCP x (collision box).",
        min_value=0.001,
        max_value=0.5,
    )
    palm_size_y_m: float = config_field(
        0.150,
        "Extent of the gripper body along TCP y, the closing axis (collision box).",
        min_value=0.001,
        max_value=0.5,
    )
    palm_height_m: float = config_field(
        0.080,
        "Extent of the gripper body along the approach behind the palm face (collision box).",
        min_value=0.001,
        max_value=0.5,
    )
    tool0_to_tcp_m: float = config_field(
        0.1625,
        "Distance from the UR tool0 flange to the TCP along tool0 z. Measure on your cell; the "
        "spec §2.6 value 0.1625 m comes from the simulator and is about 1 cm off.",
        min_value=0.0,
        max_value=0.5,
    )

    def __post_init__(self) -> None:
        validate_ranges(self)
        if self.finger_length_m < self.finger_pad_depth_m:
            raise ValueError(
                f"finger_length_m={self.finger_length_m} must be at least "
                f"finger_pad_depth_m={self.finger_pad_depth_m}: the pads sit on the fingers"
            )
        if self.palm_size_y_m < self.max_width_m + 2.0 * self.finger_thickness_m:
            raise ValueError(
                "palm_size_y_m must cover both open fingers "
                f"(>= max_width_m + 2 * finger_thickness_m = "
                f"{self.max_width_m + 2.0 * self.finger_thickness_m:.4f})"
            )
        behind_tcp_m = self.finger_length_m - 0.5 * self.finger_pad_depth_m + self.palm_height_m
        if behind_tcp_m > self.tool0_to_tcp_m + 1e-9:
            raise ValueError(
                f"fingers and palm reach {behind_tcp_m:.4f} m behind the TCP, beyond tool0 at "
                f"tool0_to_tcp_m={self.tool0_to_tcp_m}; shorten palm_height_m"
            )

    @property
    def fingertip_z_m(self) -> float:
        """TCP-frame z of the fingertips (the pads end here)."""
        return 0.5 * self.finger_pad_depth_m

    @property
    def palm_face_z_m(self) -> float:
        """TCP-frame z of the palm face the fingers stick out of."""
        return self.fingertip_z_m - self.finger_length_m

    def tool0_from_tcp(self) -> NDArray[np.float64]:
        """T_tool0_tcp (4x4): spec §2.6 rotation, translated tool0_to_tcp_m along tool0 z."""
        transform = np.eye(4)
        transform[:3, :3] = TOOL0_R_TCP
        transform[2, 3] = self.tool0_to_tcp_m
        return transform

    def tcp_from_tool0(self) -> NDArray[np.float64]:
        """T_tcp_tool0 (4x4), the exact inverse of tool0_from_tcp."""
        transform = np.eye(4)
        rotation_t = TOOL0_R_TCP.T
        transform[:3, :3] = rotation_t
        transform[:3, 3] = -rotation_t @ np.array([0.0, 0.0, self.tool0_to_tcp_m])
        return transform

    def collision_boxes(self, opening_m: float | None = None) -> GripperBoxes:
        """Left finger, right finger and palm as boxes in the TCP frame for a given opening.

        The region between the pads is deliberately not covered: that is where the object goes.
        The opening defaults to max_width_m because the gripper approaches fully open.
        """
        width_m = self.max_width_m if opening_m is None else float(opening_m)
        if not (0.0 <= width_m <= self.max_width_m):
            raise ValueError(f"opening_m={opening_m!r} outside the stroke 0..{self.max_width_m}")
        half_w = 0.5 * width_m
        half_pad = 0.5 * self.finger_pad_width_m
        tip = self.fingertip_z_m
        face = self.palm_face_z_m
        lower = np.array(
            [
                [-half_pad, half_w, face],
                [-half_pad, -half_w - self.finger_thickness_m, face],
                [-0.5 * self.palm_size_x_m, -0.5 * self.palm_size_y_m, face - self.palm_height_m],
            ]
        )
        upper = np.array(
            [
                [half_pad, half_w + self.finger_thickness_m, tip],
                [half_pad, -half_w, tip],
                [0.5 * self.palm_size_x_m, 0.5 * self.palm_size_y_m, face],
            ]
        )
        lower.setflags(write=False)
        upper.setflags(write=False)
        return GripperBoxes(("finger_pos_y", "finger_neg_y", "palm"), lower, upper)


def base_from_tool0(
    base_from_tcp: NDArray[np.float64], gripper: GripperGeometry
) -> NDArray[np.float64]:
    """Flange pose(s) for TCP pose(s) (..., 4, 4): what the arm must reach for a grasp."""
    result: NDArray[np.float64] = np.asarray(base_from_tcp, dtype=np.float64) @ (
        gripper.tcp_from_tool0()
    )
    return result
