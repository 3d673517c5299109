"""A2's place candidates (spec §2.7) from a segmented scene, and a2-mode place selection under the
grounding guard: the reference the instruction names holds however the head ranks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from a2_grasping.core.errors import SelectErrorCode, SelectionError
from a2_grasping.core.geometry import crop_to_box
from a2_grasping.core.policy.a2_scorer import A2Scorer, tcp_poses_to_actions
from a2_grasping.core.policy.fusion_config import FusionConfig
from a2_grasping.core.policy.fusion_model import A2FusionModel
from a2_grasping.core.scene import Scene
from a2_grasping.core.selection.a2_place import (
    MIN_BOX_PX,
    SAMPLES_PER_REGION,
    a2_place_candidates,
    annulus_radii_px,
)
from a2_grasping.core.selection.common import SelectionConfig
from a2_grasping.core.selection.objects import SegmentationConfig, segment_objects
from a2_grasping.core.selection.place import PlaceConfig, PlaceRequest, PlaceSelector
from a2_grasping.core.selection.place_regions import HeldObject
from a2_grasping.testing.synthetic_clouds import (
    box_points,
    sphere_points,
    table_points,
    top_down_camera,
)

WORKSPACE = np.array([-0.3, 0.3, -0.3, 0.3, -0.01, 0.4])
HELD = HeldObject(np.array([0.04, 0.04, 0.05]), 0.025, np.diag([1.0, -1.0, -1.0]))
BALL_XY, CUBE_XY, TRAY_XY = (-0.1, -0.12), (-0.1, 0.12), (0.13, 0.0)
BLUE, GREEN, RED = (30, 60, 220), (40, 180, 60), (220, 30, 30)
PIXEL_M = 0.002


def _make_tiny_clip(directory: Path):
    """The seeded tiny CLIP of test/core/golden/make_clip_golden.py."""
    spec = importlib.util.spec_from_file_location(
        "make_clip_golden", Path(__file__).parent / "golden" / "make_clip_golden.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_extractor(directory)


def _scene() -> Scene:
    """A blue ball, a green cube and a red tray on a table seen everywhere."""
    rng = np.random.default_rng(21)
    parts = [
        (sphere_points(rng, 0.025, BALL_XY, 3000), BLUE),
        (box_points(rng, (0.04, 0.04, 0.04), CUBE_XY, 3000), GREEN),
        (box_points(rng, (0.14, 0.14, 0.015), TRAY_XY, 6000), RED),
        (table_points(rng, 40000, half_extent=0.3), (128, 128, 128)),
    ]
    points = np.vstack([p for p, _ in parts])
    colors = np.vstack([np.tile(np.array(c, np.uint8), (len(p), 1)) for p, c in parts])
    points = points + rng.normal(scale=0.0005, size=points.shape)
    return Scene(
        frame_id="base_link",
        stamp_s=1.0,
        points_xyz=points.astype(np.float32),
        colors_rgb=colors,
        workspace_box_m=WORKSPACE,
        views=(top_down_camera(),),
    )


def _segmented(scene: Scene):
    inside = crop_to_box(scene.points_xyz, scene.workspace_box_m)
    cloud = scene.points_xyz[inside].astype(np.float64)
    objects = segment_objects(
        cloud, scene.colors_rgb[inside], 0.0, SelectionConfig().table_margin_m, SegmentationConfig()
    )
    return objects, cloud


def _box_px(xy_m):
    """An object's axis-aligned box on the 2 mm grid: size (rows, columns) and centre cell's
    centre, as ORIG takes boxes (integer centre, inclusive ends)."""
    low = np.floor((xy_m.min(axis=0) - WORKSPACE[[0, 2]]) / PIXEL_M).astype(int)
    high = np.floor((xy_m.max(axis=0) - WORKSPACE[[0, 2]]) / PIXEL_M).astype(int)
    size = tuple(int(v) for v in high - low + 1)
    return size, WORKSPACE[[0, 2]] + ((low + high) // 2 + 0.5) * PIXEL_M


def test_annulus_radii_are_origs_to_the_pixel():
    """Spec §2.7: MIN_DIS // px and MAX_DIS // px are 25 and 74 at 2 mm (0.15 // 0.002 is 74,
    not 75), 16 and 49 at 3 mm; a large object and held object push r_min out, r_max follows
    with ORIG's + 0.1."""
    assert annulus_radii_px((30, 20), 20, 0.002) == (25.0, 74.0)
    assert annulus_radii_px((10, 10), 0, 0.003) == (16.0, 49.0)
    assert annulus_radii_px((100, 60), 30, 0.002) == (65.0, 74.0)
    assert annulus_radii_px((140, 140), 20, 0.002) == (80.0, pytest.approx(80.1))


