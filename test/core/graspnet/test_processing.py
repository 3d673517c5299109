"""Decoding, the mirror trick, TCP conversion (spec §2.2-2.6), candidate filters (§2.4-2.5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from a2_grasping.core.graspnet.filters import (
    _gripper_volume_voxels,
    below_table_mask,
    cluster_objects,
    collision_mask,
    object_filter_mask,
)
from a2_grasping.core.graspnet.model import GraspNetOutput, grasp_views, viewpoint_to_matrix
from a2_grasping.core.graspnet.processing import (
    BaseFrameGrasps,
    DecodedGrasps,
    decode_predictions,
    sample_network_input,
    tcp_poses_from_grasps,
    unmirror,
    voxel_downsample_open3d,
)


def _output(seeds: int = 3, depths: int = 4) -> GraspNetOutput:
    """A hand-made network output; tests overwrite the entries they check."""
    zeros = torch.zeros(1, 12, seeds, depths)
    view_xyz = grasp_views()[:seeds][None]
    return GraspNetOutput(
        objectness_score=torch.tensor([[[0.0] * seeds, [1.0] * seeds]]),
        view_score=torch.zeros(1, seeds, 300),
        grasp_score_pred=zeros.clone(),
        grasp_angle_cls_pred=zeros.clone(),
        grasp_width_pred=zeros.clone(),
        grasp_tolerance_pred=zeros.clone(),
        fp2_xyz=torch.arange(seeds * 3.0).reshape(1, seeds, 3),
        fp2_inds=torch.arange(seeds)[None],
        grasp_top_view_xyz=view_xyz,
        grasp_top_view_rot=viewpoint_to_matrix(-view_xyz, torch.zeros(1, seeds)),
    )


def test_decode_picks_angle_per_depth_then_depth_by_score_and_filters_objectness():
    out = _output()
    out.objectness_score[0, :, 1] = torch.tensor([2.0, 0.0])  # seed 1: background
    # seed 0: angle class 5 wins at depth 2, angle 3 at the other depths
    out.grasp_angle_cls_pred[0, 3, 0] = 1.0
    out.grasp_angle_cls_pred[0, 3, 0, 2] = 0.0
    out.grasp_angle_cls_pred[0, 5, 0, 2] = 1.0
    out.grasp_score_pred[0, 5, 0, 2] = 0.8  # best score: depth class 2
    out.grasp_score_pred[0, 3, 0, 0] = 0.7
    out.grasp_tolerance_pred[0, 5, 0, 2] = 0.025
    out.grasp_width_pred[0, 5, 0, 2] = 0.05
    out.grasp_width_pred[0, :, 2] = 1.0  # seed 2: clamped at 0.1 m
    decoded = decode_predictions(out, width_factor=1.2)
    assert decoded.seed_index.tolist() == [0, 2]
    assert decoded.depth_m[0] == pytest.approx(0.03)
    assert decoded.score[0] == pytest.approx(0.8 * 0.025 / 0.05)
    assert decoded.width_m[0] == pytest.approx(0.06)
    assert decoded.width_m[1] == pytest.approx(0.1)
    expected = viewpoint_to_matrix(-grasp_views()[0], torch.tensor(5 * math.pi / 12))
    np.testing.assert_allclose(decoded.rotation[0], expected.double().numpy(), atol=1e-6)
    np.testing.assert_allclose(decoded.centre_m[1], [6.0, 7.0, 8.0])
    assert decode_predictions(out, width_factor=10.0).width_m[0] == pytest.approx(0.1)


def _mirrored_top_down(depth_m: float = 0.02, width_m: float = 0.05) -> DecodedGrasps:
    """A network-frame grasp whose real approach is world -z, closing along world y."""
    rotation = viewpoint_to_matrix(torch.tensor([0.0, 0.0, 1.0]), torch.tensor(0.0))
    return DecodedGrasps(
        score=np.array([0.5]),
        width_m=np.array([width_m]),
        depth_m=np.array([depth_m]),
        rotation=rotation.double().numpy()[None],
        centre_m=np.array([[-0.5, 0.1, -0.05]]),  # real centre (0.5, -0.1, 0.05)
        seed_index=np.array([0]),
    )


def test_mirror_and_tcp_conversion_follow_spec_2_6():
    grasps = unmirror(_mirrored_top_down())
    assert np.linalg.det(grasps.axes[0]) == pytest.approx(-1.0)  # upstream's left-handed triple
    np.testing.assert_allclose(grasps.approach[0], [0.0, 0.0, -1.0], atol=1e-7)
    pose = tcp_poses_from_grasps(grasps, refine_m=0.01)[0]
    a, b, c = grasps.axes[0].T
    np.testing.assert_allclose(pose[:3, :3], np.column_stack([-c, -b, a]), atol=1e-12)
    assert np.linalg.det(pose[:3, :3]) == pytest.approx(1.0)
    # p = t + a (depth + refine): 3 cm below the centre
    np.testing.assert_allclose(pose[:3, 3], [0.5, -0.1, 0.02], atol=1e-12)
    # spec example: vertical top-down grasp closing along world y -> diag(-1, 1, -1), [0, 1, 0, 0]
    np.testing.assert_allclose(pose[:3, :3], np.diag([-1.0, 1.0, -1.0]), atol=1e-7)
    quaternion = Rotation.from_matrix(pose[:3, :3]).as_quat()
    np.testing.assert_allclose(quaternion, [0, 1, 0, 0], atol=1e-7)


def test_tcp_conversion_keeps_proper_triples_proper():
    grasps = unmirror(_mirrored_top_down())
    proper = BaseFrameGrasps(
        grasps.score,
        grasps.width_m,
        grasps.depth_m,
        -grasps.axes,
        grasps.centre_m,
        grasps.seed_index,
    )
    pose = tcp_poses_from_grasps(proper, refine_m=0.0)[0]
    a, b, c = proper.axes[0].T
    np.testing.assert_allclose(pose[:3, :3], np.column_stack([c, -b, a]), atol=1e-12)


def _grasp(width_m: float = 0.05, depth_m: float = 0.02) -> BaseFrameGrasps:
    """Grasp at the origin with axes = identity (a = +x, b = +y, c = +z)."""
    return BaseFrameGrasps(
        score=np.array([1.0]),
        width_m=np.array([width_m]),
        depth_m=np.array([depth_m]),
        axes=np.eye(3)[None],
        centre_m=np.zeros((1, 3)),
        seed_index=np.array([0]),
    )


@pytest.mark.parametrize(
    ("point", "collides"),
    [
        ((0.0, 0.0, 0.0), False),  # between the fingers: the object
        ((0.0, 0.03, 0.0), True),  # right finger (y in (w/2, w/2 + 0.01))
        ((-0.03, -0.03, 0.0), True),  # left finger, further back
        ((-0.045, 0.0, 0.0), True),  # bottom: x in (depth - 0.07, depth - 0.06]
        ((-0.09, 0.0, 0.0), True),  # shifting region behind the palm
        ((-0.15, 0.0, 0.0), False),  # behind the shifting region
        ((0.0, 0.03, 0.02), False),  # above the gripper height (|z| < 0.01)
        ((0.03, 0.03, 0.0), False),  # past the fingertips
    ],
)
def test_collision_boxes(point, collides):
    mask = collision_mask(
        _grasp(), np.array([point]), voxel_m=0.01, approach_dist_m=0.05, threshold=0.001
    )
    assert bool(mask[0]) is collides


def test_collision_volume_and_refine_shift():
    assert _gripper_volume_voxels(np.array([0.1]), 0.05, 0.01)[0] == pytest.approx(168.0)
    tip_point = np.array([[0.025, 0.03, 0.0]])  # just past the fingertips, in line with a finger
    common = {"voxel_m": 0.01, "approach_dist_m": 0.05, "threshold": 0.001}
    assert not collision_mask(_grasp(), tip_point, **common)[0]
    assert collision_mask(_grasp(), tip_point, centre_shift_m=0.01, **common)[0]


def test_below_table_uses_the_lowest_box_corner():
    grasps = unmirror(_mirrored_top_down(depth_m=0.02))  # centre z 0.05, approach down
    # fingertips at 0.05 - 0.02 = 0.03 (refine +1 cm: 0.02)
    assert not below_table_mask(grasps, 0.025, 0.05, 0.0)[0]
    assert below_table_mask(grasps, 0.025, 0.05, 0.01)[0]


def test_voxel_downsample_uses_open3d_grid_and_means():
    points = np.array([[0.0, 0.0, 0.0], [0.004, 0.0, 0.0], [0.006, 0.0, 0.0], [0.0, 0.02, 0.0]])
    # grid origin = min - 5 mm: x cells [-5, 5) mm and [5, 15) mm
    result = voxel_downsample_open3d(points, 0.01)
    np.testing.assert_allclose(
        sorted(map(tuple, result)), [(0.0, 0.02, 0.0), (0.002, 0.0, 0.0), (0.006, 0.0, 0.0)]
    )


def test_network_input_sampling():
    rng = np.random.default_rng(0)
    points = rng.random((50, 3))
    many = sample_network_input(points, 20, rng)
    assert len(np.unique(many, axis=0)) == 20
    few = sample_network_input(points, 80, rng)
    np.testing.assert_array_equal(few[:50], points)  # all points, then random repeats
    assert len(few) == 80


def _two_objects() -> np.ndarray:
    rng = np.random.default_rng(1)
    box = rng.random((400, 3)) * [0.04, 0.04, 0.08] + [0.48, -0.02, 0.0]
    puck = rng.random((200, 3)) * [0.04, 0.04, 0.02] + [0.58, 0.18, 0.0]
    noise = np.array([[0.3, 0.3, 0.05]])
    return np.vstack([box, puck, noise])


def test_cluster_objects_drops_small_components():
    labels, lower, upper = cluster_objects(_two_objects(), 0.01, 10)
    assert len(lower) == 2 and labels[-1] == -1
    assert upper[0, 2] == pytest.approx(0.08, abs=0.002)


def test_object_filter_assigns_within_5_cm_and_prefers_top_down():
    objects = _two_objects()
    # box centre ~ (0.5, 0, 0.04); puck centre ~ (0.6, 0.2, 0.01)
    tcp = np.array(
        [
            [0.5, 0.0, 0.06],  # box, top-down
            [0.5, 0.0, 0.05],  # box, side approach: dropped (a top-down one exists)
            [0.6, 0.2, 0.02],  # puck, side approach: kept (no top-down one for the puck)
            [0.2, -0.2, 0.02],  # nowhere near an object: dropped
        ]
    )
    down = np.array([0.0, 0.0, -1.0])
    side = np.array([1.0, 0.0, 0.0])
    approach = np.array([down, side, side, down])
    keep = object_filter_mask(
        tcp,
        approach,
        objects,
        0.0,
        cell_m=0.01,
        min_cluster_points=10,
        assign_radius_m=0.05,
        top_down_cone_deg=15.0,
    )
    assert keep.tolist() == [True, False, True, False]
    tilted = np.array([math.sin(math.radians(20)), 0.0, -math.cos(math.radians(20))])
    keep = object_filter_mask(
        tcp[:2],
        np.array([tilted, side]),
        objects,
        0.0,
        cell_m=0.01,
        min_cluster_points=10,
        assign_radius_m=0.05,
        top_down_cone_deg=15.0,
    )
    assert keep.tolist() == [True, True]  # 20 deg is outside the cone: no preference
