"""Occlusion shadows: the unseen space behind observed obstacles becomes obstacle points."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from a2_grasping.core.occlusion import seen_free
from a2_grasping.core.perception import collision_cloud
from a2_grasping.core.scene import CameraView
from a2_grasping.testing.synthetic_rgbd import Box, look_at, pinhole, render

# A 10 cm thick wall, like the e2e test's; the front camera never sees its back (-x) face.
WALL = Box((0.42, 0.0), (0.10, 0.10, 0.30), yaw_rad=0.0, color_rgb=(90, 90, 90))
COLLISION_BOX_M = (-0.6, 1.2, -1.0, 1.0, -0.05, 1.4)
VOXEL_M = 0.01


def _view(name: str, eye: tuple[float, float, float]) -> CameraView:
    pose, k = look_at(eye, (0.42, 0.0, 0.1)), pinhole(320, 240, 69.0)
    _, depth = render((WALL,), pose, k, (240, 320))
    return CameraView(np.zeros((240, 320, 3), np.uint8), depth, k, pose, name=name)


FRONT = _view("front", (0.89, 0.39, 0.6))  # where the simulated cell's cameras are
BACK = _view("back", (-0.1, -0.3, 0.6))


def _wall_interior() -> np.ndarray:
    """Voxel centres of the wall's volume."""
    half = np.asarray(WALL.size_m) / 2
    center = np.array([*WALL.center_xy_m, half[2]])
    axes = [
        np.arange(c - h + VOXEL_M / 2, c + h, VOXEL_M) for c, h in zip(center, half, strict=True)
    ]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)


def _covered(points: np.ndarray, probes: np.ndarray) -> np.ndarray:
    distances, _ = cKDTree(points).query(probes)
    return distances <= 1.5 * VOXEL_M


def _cloud(views: list[CameraView], depth_m: float, **kwargs) -> np.ndarray:
    return collision_cloud(
        views, COLLISION_BOX_M, VOXEL_M, occlusion_depth_m=depth_m, floor_z_m=0.0, **kwargs
    )


def test_the_unseen_back_of_a_wall_becomes_an_obstacle():
    interior = _wall_interior()
    back_half = interior[:, 0] < WALL.center_xy_m[0]
    seen_only = _covered(_cloud([FRONT], 0.0), interior)
    shadowed = _covered(_cloud([FRONT], 0.15), interior)
    assert seen_only[back_half].mean() < 0.3  # only the top face reaches the back half
    assert shadowed[back_half].mean() > 0.98
    assert shadowed.mean() > 0.98


def test_shadows_stay_within_their_depth_above_the_floor_and_in_one_point_per_voxel():
    observed = _cloud([FRONT], 0.0)
    points = _cloud([FRONT], 0.10)
    distances, _ = cKDTree(observed).query(points)
    assert distances.max() <= 0.10 + VOXEL_M
    assert points[:, 2].min() >= -VOXEL_M  # table points: their shadows lie under the table top
    assert len(points) > len(observed)
    cells = np.floor(points / VOXEL_M).astype(np.int64)
    assert len(np.unique(cells, axis=0)) == len(cells)


def test_space_another_camera_sees_as_free_is_carved_away():
    grown = np.asarray(WALL.size_m) / 2 + 2 * VOXEL_M
    center = np.array([*WALL.center_xy_m, WALL.size_m[2] / 2])

    def beside_the_wall(points: np.ndarray) -> int:
        above_table = points[:, 2] > VOXEL_M
        outside = np.any(np.abs(points - center) > grown, axis=1)
        return int((above_table & outside).sum())

    front_only = _cloud([FRONT], 0.3)
    both = _cloud([FRONT, BACK], 0.3)
    assert beside_the_wall(front_only) > 1000  # 30 cm shadows reach far behind the wall
    assert beside_the_wall(both) < 0.02 * beside_the_wall(front_only)  # the back camera sees there
    assert _covered(both, _wall_interior()).mean() > 0.98  # the wall itself stays


def test_points_the_robot_mask_removes_cast_no_shadow():
    grown = np.asarray(WALL.size_m) / 2 + VOXEL_M
    center = np.array([*WALL.center_xy_m, WALL.size_m[2] / 2])

    def the_wall_is_the_robot(points: np.ndarray) -> np.ndarray:
        return np.all(np.abs(points - center) <= grown, axis=1)

    points = _cloud([FRONT], 0.15, robot_mask=the_wall_is_the_robot)
    # The wall's shadow would reach up to 15 cm beyond it; masked first, there is none.
    assert len(points) > 0 and points[:, 2].max() <= VOXEL_M


def test_no_shadow_falls_inside_the_robot():
    """An obstacle just outside the robot mask (a stray reading in front of the arm) shadows
    into the space behind it; where that space is the robot's, the shadow is dropped: the arm at
    its current joints must not collide with unseen space it fills itself."""
    center = np.array([*WALL.center_xy_m, WALL.size_m[2] / 2])

    def the_back_half_is_the_robot(points: np.ndarray) -> np.ndarray:
        in_back_half = points[:, 0] < center[0] - 0.01
        return in_back_half & np.all(np.abs(points[:, 1:] - center[1:]) <= [0.06, 0.16], axis=1)

    interior = _wall_interior()
    back = interior[interior[:, 0] < center[0] - 0.02]
    points = _cloud([FRONT], 0.15, robot_mask=the_back_half_is_the_robot)
    assert not the_back_half_is_the_robot(points).any()
    assert _covered(points, back).mean() < 0.3  # without the fix: > 0.98 (shadowed)
    front = interior[interior[:, 0] > center[0] + 0.01]
    assert _covered(points, front).mean() > 0.98  # the part in front stays an obstacle


def test_seen_free_is_the_space_in_front_of_the_measured_depth():
    origin = FRONT.base_from_camera[:3, 3]
    on_face = np.array([WALL.center_xy_m[0] + WALL.size_m[0] / 2, 0.0, 0.15])
    ray = (on_face - origin) / np.linalg.norm(on_face - origin)
    probes = np.stack(
        [
            on_face - 0.05 * ray,  # in front of the face: free
            on_face + 0.05 * ray,  # inside the wall: not
            origin - 0.2 * ray,  # behind the camera: not in view
            np.array([0.4, 5.0, 0.1]),  # outside the image
        ]
    )
    np.testing.assert_array_equal(
        seen_free(probes, FRONT, tolerance_m=VOXEL_M), [True, False, False, False]
    )
