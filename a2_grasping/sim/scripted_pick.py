"""A scripted top-down pick through the ROS-free cell API, using ground truth (IK of core).

A sanity check of the cell's physics and kinematics (tests, debugging), not part of the pipeline:
it reads object poses from ground truth, which the pipeline must never do.
"""

from __future__ import annotations

import numpy as np

from a2_grasping.core.kinematics import inverse_kinematics
from a2_grasping.sim.cell import SimCell
from a2_grasping.sim.config import ARM_JOINTS
from a2_grasping.sim.objects import ObjectSpec

# The menagerie 2F-85's pinch site, measured in test/sim/test_cell.py.
PINCH_FROM_TOOL0_M = 0.1558
JOINT_SPEED_RAD_S = 1.0
MAX_EXTRA_SETTLE_S = 5.0  # how long a move may take to converge after its nominal end


def top_down_tool0(position_m: np.ndarray, closing_axis: np.ndarray) -> np.ndarray:
    """base_from_tool0 with tool0 z pointing down, x along the closing axis, pinch at position."""
    x = np.array([closing_axis[0], closing_axis[1], 0.0])
    x /= np.linalg.norm(x)
    z = np.array([0.0, 0.0, -1.0])
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    pose[:3, 3] = position_m - PINCH_FROM_TOOL0_M * z
    return pose


def ik_closest(pose: np.ndarray, seed_rad: np.ndarray) -> np.ndarray:
    solutions = inverse_kinematics(pose)
    assert len(solutions), "target out of reach"
    return np.asarray(solutions[np.argmin(np.abs(solutions - seed_rad).sum(axis=1))])


def move_through(cell: SimCell, waypoints: list[np.ndarray], settle_s: float = 0.3) -> None:
    """Send waypoints as one positions-only trajectory at a safe joint speed and wait for it."""
    current = cell.joint_positions()[:6]
    times, t = [], 0.0
    for q in waypoints:
        t += max(0.2, float(np.max(np.abs(q - current))) / JOINT_SPEED_RAD_S)
        times.append(t)
        current = q
    cell.command_trajectory(ARM_JOINTS, times, [q.tolist() for q in waypoints])
    cell.step(t + settle_s)
    # A long swing overshoots (the controller saturates its acceleration) and takes longer to
    # converge: moving on earlier would start the next move off its path, e.g. sideways into
    # the object from above.
    for _ in range(round(MAX_EXTRA_SETTLE_S / 0.05)):
        if not cell.arm_executing:
            break
        cell.step(0.05)


def pick(cell: SimCell, target: ObjectSpec, lift_m: float = 0.15) -> None:
    """Open, pre-grasp 12 cm above, descend, close, lift."""
    state = next(s for s in cell.object_states() if s.spec.name == target.name)
    centre = state.base_from_object[:3, 3]
    closing = state.base_from_object[:3, 1]  # object y: the graspable width of every shape
    grasp_z = max(centre[2], 0.022)  # fingertips reach below the pinch as the fingers close
    pick_at(cell, np.r_[centre[:2], grasp_z], closing, lift_m)


def pick_at(
    cell: SimCell, position_m: np.ndarray, closing_axis: np.ndarray, lift_m: float = 0.15
) -> None:
    """`pick` with the pinch point and the (horizontal) closing axis given, base frame."""
    xy, grasp_z, closing = position_m[:2], float(position_m[2]), closing_axis
    q = cell.joint_positions()[:6]
    cell.command_gripper(0.0)
    pre = ik_closest(top_down_tool0(np.r_[xy, grasp_z + 0.12], closing), q)
    descend = [
        ik_closest(top_down_tool0(np.r_[xy, z], closing), pre)
        for z in np.linspace(grasp_z + 0.09, grasp_z, 4)
    ]
    move_through(cell, [pre])
    move_through(cell, descend)
    cell.command_gripper(0.8)
    cell.step(1.0)
    lift = [
        ik_closest(top_down_tool0(np.r_[xy, z], closing), descend[-1])
        for z in np.linspace(grasp_z + 0.05, grasp_z + lift_m, 3)
    ]
    move_through(cell, lift, settle_s=0.5)
