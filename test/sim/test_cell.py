"""The MuJoCo cell: kinematics, cameras, determinism, arm tracking and a scripted pick."""

from __future__ import annotations

import math

import numpy as np
import pytest

from a2_grasping.core.geometry import deproject
from a2_grasping.core.gripper import TOOL0_R_TCP
from a2_grasping.core.kinematics import forward_kinematics
from a2_grasping.sim.cell import SimCell
from a2_grasping.sim.config import ARM_JOINTS, GRIPPER_CLOSED_RAD, SimConfig
from a2_grasping.sim.objects import COLORS, ObstacleSpec, Shape, generate_objects
from a2_grasping.sim.scripted_pick import pick
from a2_grasping.sim.trajectory import TrajectoryError

pytestmark = pytest.mark.sim


def _first_seed(shape: Shape) -> int:
    return next(s for s in range(100) if generate_objects(s, "single")[0].shape is shape)


@pytest.fixture(scope="module")
def box_cell():
    cell = SimCell(SimConfig(seed=_first_seed(Shape.BOX)))
    yield cell
    cell.close()


def test_world_is_base_link_and_tool0_matches_the_planners_kinematics(box_cell):
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.uniform(-math.pi, math.pi, 6)
        box_cell.set_arm_positions(q)
        expected = forward_kinematics(q)
        actual = box_cell.base_from_tool0()
        assert np.linalg.norm(actual[:3, 3] - expected[:3, 3]) < 1e-3
        np.testing.assert_allclose(actual[:3, :3], expected[:3, :3], atol=1e-4)
    box_cell.set_arm_positions(np.array(box_cell.config.home_joint_positions))


def test_pinch_site_lies_on_tool0_z_and_fingers_close_along_tool0_x(box_cell):
    tool0_from_base = np.linalg.inv(box_cell.base_from_tool0())
    pinch = tool0_from_base @ box_cell.site_pose("ur5e/gripper/pinch")
    np.testing.assert_allclose(pinch[:3, 3], [0.0, 0.0, 0.1558], atol=1e-6)
    # The pinch frame is a2's TCP frame (z approach, y closing) turned 180° about z: the same
    # grasp, since the gripper is symmetric under that turn.
    flip_z = np.diag([-1.0, -1.0, 1.0])
    np.testing.assert_allclose(pinch[:3, :3], TOOL0_R_TCP @ flip_z, atol=1e-6)
    pads = [
        tool0_from_base @ np.r_[box_cell.data.geom(f"ur5e/gripper/{side}_pad1").xpos, 1.0]
        for side in ("left", "right")
    ]
    separation = pads[1][:3] - pads[0][:3]
    assert abs(separation[0]) > 0.08 and abs(separation[1]) < 1e-3 and abs(separation[2]) < 1e-3


def _box_surface_distance(points, base_from_object, size_m):
    local = (points - base_from_object[:3, 3]) @ base_from_object[:3, :3]
    q = np.abs(local) - 0.5 * np.asarray(size_m)
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=1)
    return np.abs(outside + np.minimum(q.max(axis=1), 0.0))


def test_deprojected_depth_lands_on_the_object_and_the_table(box_cell):
    state = box_cell.object_states()[0]
    for camera in box_cell.cameras:
        rgb, depth = box_cell.render(camera.name)
        assert rgb.shape == (480, 640, 3) and rgb.dtype == np.uint8
        assert depth.shape == (480, 640) and depth.dtype == np.float32
        points, _ = deproject(depth, camera.intrinsics, camera.base_from_optical_matrix)
        near_object = (
            np.linalg.norm(points[:, :2] - state.base_from_object[:2, 3], axis=1)
            < state.spec.footprint_radius_m + 0.01
        ) & (points[:, 2] > 0.004)
        assert near_object.sum() > 500, camera.name
        error = _box_surface_distance(
            points[near_object], state.base_from_object, state.spec.size_m
        )
        assert np.median(error) < 0.001 and np.percentile(error, 95) < 0.003, camera.name
        # away from the arm (x < 0.45 at home) and the object
        on_table = (points[:, 0] > 0.5) & (points[:, 0] < 0.9) & (np.abs(points[:, 1]) < 0.3)
        on_table &= np.linalg.norm(points[:, :2] - state.base_from_object[:2, 3], axis=1) > 0.1
        assert np.percentile(np.abs(points[on_table, 2]), 95) < 0.002, camera.name
        # the object's colour is where its depth is (compared by chromaticity: faces are shaded)
        pixels = rgb.reshape(-1, 3)[_[near_object]].astype(float) + 1.0
        palette = np.array(list(COLORS.values()))
        nearest = np.argmax(
            (pixels / np.linalg.norm(pixels, axis=1, keepdims=True))
            @ (palette / np.linalg.norm(palette, axis=1, keepdims=True)).T,
            axis=1,
        )
        assert np.mean(nearest == list(COLORS).index(state.spec.color)) > 0.8


