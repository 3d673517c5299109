"""The warm-up selection inference_node runs at configure (issue 27 item 3)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from a2_grasping.core.candidates.antipodal import AntipodalGenerator
from a2_grasping.core.errors import SelectErrorCode, SelectionError
from a2_grasping.core.kinematics import UR5eReachability
from a2_grasping.core.policy.a2_scorer import A2Scorer
from a2_grasping.core.policy.fusion_config import FusionConfig
from a2_grasping.core.policy.fusion_model import A2FusionModel
from a2_grasping.core.scene import Scene
from a2_grasping.core.selection.common import SelectionConfig
from a2_grasping.core.selection.grasp import GraspSelector
from a2_grasping.core.selection.request import SelectRequest
from a2_grasping.core.warmup import (
    WARM_UP_BOX_CENTRE_XY_M,
    WARM_UP_BOX_SIZE_M,
    WARM_UP_INSTRUCTION,
    warm_up,
    warm_up_scene,
)

GOLDEN_DIR = Path(__file__).parent / "golden"


def _clip_golden():
    spec = importlib.util.spec_from_file_location(
        "make_clip_golden", GOLDEN_DIR / "make_clip_golden.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_scene_is_a_box_on_the_table_seen_where_it_stands():
    scene = warm_up_scene(table_height_m=0.1)
    points = scene.points_xyz.astype(np.float64)
    box = points[points[:, 2] > 0.1 + 0.005]
    # Sensor-like noise of 0.2 mm per coordinate: the extremes of ~2000 points lie within
    # 4.5 sigma (0.9 mm) of the faces, so extents are exact to 2 mm.
    np.testing.assert_allclose(box.max(0)[2] - 0.1, WARM_UP_BOX_SIZE_M[2], atol=1e-3)
    np.testing.assert_allclose(box.max(0)[:2] - box.min(0)[:2], WARM_UP_BOX_SIZE_M[:2], atol=2e-3)
    np.testing.assert_allclose(box.mean(0)[:2], WARM_UP_BOX_CENTRE_XY_M, atol=2e-3)
    (view,) = scene.views
    assert view.color_rgb.shape == (480, 640, 3)
    # The box's top projects to the image centre: drawn red there, at the top's depth.
    camera = view.camera_from_base()
    top = np.array([*WARM_UP_BOX_CENTRE_XY_M, 0.1 + WARM_UP_BOX_SIZE_M[2]])
    in_camera = camera[:3, :3] @ top + camera[:3, 3]
    u, v = (view.intrinsics @ in_camera)[:2] / in_camera[2]
    assert tuple(view.color_rgb[round(v), round(u)]) == (200, 30, 30)
    assert float(view.depth_m[round(v), round(u)]) == pytest.approx(in_camera[2], abs=1e-6)


def test_attributes_mode_warm_up_selects_the_named_box():
    selector = GraspSelector(
        AntipodalGenerator(),
        SelectionConfig(),
        reachability=UR5eReachability(),
        ground_instructions=True,
    )
    result = warm_up(selector.select)
    assert result.outcome == "NONE" and result.message == ""
    assert result.seconds > 0.0
    ranked = selector.select(warm_up_scene(), SelectRequest(WARM_UP_INSTRUCTION, (), 1, 1.0))
    assert ranked.target is not None and "red box" in ranked.target.object.description


def test_a2_mode_warm_up_runs_clip_only_on_the_tiles_the_box_covers(tmp_path):
    torch.manual_seed(0)
    clip = _clip_golden().make_extractor(tmp_path)
    fusion = A2FusionModel(
        FusionConfig(width=clip.feature_dim, heads=2, hidden_size=8, use_rope=False)
    ).eval()
    selector = GraspSelector(
        AntipodalGenerator(),
        SelectionConfig(),
        scorer=A2Scorer(clip, fusion),
        ground_instructions=True,
    )
    result = warm_up(selector.select)
    assert result.outcome == "NONE"
    stats = clip.cache_stats
    # 2x4 tiles of the 480x640 view; the box, in the image centre, reaches the 4 central ones.
    assert stats.tiles_computed == 4 and stats.tiles_skipped == 4
    assert stats.texts_encoded == 1


def test_a_refusal_is_reported_not_raised():
    ticks = iter([10.0, 12.5])

    def refuse(scene: Scene, request: SelectRequest) -> None:
        assert request.instruction == WARM_UP_INSTRUCTION and len(scene.views) == 1
        raise SelectionError(SelectErrorCode.TIMEOUT, "over budget")

    result = warm_up(refuse, clock=lambda: next(ticks))
    assert (result.seconds, result.outcome, result.message) == (2.5, "TIMEOUT", "over budget")
    assert result.describe() == "warm-up selection 2.50 s, TIMEOUT (over budget)"
