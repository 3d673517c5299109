"""Perception core: per-camera clouds and multi-camera fusion on analytic RGB-D."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from a2_grasping.core.perception import (
    CameraFrame,
    PerceptionError,
    collision_cloud,
    frame_cloud,
    fuse_frames,
    remove_statistical_outliers,
)
from a2_grasping.core.perception_config import CameraConfig, PerceptionConfig, pose_from_xyz_quat
from a2_grasping.core.scene import CameraView
from a2_grasping.testing.synthetic_rgbd import Box, look_at, pinhole, render

BOX = Box((0.5, 0.05), (0.06, 0.08, 0.10), yaw_rad=0.3, color_rgb=(220, 20, 20))
CONFIG = PerceptionConfig(camera_names=("left", "right"), voxel_size_m=0.003)


def _view(name: str, eye: tuple[float, float, float]) -> CameraView:
    pose, k = look_at(eye, (0.5, 0.0, 0.05)), pinhole(640, 480, 69.0)
    rgb, depth = render((BOX,), pose, k, (480, 640))
    return CameraView(rgb, depth, k, pose, name=name)


LEFT = _view("left", (0.95, 0.55, 0.5))
RIGHT = _view("right", (0.15, -0.5, 0.5))  # the opposite side of the box


def _box_frame_points(points: np.ndarray) -> np.ndarray:
    """Points in the box's own axes, origin at its centre."""
    c, s = np.cos(BOX.yaw_rad), np.sin(BOX.yaw_rad)
    to_box = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])
    centre = np.array([*BOX.center_xy_m, BOX.size_m[2] / 2])
    return (points - centre) @ to_box.T


def _on_box(points: np.ndarray) -> np.ndarray:
    local = _box_frame_points(points)
    return np.all(np.abs(local) <= np.asarray(BOX.size_m) / 2 + 0.002, axis=1) & (
        points[:, 2] > 0.002
    )


def test_frame_cloud_is_cropped_downsampled_and_coloured():
    cloud = frame_cloud(LEFT, CONFIG)
    box = np.asarray(CONFIG.workspace_box_m)
    assert len(cloud.points_xyz) > 1000
    assert np.all(cloud.points_xyz >= box[0::2] - 1e-6) and np.all(cloud.points_xyz <= box[1::2])
    cells = np.floor(cloud.points_xyz / CONFIG.voxel_size_m).astype(np.int64)
    assert len(np.unique(cells, axis=0)) == len(cells)  # one point per voxel
    on_box = _on_box(cloud.points_xyz)
    assert on_box.sum() > 100
    np.testing.assert_array_equal(cloud.colors_rgb[on_box][0], BOX.color_rgb)


def test_the_collision_cloud_sees_beyond_the_grasp_workspace():
    tall = Box((0.5, -0.25), (0.1, 0.1, 0.6), yaw_rad=0.0, color_rgb=(90, 90, 90))
    pose, k = look_at((1.3, 0.3, 0.8), (0.5, 0.0, 0.2)), pinhole(640, 480, 69.0)
    _, depth = render((tall,), pose, k, (480, 640))
    view = CameraView(np.zeros((480, 640, 3), np.uint8), depth, k, pose, name="side")
    box_m = (-0.6, 1.2, -1.0, 1.0, -0.05, 1.4)
    points = collision_cloud([view, view], box_m, 0.01)
    assert np.all(points >= np.asarray(box_m[0::2]) - 1e-6)
    assert np.all(points <= np.asarray(box_m[1::2]) + 1e-6)
    cells = np.floor(points / 0.01).astype(np.int64)
    assert len(np.unique(cells, axis=0)) == len(cells)  # one point per voxel, views merged
    ceiling = CONFIG.workspace_box_m[5]
    on_post_above_workspace = (np.abs(points[:, :2] - (0.5, -0.25)).max(axis=1) < 0.06) & (
        points[:, 2] > ceiling + 0.05
    )
    assert on_post_above_workspace.sum() > 100  # the scene cloud stops at the ceiling
    assert points[:, 2].max() == pytest.approx(0.6, abs=0.01)
    assert len(collision_cloud([], box_m, 0.01)) == 0


def test_two_cameras_from_opposite_sides_fuse_the_box_within_5_mm():
    frames = {"left": CameraFrame(LEFT, 10.00), "right": CameraFrame(RIGHT, 10.03)}
    scene = fuse_frames(frames, CONFIG)
    assert scene.stamp_s == 10.00  # the oldest contributing frame
    assert [view.name for view in scene.views] == ["left", "right"]
    box_points = scene.points_xyz[_on_box(scene.points_xyz)]
    local = _box_frame_points(box_points.astype(np.float64))
    half = np.asarray(BOX.size_m) / 2
    # Every box point lies on the true surface (distance to the nearest face) within 5 mm ...
    distance_to_surface = np.min(half - np.abs(local), axis=1)
    assert np.max(np.abs(distance_to_surface)) < 0.005
    # ... and together the cameras see all four side faces; each camera alone sees two.
    assert _side_faces_seen(local) == 4
    for name in ("left", "right"):
        single = frame_cloud(frames[name].view, CONFIG).points_xyz
        assert _side_faces_seen(_box_frame_points(single[_on_box(single)].astype(np.float64))) == 2


