"""GraspNetGenerator end to end on a synthetic tabletop, in the antipodal generator's pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from a2_grasping.core.candidates.antipodal import AntipodalGenerator
from a2_grasping.core.candidates.base import CandidateGenerator
from a2_grasping.core.graspnet import GraspNetArchitecture, GraspNetConfig, GraspNetGenerator
from a2_grasping.core.graspnet.filters import collision_mask
from a2_grasping.core.graspnet.processing import BaseFrameGrasps, voxel_downsample_open3d
from a2_grasping.core.inference_config import InferenceConfig
from a2_grasping.core.policy.checkpoints import CheckpointError
from a2_grasping.core.scene import Scene
from a2_grasping.core.selection.candidates import make_candidate_generator
from a2_grasping.core.selection.common import SelectionConfig
from a2_grasping.core.selection.grasp import GraspSelector, SelectionMode
from a2_grasping.core.selection.request import SelectRequest
from a2_grasping.testing.random_graspnet import random_graspnet, three_object_scene

# Reduced sampling (same weights layout): 4000 input points, 256 seeds.
ARCH = GraspNetArchitecture(sa_npoint=(512, 256, 128, 64))
CONFIG = GraspNetConfig(num_points=4000)


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(2)
    return random_graspnet(0, ARCH)


@pytest.fixture(scope="module")
def objects_only() -> np.ndarray:
    cloud = three_object_scene(1)
    return cloud[cloud[:, 2] > 0.003]  # what GraspSelector passes: points above the table


def test_generator_returns_collision_free_grasps_in_the_base_frame(model, objects_only):
    generator = GraspNetGenerator(model, CONFIG)
    assert isinstance(generator, CandidateGenerator)
    candidates = generator.generate(objects_only, 0.0, np.random.default_rng(0))
    assert len(candidates) > 0
    poses = candidates.tcp_poses
    # best first, proper rotations (GraspCandidates checks), widths within the 2F-85 stroke
    assert np.all(np.diff(candidates.quality) <= 0.0)
    assert np.all((candidates.width_m >= 0.0) & (candidates.width_m <= 0.085))
    assert np.all(candidates.approach_depth_m >= 0.02 - 1e-9)
    assert len(set(candidates.candidate_id.tolist())) == len(candidates)
    # In the base frame: TCPs near the objects, above the table, approaching from above
    lower, upper = objects_only.min(axis=0), objects_only.max(axis=0)
    assert np.all(poses[:, :3, 3] > lower - 0.05) and np.all(poses[:, :3, 3] < upper + 0.05)
    assert np.all(poses[:, 2, 3] > 0.0)
    # Collision-free: rebuild upstream's grasp frame from the TCP pose and check both centres
    approach, closing = poses[:, :3, 2], poses[:, :3, 1]
    depth = candidates.approach_depth_m - CONFIG.refine_approach_m
    centre = poses[:, :3, 3] - approach * candidates.approach_depth_m[:, None]
    axes = np.stack([approach, -closing, -poses[:, :3, 0]], axis=2)  # (a, b, c)
    grasps = BaseFrameGrasps(
        candidates.quality, candidates.width_m, depth, axes, centre, candidates.candidate_id
    )
    scene = voxel_downsample_open3d(objects_only, CONFIG.collision_voxel_m)
    for shift in (0.0, CONFIG.refine_approach_m):
        assert not collision_mask(
            grasps, scene, voxel_m=0.01, approach_dist_m=0.05, threshold=0.001, centre_shift_m=shift
        ).any()


def test_generator_is_seeded_and_handles_degenerate_clouds(model, objects_only):
    generator = GraspNetGenerator(model, CONFIG)
    first = generator.generate(objects_only, 0.0, np.random.default_rng(5))
    again = generator.generate(objects_only, 0.0, np.random.default_rng(5))
    np.testing.assert_array_equal(first.tcp_poses, again.tcp_poses)
    assert len(generator.generate(np.zeros((0, 3)), 0.0, np.random.default_rng(0))) == 0
    assert len(generator.generate(objects_only[:10], 0.0, np.random.default_rng(0))) == 0
    with pytest.raises(ValueError, match="NaN"):
        generator.generate(np.full((5, 3), np.nan), 0.0, np.random.default_rng(0))


def test_graspnet_and_antipodal_plug_into_the_same_selector(model):
    cloud = three_object_scene(2, points_per_object=1500)
    scene = Scene(
        frame_id="base_link",
        stamp_s=1.0,
        points_xyz=cloud.astype(np.float32),
        colors_rgb=np.full(cloud.shape, 128, dtype=np.uint8),
        workspace_box_m=np.array([-0.3, 0.3, -0.3, 0.3, -0.01, 0.4]),
        views=(),
    )
    request = SelectRequest("grasp the box", (), 5, 2.0)
    config = SelectionConfig(time_budget_s=60.0)
    for generator in (GraspNetGenerator(model, CONFIG), AntipodalGenerator()):
        ranked = GraspSelector(generator, config).select(scene, request)
        assert ranked.mode is SelectionMode.GEOMETRIC
        assert 0 < len(ranked.candidates) <= 5


def test_factory_picks_the_generator_from_the_config(tmp_path):
    assert isinstance(make_candidate_generator(InferenceConfig()), AntipodalGenerator)
    path = tmp_path / "checkpoint-rs.tar"
    torch.save({"epoch": 1, "model_state_dict": random_graspnet(0, ARCH).state_dict()}, path)
    generator = make_candidate_generator(InferenceConfig(graspnet_weights_path=str(path)))
    assert isinstance(generator, GraspNetGenerator)
    broken = tmp_path / "broken.tar"
    torch.save({"epoch": 1, "model_state_dict": {}}, broken)
    with pytest.raises(CheckpointError, match="missing keys"):
        make_candidate_generator(InferenceConfig(graspnet_weights_path=str(broken)))
