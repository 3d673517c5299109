"""The analytic renderer and deprojection agree with each other and with the geometry."""

import numpy as np

from a2_grasping.core.geometry import deproject
from a2_grasping.testing.synthetic_rgbd import (
    TABLE_RGB,
    Box,
    look_at,
    pinhole,
    render,
    tabletop_scene,
)


def test_top_down_camera_sees_table_and_box_top_at_the_right_depth():
    pose = look_at((0.5, 0.0, 0.8), (0.5, 0.0, 0.0))
    k = pinhole(64, 48, 60.0)
    rgb, depth = render((Box((0.5, 0.0), (0.1, 0.1, 0.2)),), pose, k, (48, 64))
    # Depth is along the optical axis, so the whole table plane is at 0.8 m for this camera.
    np.testing.assert_allclose(depth[0, 0], 0.8, atol=1e-6)
    np.testing.assert_allclose(depth[24, 32], 0.6, atol=1e-6)  # box top at z = 0.2
    assert tuple(rgb[24, 32]) == (200, 30, 30) and tuple(rgb[0, 0]) == TABLE_RGB
    points, pixels = deproject(depth, k, pose)
    assert len(points) == 48 * 64 and pixels[0] == 0
    top = points[rgb.reshape(-1, 3)[:, 0] == 200]
    np.testing.assert_allclose(top[:, 2], 0.2, atol=1e-6)
    np.testing.assert_allclose(points[rgb.reshape(-1, 3)[:, 1] == 120][:, 2], 0.0, atol=1e-6)


def test_two_cameras_fuse_one_box():
    k = pinhole(160, 120, 70.0)
    cameras = {
        "front": (look_at((1.0, 0.0, 0.5), (0.5, 0.0, 0.0)), k, (120, 160)),
        "left": (look_at((0.5, 0.5, 0.5), (0.5, 0.0, 0.0)), k, (120, 160)),
    }
    scene = tabletop_scene((Box((0.5, 0.0), (0.06, 0.04, 0.05), yaw_rad=0.3),), cameras)
    assert [view.name for view in scene.views] == ["front", "left"]
    above = scene.points_xyz[scene.points_xyz[:, 2] > 0.001]
    assert np.all(above[:, 2] <= 0.05 + 1e-5)
    np.testing.assert_allclose(above[:, :2].mean(axis=0), (0.5, 0.0), atol=0.01)
