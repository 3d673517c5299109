"""A2 mode end to end in the core: tiny CLIP + tiny fusion network behind GraspSelector.

Random tiny weights cannot pick the right object; what is checked is the plumbing: the network's
logits rank the candidates, the instruction reaches CLIP, the stages are timed, and bad input is
refused with a code rather than an invented grasp.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from a2_grasping.core.candidates.antipodal import AntipodalGenerator
from a2_grasping.core.errors import GraspSelectionError, SelectErrorCode
from a2_grasping.core.policy.a2_scorer import A2Scorer, tcp_poses_to_actions
from a2_grasping.core.policy.fusion_config import FusionConfig
from a2_grasping.core.policy.fusion_model import A2FusionModel
from a2_grasping.core.request import SelectRequest
from a2_grasping.core.scene import CameraView, Scene
from a2_grasping.core.selection import (
    GraspSelector,
    SelectionConfig,
    SelectionMode,
    workspace_object_points,
)
from a2_grasping.tools.synthetic_clouds import box_points, tabletop_cloud

GOLDEN_DIR = Path(__file__).parent / "golden"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, GOLDEN_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CLIP_GOLDEN = _load("make_clip_golden")


@pytest.fixture(scope="module")
def scorer(tmp_path_factory) -> A2Scorer:
    torch.manual_seed(0)
    clip = CLIP_GOLDEN.make_extractor(tmp_path_factory.mktemp("tiny_clip"))
    # The tiny CLIP projects to 16 channels, not divisible by the 6 RoPE needs; RoPE itself is
    # covered by test_fusion_model.py, this test is about the plumbing.
    config = FusionConfig(width=clip.feature_dim, heads=2, hidden_size=8, use_rope=False)
    fusion = A2FusionModel(config).eval()
    return A2Scorer(clip, fusion)


def _top_down_camera() -> CameraView:
    """A 48x64 camera 0.6 m above the origin looking straight down at a flat table."""
    pose = np.eye(4)
    pose[:3, :3] = np.diag([1.0, -1.0, -1.0])
    pose[:3, 3] = (0.0, 0.0, 0.6)
    color = np.random.default_rng(4).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    return CameraView(
        color_rgb=color,
        depth_m=np.full((48, 64), 0.6, np.float32),
        intrinsics=np.array([[60.0, 0.0, 31.5], [0.0, 60.0, 23.5], [0.0, 0.0, 1.0]]),
        base_from_camera=pose,
        name="top",
    )


def _scene(views=None) -> Scene:
    rng = np.random.default_rng(5)
    points = tabletop_cloud(rng, box_points(rng, (0.05, 0.04, 0.06), (0.0, 0.0), 4000))
    return Scene(
        frame_id="base_link",
        stamp_s=1.0,
        points_xyz=points.astype(np.float32),
        colors_rgb=np.full(points.shape, 128, np.uint8),
        workspace_box_m=np.array([-0.3, 0.3, -0.3, 0.3, -0.01, 0.4]),
        views=(_top_down_camera(),) if views is None else views,
    )


def _request(instruction: str = "grasp the box") -> SelectRequest:
    return SelectRequest(instruction, (), 100, 2.0)


def test_a2_mode_ranks_by_fusion_logits(scorer):
    selector = GraspSelector(AntipodalGenerator(), SelectionConfig(), scorer=scorer)
    ranked = selector.select(_scene(), _request())
    assert ranked.mode is SelectionMode.A2 and ranked.instruction_used
    assert {"candidates", "clip", "fusion", "scoring", "total"} <= set(ranked.timings_ms)
    assert np.all(np.diff(ranked.score) <= 0)
    # The scores are the network's logits for exactly these candidate poses.
    timings: dict[str, float] = {}
    rescored = scorer.score(
        workspace_object_points(_scene(), SelectionConfig()),
        _scene().views,
        ranked.candidates.tcp_poses,
        "grasp the box",
        timings,
        check_budget=lambda: None,
    )
    np.testing.assert_allclose(rescored, ranked.score, rtol=1e-5, atol=1e-6)


def test_instruction_changes_the_scores(scorer):
    selector = GraspSelector(AntipodalGenerator(), SelectionConfig(), scorer=scorer)
    box = selector.select(_scene(), _request("grasp the box"))
    other = selector.select(_scene(), _request("the small red ball"))
    by_id_box = dict(zip(box.candidates.candidate_id.tolist(), box.score, strict=True))
    by_id_other = dict(zip(other.candidates.candidate_id.tolist(), other.score, strict=True))
    common = sorted(set(by_id_box) & set(by_id_other))
    assert common
    assert any(abs(by_id_box[i] - by_id_other[i]) > 1e-6 for i in common)


def test_a2_mode_without_camera_images_is_refused(scorer):
    selector = GraspSelector(AntipodalGenerator(), SelectionConfig(), scorer=scorer)
    with pytest.raises(GraspSelectionError) as raised:
        selector.select(_scene(views=()), _request())
    assert raised.value.code is SelectErrorCode.INVALID_REQUEST
    assert "camera images" in raised.value.message


def test_actions_are_tcp_position_and_scipy_quaternion():
    pose = np.eye(4)
    pose[:3, 3] = (0.1, 0.2, 0.3)
    action = tcp_poses_to_actions(pose[None])[0]
    np.testing.assert_allclose(action, [0.1, 0.2, 0.3, 0.0, 0.0, 0.0, 1.0], atol=1e-7)