def test_three_in_and_three_out_per_object_where_the_spec_puts_them():
    objects, cloud = _segmented(_scene())
    assert len(objects) == 3
    candidates = a2_place_candidates(
        objects, cloud, HELD.size_m, table_height_m=0.0, workspace_box_m=WORKSPACE
    )
    assert len(candidates) == 3 * 2 * SAMPLES_PER_REGION
    held_px = int(0.04 // PIXEL_M)
    for position, obj in enumerate(objects):
        size_px, centre_m = _box_px(cloud[obj.point_indices, :2])
        mine = candidates.object_index == position
        inner = candidates.positions_m[mine & candidates.inside]
        outer = candidates.positions_m[mine & ~candidates.inside]
        assert len(inner) == len(outer) == SAMPLES_PER_REGION
        # IN: within min(size) // 3 pixels of the box centre
        in_px = np.linalg.norm(inner[:, :2] - centre_m, axis=1) / PIXEL_M
        assert np.all(in_px <= min(size_px) // 3 + 1e-6)
        # z is the height map there: on the object's top surface (a ball's is curved)
        assert np.all(inner[:, 2] > 0.5 * obj.extents_m[2]), inner
        assert np.all(inner[:, 2] <= obj.extents_m[2] + 0.003), inner
        # OUT: in the annulus, off every object's box, on the table
        r_min, r_max = annulus_radii_px(size_px, held_px, PIXEL_M)
        out_px = np.linalg.norm(outer[:, :2] - centre_m, axis=1) / PIXEL_M
        assert np.all((out_px >= r_min - 1e-6) & (out_px <= r_max + 1e-6)), (out_px, r_min)
        np.testing.assert_allclose(outer[:, 2], 0.0, atol=0.003)
        for other in objects:
            other_xy = cloud[other.point_indices, :2]
            lo, hi = other_xy.min(axis=0), other_xy.max(axis=0)
            within = np.all((outer[:, :2] >= lo - PIXEL_M) & (outer[:, :2] <= hi + PIXEL_M), axis=1)
            assert not within.any()


def test_the_network_sees_the_constant_place_orientation():
    objects, cloud = _segmented(_scene())
    candidates = a2_place_candidates(
        objects, cloud, HELD.size_m, table_height_m=0.0, workspace_box_m=WORKSPACE
    )
    actions = tcp_poses_to_actions(candidates.poses())
    np.testing.assert_array_equal(actions[:, 3:], np.tile([0.0, 0.0, 0.0, 1.0], (len(actions), 1)))
    np.testing.assert_allclose(actions[:, :3], candidates.positions_m, atol=1e-6)


def test_boxes_under_five_pixels_give_no_candidates():
    objects, cloud = _segmented(_scene())
    coarse = (MIN_BOX_PX * 0.14) / 4  # a pixel so large that the 14 cm tray spans under 5
    candidates = a2_place_candidates(
        objects,
        cloud,
        HELD.size_m,
        table_height_m=0.0,
        workspace_box_m=WORKSPACE,
        pixel_size_m=coarse,
    )
    assert len(candidates) == 0


class PrefersNear:
    """A head built to prefer places near one point (a wrong or domain-shifted network)."""

    def __init__(self, xy) -> None:
        self.xy = np.asarray(xy)

    def score(self, object_points, views, tcp_poses, instruction, timings_ms, *, check_budget):
        check_budget()
        return -np.linalg.norm(tcp_poses[:, :2, 3] - self.xy, axis=1)


def _selector(scorer, guard: bool = True) -> PlaceSelector:
    return PlaceSelector(
        SelectionConfig(), SegmentationConfig(), PlaceConfig(), scorer=scorer, guard=guard
    )


def _place(selector: PlaceSelector, instruction: str):
    return selector.select(_scene(), PlaceRequest(instruction, HELD, 20))


def _around(ranked, xy, radius_m: float) -> bool:
    offsets = ranked.releases[:, :2, 3] - np.asarray(xy)
    return bool(np.all(np.linalg.norm(offsets, axis=1) <= radius_m))


def test_the_guard_holds_a2_to_the_named_reference_however_the_head_ranks():
    ranked = _place(_selector(PrefersNear(CUBE_XY)), "put it next to the blue ball")
    assert ranked.mode == "a2" and ranked.reference.object.color_name == "blue"
    assert len(ranked.releases) and _around(ranked, BALL_XY, 0.15 + 1e-6)
    unguarded = _place(_selector(PrefersNear(CUBE_XY), guard=False), "next to the blue ball")
    assert unguarded.reference.object.color_name == "green"  # what the guard prevents


def test_a2_puts_its_preferred_spot_first():
    near_ball = np.asarray(BALL_XY) + np.array([0.0, -0.09])
    ranked = _place(_selector(PrefersNear(near_ball)), "put it next to the blue ball")
    first = ranked.releases[0, :2, 3]
    distances = np.linalg.norm(ranked.releases[:, :2, 3] - near_ball, axis=1)
    # Spots are ordered by distance to A2's best candidate, a sampled cell a few millimetres from
    # near_ball, so by the triangle inequality the first is within twice that of the nearest.
    assert np.linalg.norm(first - near_ball) <= distances.min() + 0.005
    assert np.linalg.norm(first - near_ball) < 0.02


def test_a_reference_noun_grounding_does_not_know_is_left_to_a2_among_fitting_objects():
    """'on the bowl': on/in needs a flat object, and the tray is the only one."""
    ranked = _place(_selector(PrefersNear(CUBE_XY)), "put it on the bowl")
    assert ranked.reference.object.color_name == "red" and ranked.reference.object.is_flat
    assert "bowl" in ranked.reference.unknown_words
    assert _around(ranked, TRAY_XY, 0.07 + 1e-6)


def test_a_guarded_a2_place_refuses_an_absent_reference():
    with pytest.raises(SelectionError) as raised:
        _place(_selector(PrefersNear(CUBE_XY)), "put it next to the purple ball")
    assert raised.value.code is SelectErrorCode.TARGET_NOT_FOUND


def test_the_fusion_network_scores_the_place_candidates(tmp_path):
    """The real scorer (tiny CLIP, tiny fusion network, random weights) behind the selector."""
    torch.manual_seed(0)
    clip = _make_tiny_clip(tmp_path / "tiny_clip")
    config = FusionConfig(width=clip.feature_dim, heads=2, hidden_size=8, use_rope=False)
    scorer = A2Scorer(clip, A2FusionModel(config).eval())
    ranked = _place(_selector(scorer), "put it next to the blue ball")
    assert ranked.mode == "a2" and ranked.reference.object.color_name == "blue"
    assert len(ranked.releases) and _around(ranked, BALL_XY, 0.15 + 1e-6)
    assert {"clip", "fusion"} <= set(ranked.timings_ms)
