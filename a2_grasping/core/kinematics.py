"""UR5e kinematics shared by grasp selection (reachability) and the executor (planning).

Analytic IK (`ur_analytic_ik`, all 8 solutions) from the ROS `base_link` frame to `tool0`. The
solver works in UR's own `base` frame, which ur_description places at base_link rotated by π
about z; the conversion happens here and nowhere else. Joint order is the UR driver's:
shoulder_pan, shoulder_lift, elbow, wrist_1, wrist_2, wrist_3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import ur_analytic_ik
from numpy.typing import NDArray

from a2_grasping.core.gripper import GripperGeometry, base_from_tool0

UR_JOINT_NAMES = (
    "shoulder_pan_joint",
    "shoulder_lift_joint",
    "elbow_joint",
    "wrist_1_joint",
    "wrist_2_joint",
    "wrist_3_joint",
)
# UR5e limits: ±2π on every joint; the elbow is kept within ±π (as the UR driver's default
# description does) because beyond it the forearm folds into the upper arm.
JOINT_LOWER_RAD = np.array([-2 * np.pi, -2 * np.pi, -np.pi, -2 * np.pi, -2 * np.pi, -2 * np.pi])
JOINT_UPPER_RAD = -JOINT_LOWER_RAD
# base_link <- base (UR controller frame): a rotation of π about z (ur_description).
BASE_LINK_FROM_UR_BASE = np.diag([-1.0, -1.0, 1.0, 1.0])


def forward_kinematics(joints_rad: NDArray[np.float64]) -> NDArray[np.float64]:
    """base_from_tool0 (4, 4) for one joint vector."""
    ur_base_from_tool0 = np.asarray(
        ur_analytic_ik.ur5e.forward_kinematics(*(float(q) for q in joints_rad)), dtype=np.float64
    )
    pose: NDArray[np.float64] = BASE_LINK_FROM_UR_BASE @ ur_base_from_tool0
    return pose


def inverse_kinematics(base_from_tool0_pose: NDArray[np.float64]) -> NDArray[np.float64]:
    """(S, 6) joint solutions within the limits (S = 0 when the pose is out of reach)."""
    ur_base_from_tool0 = BASE_LINK_FROM_UR_BASE @ np.asarray(base_from_tool0_pose, np.float64)
    raw = ur_analytic_ik.ur5e.inverse_kinematics(np.ascontiguousarray(ur_base_from_tool0))
    if not raw:
        return np.zeros((0, 6))
    solutions = np.asarray(raw, dtype=np.float64)  # (S, 6)
    solutions = solutions[np.all(np.isfinite(solutions), axis=1)]
    inside = np.all((solutions >= JOINT_LOWER_RAD) & (solutions <= JOINT_UPPER_RAD), axis=1)
    return solutions[inside]


@dataclass(frozen=True)
class UR5eReachability:
    """Reachability of grasps: IK exists for the grasp and for its pre-grasp pose.

    `pregrasp_distance_m` backs off along the approach axis (TCP -z), where the executor starts
    its straight-line approach; a grasp whose pre-grasp is out of reach cannot be executed.
    """

    gripper: GripperGeometry = field(default_factory=GripperGeometry)
    pregrasp_distance_m: float = 0.10

    def __call__(
        self, base_from_tcp: NDArray[np.float64], width_m: NDArray[np.float64]
    ) -> NDArray[np.bool_]:
        back_off = np.eye(4)
        back_off[2, 3] = -self.pregrasp_distance_m
        reachable = np.zeros(len(base_from_tcp), dtype=bool)
        for i, grasp in enumerate(np.asarray(base_from_tcp, dtype=np.float64)):
            reachable[i] = all(
                len(inverse_kinematics(base_from_tool0(pose, self.gripper))) > 0
                for pose in (grasp, grasp @ back_off)
            )
        return reachable