def test_an_obstacle_is_a_static_box_the_cameras_see_and_bad_ones_are_refused():
    cell = SimCell(SimConfig(seed=8))
    try:
        wall = ObstacleSpec("wall", (0.396, 0.0, 0.105), (0.10, 0.10, 0.21))
        cell.reset(8, "single", [wall])
        cell.step(1.0)
        assert cell.obstacles == (wall,)
        for camera in cell.cameras:
            _, depth = cell.render(camera.name)
            points, _ = deproject(depth, camera.intrinsics, camera.base_from_optical_matrix)
            on_top = (np.abs(points[:, :2] - (0.396, 0.0)).max(axis=1) < 0.045) & (
                np.abs(points[:, 2] - 0.21) < 0.002
            )
            assert on_top.sum() > 300, camera.name  # the top face, seen from the front cameras
        (cube,) = cell.object_states()
        assert cube.height_gain_m < 1e-3  # the obstacle did not push the object
        post = ObstacleSpec("post", (*cube.base_from_object[:2, 3], 0.1), (0.1, 0.1, 0.2))
        with pytest.raises(ValueError, match="'post' overlaps the yellow cube"):
            cell.reset(8, "single", [post])
        tool0 = cell.base_from_tool0()[:3, 3]
        in_hand = ObstacleSpec("in_hand", (tool0[0], tool0[1], tool0[2] - 0.07), (0.04,) * 3)
        with pytest.raises(ValueError, match="'in_hand' collides with the arm"):
            cell.reset(8, "single", [in_hand])
        assert cell.obstacles == (wall,)  # a refused reset keeps the old scene
        with pytest.raises(ValueError, match="size_m: every edge must be > 0"):
            ObstacleSpec("flat", (0.5, 0.0, 0.0), (0.1, 0.1, 0.0))
    finally:
        cell.close()


def test_same_seed_same_scene_images_and_motion():
    cells = [SimCell(SimConfig(seed=3, scene="clutter")) for _ in range(2)]
    goal = [math.pi - 0.3, -1.7, 1.8, -1.6, -1.5708, 0.4]
    for cell in cells:
        cell.command_trajectory(ARM_JOINTS, [1.0], [goal])
        cell.command_gripper(0.4)
        cell.step(1.2)
    a, b = cells
    np.testing.assert_array_equal(a.data.qpos, b.data.qpos)
    for camera in a.cameras:
        for image_a, image_b in zip(a.render(camera.name), b.render(camera.name), strict=True):
            np.testing.assert_array_equal(image_a, image_b)
    a.reset(4, "single")
    assert a.objects == generate_objects(4, "single") and a.time_s == 0.0
    for cell in cells:
        cell.close()


def test_physical_arm_tracks_a_trajectory_and_respects_limits(box_cell):
    home = np.array(box_cell.config.home_joint_positions)
    box_cell.set_arm_positions(home)
    goal = home + np.array([-0.8, 0.3, -0.4, 0.2, 0.5, 1.0])
    box_cell.command_trajectory(ARM_JOINTS[::-1], [1.5], [goal[::-1].tolist()])
    peak_speed = 0.0
    for _ in range(100):
        box_cell.step(0.02)
        peak_speed = max(peak_speed, float(np.max(np.abs(box_cell.joint_velocities()[:6]))))
    assert not box_cell.arm_executing
    np.testing.assert_allclose(box_cell.joint_positions()[:6], goal, atol=1e-3)
    assert peak_speed <= box_cell.config.max_velocity_rad_s * 1.05
    with pytest.raises(TrajectoryError, match="outside its limits"):
        box_cell.command_trajectory(ARM_JOINTS, [1.0], [[0.0, 0.0, 4.0, 0.0, 0.0, 0.0]])
    box_cell.step(0.2)
    np.testing.assert_allclose(box_cell.joint_positions()[:6], goal, atol=1e-3)
    with pytest.raises(ValueError, match="gripper position"):
        box_cell.command_gripper(math.nan)


def test_empty_trajectory_stops_the_physical_arm(box_cell):
    home = np.array(box_cell.config.home_joint_positions)
    box_cell.set_arm_positions(home)
    target = home + np.array([-1.5, 0.5, -1.0, 1.0, 1.0, 1.0])
    box_cell.command_trajectory(ARM_JOINTS, [2.0], [target.tolist()])
    box_cell.step(0.8)
    assert np.max(np.abs(box_cell.joint_velocities()[:6])) > 0.3
    box_cell.command_trajectory(ARM_JOINTS, [], [])
    box_cell.step(math.pi / box_cell.config.max_acceleration_rad_s2 + 0.1)
    assert not box_cell.arm_executing
    assert np.max(np.abs(box_cell.joint_velocities()[:6])) < 0.01
    stopped = box_cell.joint_positions()[:6]
    box_cell.step(0.5)
    np.testing.assert_allclose(box_cell.joint_positions()[:6], stopped, atol=1e-3)


@pytest.mark.parametrize("shape", [Shape.BOX, Shape.CYLINDER])
def test_scripted_top_down_pick_lifts_the_object(shape):
    cell = SimCell(SimConfig(seed=_first_seed(shape)))
    target = cell.objects[0]
    assert not cell.lifted(target.name)
    pick(cell, target)
    assert cell.lifted(target.name, min_rise_m=0.05), cell.object_height_gain_m(target.name)
    assert 0.05 < cell.joint_positions()[6] < GRIPPER_CLOSED_RAD - 0.05, "holding, not closed"
    cell.close()
