import numpy as np
import pytest

from a2_grasping.core.geometry import (
    check_rigid_transform,
    crop_to_box,
    deproject,
    transform_points,
    voxel_downsample,
)


def _pose(yaw_rad: float, translation) -> np.ndarray:
    c, s = np.cos(yaw_rad), np.sin(yaw_rad)
    pose = np.eye(4)
    pose[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    pose[:3, 3] = translation
    return pose


def test_transform_points_matches_homogeneous_product():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(50, 3))
    pose = _pose(0.7, [0.1, -0.2, 0.3])
    homogeneous = np.c_[points, np.ones(50)] @ pose.T
    np.testing.assert_allclose(transform_points(pose, points), homogeneous[:, :3])


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda t: t[:3], r"\(4, 4\)"),
        (lambda t: np.where(np.eye(4, dtype=bool), np.nan, t), "NaN"),
        (lambda t: t * np.diag([2.0, 1, 1, 1]), "orthonormal"),
        (lambda t: t @ np.diag([-1.0, 1, 1, 1]), "reflection"),
        (lambda t: t + np.r_[np.zeros((3, 4)), [[0, 0, 1, 0]]], "last row"),
    ],
)
def test_rigid_transform_check_names_the_defect(mutate, fragment):
    check_rigid_transform(_pose(0.3, [1, 2, 3]), "ok")
    with pytest.raises(ValueError, match=fragment):
        check_rigid_transform(mutate(_pose(0.3, [1, 2, 3])), "base_from_camera")


def test_crop_is_inclusive_per_axis():
    points = np.array([[0.0, 0.0, 0.0], [1.0, 0.5, 0.2], [1.01, 0.5, 0.2], [0.5, 0.5, -0.1]])
    mask = crop_to_box(points, np.array([0.0, 1.0, 0.0, 1.0, 0.0, 0.5]))
    assert mask.tolist() == [True, True, False, False]


def test_voxel_downsample_keeps_one_real_point_per_voxel():
    points = np.array(
        [
            [0.001, 0.001, 0.001],
            [0.004, 0.004, 0.004],  # same 1 cm voxel as the first and third; nearest its centre
            [0.009, 0.009, 0.009],
            [0.015, 0.0, 0.0],  # next voxel along x
        ]
    )
    kept = voxel_downsample(points, 0.01)
    assert kept.tolist() == [1, 3]  # the point nearest the centre (0.005) and the loner
    assert voxel_downsample(np.zeros((0, 3)), 0.01).shape == (0,)
    with pytest.raises(ValueError, match="voxel_m"):
        voxel_downsample(points, 0.0)


def test_deproject_with_a_box_equals_deproject_then_crop():
    from a2_grasping.testing.synthetic_rgbd import Box, look_at, pinhole, render

    pose, k = look_at((0.9, 0.4, 0.6), (0.5, 0.0, 0.0)), pinhole(160, 120, 60.0)
    _, depth = render((Box((0.5, 0.0), (0.05, 0.05, 0.08)),), pose, k, (120, 160))
    box = np.array([0.3, 0.7, -0.2, 0.2, 0.005, 0.3])
    points, pixels = deproject(depth, k, pose, min_depth_m=0.1, max_depth_m=2.0)
    inside = crop_to_box(points, box)
    cropped, cropped_pixels = deproject(depth, k, pose, min_depth_m=0.1, max_depth_m=2.0, box_m=box)
    assert 0 < len(cropped) < len(points)
    np.testing.assert_array_equal(cropped_pixels, pixels[inside])
    np.testing.assert_allclose(cropped, points[inside], atol=1e-6)