def _side_faces_seen(local: np.ndarray, min_points: int = 20) -> int:
    """How many of the box's four vertical faces carry at least `min_points` points."""
    half = np.asarray(BOX.size_m) / 2
    side = local[local[:, 2] < half[2] - 0.005]
    faces = [
        (np.abs(side[:, axis] - sign * half[axis]) < 0.002)
        & (np.abs(side[:, 1 - axis]) < half[1 - axis] - 0.005)  # inside the face, off its edges
        for axis in (0, 1)
        for sign in (-1, 1)
    ]
    return sum(int(face.sum() >= min_points) for face in faces)


def test_fusion_does_not_double_the_density_of_surfaces_seen_twice():
    same_side = _view("right", (0.95, 0.5, 0.55))
    scene = fuse_frames(
        {"left": CameraFrame(LEFT, 1.0), "right": CameraFrame(same_side, 1.0)}, CONFIG
    )
    cells = np.floor(scene.points_xyz / CONFIG.voxel_size_m).astype(np.int64)
    assert len(np.unique(cells, axis=0)) == len(cells)


def test_missing_and_out_of_sync_cameras_are_refused():
    with pytest.raises(PerceptionError, match=r"cameras \['right'\]"):
        fuse_frames({"left": CameraFrame(LEFT, 1.0)}, CONFIG)
    with pytest.raises(PerceptionError, match="cross_camera_slop_s"):
        fuse_frames({"left": CameraFrame(LEFT, 1.0), "right": CameraFrame(RIGHT, 1.5)}, CONFIG)


def test_depth_range_limits_are_applied():
    near_only = dataclasses.replace(CONFIG, max_depth_m=0.5)
    assert len(frame_cloud(LEFT, near_only).points_xyz) == 0


def test_statistical_outlier_removal_drops_isolated_points():
    rng = np.random.default_rng(0)
    surface = np.c_[rng.uniform(0, 0.1, (2000, 2)), np.zeros(2000)]
    flying = np.array([[0.05, 0.05, 0.2], [0.3, 0.3, 0.3]])
    inliers = remove_statistical_outliers(np.r_[surface, flying], neighbors=8, std_ratio=2.0)
    assert not inliers[-2:].any()
    assert inliers[:-2].mean() > 0.97
    assert remove_statistical_outliers(flying, neighbors=0, std_ratio=2.0).all()


def test_camera_config_requires_valid_static_extrinsics():
    with pytest.raises(ValueError, match="base_from_optical must be"):
        CameraConfig()
    with pytest.raises(ValueError, match="unit length"):
        CameraConfig(base_from_optical=(0, 0, 0, 0, 0, 0, 2.0))
    with pytest.raises(ValueError, match="extrinsics_source"):
        CameraConfig(extrinsics_source="guess", base_from_optical=(0, 0, 0, 0, 0, 0, 1.0))
    CameraConfig(extrinsics_source="tf")  # no static pose needed
    camera = CameraConfig(base_from_optical=(1, 2, 3, 0, 0, 0, 1.0))
    assert camera.topics("cam") == (  # relative: resolved in the node's namespace
        "cam/color/image_raw",
        "cam/aligned_depth_to_color/image_raw",
        "cam/color/camera_info",
    )
    np.testing.assert_allclose(pose_from_xyz_quat((1, 2, 3, 0, 0, 0, 1.0), "p")[:3, 3], (1, 2, 3))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("camera_names", (), "at least one camera"),
        ("camera_names", ("a", "a"), "unique"),
        ("workspace_box_m", (0, 1, 0, 1, 1, 0), "min < max"),
        ("workspace_box_m", (0, 1), "6 finite"),
        ("min_depth_m", 5.0, "below max_depth_m"),
        ("voxel_size_m", 0.0, "voxel_size_m"),
        ("image_reliability", "sometimes", "image_reliability"),
    ],
)
def test_perception_config_validation_names_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(CONFIG, **{field: value})


def test_a_stray_depth_reading_casts_no_obstacle_or_shadow():
    """One flying pixel 20 cm in front of the table: with collision_min_neighbours 2 it is
    dropped with its shadow, while the table (a dense surface) stays; without, it stays."""
    rgb, depth = render((), LEFT.base_from_camera, LEFT.intrinsics, (480, 640))
    depth = depth.copy()
    depth[240, 320] -= 0.2  # one pixel reads 20 cm nearer than the table behind it
    view = CameraView(rgb, depth, LEFT.intrinsics, LEFT.base_from_camera, name="left")
    box = (0.0, 1.2, -0.6, 0.6, -0.05, 1.0)
    kept = collision_cloud([view], box, 0.01, occlusion_depth_m=0.15, min_neighbours=0)
    cleaned = collision_cloud([view], box, 0.01, occlusion_depth_m=0.15, min_neighbours=2)
    stray_point = (
        view.base_from_camera[:3, :3]
        @ (depth[240, 320] * np.linalg.inv(LEFT.intrinsics) @ np.array([320.0, 240.0, 1.0]))
        + view.base_from_camera[:3, 3]
    )

    def near_stray(points: np.ndarray) -> int:
        return int(np.sum(np.linalg.norm(points - stray_point, axis=1) < 0.02))

    assert near_stray(kept) >= 1 and near_stray(cleaned) == 0
    on_table = np.abs(cleaned[:, 2]) < 0.01
    assert on_table.sum() > 0.9 * (np.abs(kept[:, 2]) < 0.01).sum()
