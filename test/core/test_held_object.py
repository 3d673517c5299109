"""The held object: its box from the cloud, checked with the gripper on the retreat."""

from __future__ import annotations

import numpy as np
import pytest

from a2_grasping.core.geometry import voxel_downsample
from a2_grasping.core.gripper import GripperGeometry, base_from_tool0
from a2_grasping.core.kinematics import inverse_kinematics
from a2_grasping.core.planning.collision import CollisionChecker
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.core.planning.held_object import held_object_box
from a2_grasping.core.planning.pick_planner import EmbeddedPlanner
from a2_grasping.testing.synthetic_clouds import box_points

GRIPPER = GripperGeometry()
HOME = np.array([0.0, -1.57, 1.57, -1.57, -1.57, 0.0])
VOXEL_M = 0.01


def _top_down(x: float, y: float, z: float) -> np.ndarray:
    grasp = np.eye(4)
    grasp[:3, :3] = np.diag([1.0, -1.0, -1.0])  # TCP z (approach) down, TCP y = -base y
    grasp[:3, 3] = (x, y, z)
    return grasp


def _cloud() -> np.ndarray:
    """A 6 cm cube at (0.5, 0), a 4 cm cube 3 cm beside it (inside the 8 cm radius) and the
    table, one point per voxel."""
    rng = np.random.default_rng(0)
    table = np.stack(np.meshgrid(np.arange(0.3, 0.7, 0.01), np.arange(-0.2, 0.2, 0.01)), -1)
    points = np.concatenate(
        [
            box_points(rng, (0.06, 0.06, 0.06), (0.5, 0.0), 20000),
            box_points(rng, (0.04, 0.04, 0.04), (0.5, 0.08), 20000),
            np.c_[table.reshape(-1, 2), np.zeros(table.size // 2)],
        ]
    )
    return points[voxel_downsample(points, VOXEL_M)]


def _box(grasp: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    return held_object_box(
        _cloud(), grasp, GRIPPER, radius_m=0.08, floor_z_m=VOXEL_M, spacing_m=VOXEL_M
    )


def test_the_held_object_is_the_cluster_between_the_pads_without_the_table():
    held = _box(_top_down(0.5, 0.0, 0.04))
    assert held is not None
    lower, upper = held
    # Cube: x, y within +-3 cm; top (z 0.06) is TCP z -0.02; the lowest points above the floor
    # (z 0.01) are TCP z 0.03. Bounds are grown by half a voxel.
    np.testing.assert_allclose(lower, (-0.035, -0.035, -0.025), atol=0.006)
    np.testing.assert_allclose(upper, (0.035, 0.035, 0.035), atol=0.006)


def test_objects_closer_than_two_voxels_are_held_together():
    rng = np.random.default_rng(1)
    points = np.concatenate(
        [
            box_points(rng, (0.06, 0.06, 0.06), (0.5, 0.0), 20000),
            box_points(rng, (0.04, 0.04, 0.04), (0.5, 0.06), 20000),  # 1 cm gap
        ]
    )
    held = held_object_box(
        points[voxel_downsample(points, VOXEL_M)],
        _top_down(0.5, 0.0, 0.04),
        GRIPPER,
        radius_m=0.08,
        floor_z_m=VOXEL_M,
        spacing_m=VOXEL_M,
    )
    assert held is not None
    assert held[0][1] < -0.07  # base +y is TCP -y: the box reaches over the neighbour (cautious)


def test_a_grasp_with_nothing_between_the_pads_holds_nothing():
    assert _box(_top_down(0.5, -0.15, 0.04)) is None  # over the bare table


def test_a_held_box_is_checked_against_the_environment_only_while_held():
    checker = CollisionChecker(0.0, GRIPPER)
    tcp = _top_down(0.5, 0.0, 0.10)  # fingertips about 9 cm above the table
    solutions = inverse_kinematics(base_from_tool0(tcp, GRIPPER))
    joints = solutions[np.argmin(np.abs(solutions - HOME).sum(axis=1))]
    assert checker.is_free(joints)
    checker.hold(np.array([-0.03, -0.03, -0.02]), np.array([0.03, 0.03, 0.12]))  # hangs into it
    assert not checker.is_free(joints)
    assert {"held_object"} == {robot for robot, _ in checker.colliding_pairs(joints)}
    checker.release()
    assert checker.is_free(joints)
    with pytest.raises(ValueError, match="lower < upper"):
        checker.hold(np.zeros(3), np.zeros(3))


def test_a_held_box_swung_into_the_arm_is_a_collision():
    """Unchecked, e2e retreats swung the held cube 1.3 cm into the forearm's collision mesh."""
    checker = CollisionChecker(0.0, GRIPPER)
    wrist_turned = np.array([0.0, -1.9, 2.0, -0.5, -1.5, 0.0])  # gripper beside the upper arm
    assert checker.is_free(wrist_turned)
    checker.hold(np.array([-0.05, -0.03, -0.02]), np.array([0.05, 0.03, 0.12]))
    assert checker.colliding_pairs(wrist_turned) == [("upper_arm_link_0", "held_object")]
    checker.release()
    assert checker.is_free(wrist_turned)


class _RecordingChecker(CollisionChecker):
    """A real checker that also records what it was asked to hold."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.held_boxes: list[tuple[np.ndarray, np.ndarray]] = []

    def hold(self, lower_m: np.ndarray, upper_m: np.ndarray) -> None:
        self.held_boxes.append((np.asarray(lower_m), np.asarray(upper_m)))
        super().hold(lower_m, upper_m)


def test_the_retreat_is_planned_and_free_with_the_object_in_the_hand():
    config = PlannerConfig()
    checker = _RecordingChecker(0.0, GRIPPER, scene_points_m=_cloud())
    grasp = _top_down(0.5, 0.0, 0.04)
    plan = EmbeddedPlanner(config).plan_pick(HOME, grasp[None], checker)
    held = _box(grasp)
    assert held is not None
    ((lower, upper),) = checker.held_boxes  # held for the retreat only, then released
    np.testing.assert_allclose(lower, held[0])
    np.testing.assert_allclose(upper, held[1])
    checker.ignore_near(grasp[:3, 3], config.object_clearance_radius_m)
    big = np.array([[-0.03, -0.03, -0.02], [0.03, 0.03, 0.5]])
    low_state = plan.segment("lift").positions_rad[
        0
    ]  # the fingers at the grasp: a 0.5 m box hits the table
    assert checker.is_free(low_state)  # released after planning
    checker.hold(*big)
    assert not checker.is_free(low_state)
    checker.hold(*held)
    assert all(checker.is_free(q) for q in plan.segment("retreat").positions_rad)
