"""CLIP tile skipping and the per-image / per-instruction caches (issue 27 items 3 and 4).

Skipping tiles no point can read must change no fused feature: the comparison is exact
(max abs difference 0, not a tolerance). Everything runs on the tiny seeded CLIP of
test/core/golden/make_clip_golden.py; nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from a2_grasping.core.policy.clip_config import ClipFeatureConfig
from a2_grasping.core.policy.clip_features import ClipFeatureExtractor, image_key
from a2_grasping.core.policy.clip_tiling import tile_layout
from a2_grasping.core.policy.point_fusion import PointClipFeatures, tiles_needed
from a2_grasping.core.scene import CameraView

GOLDEN_DIR = Path(__file__).parent / "golden"


def _load_golden_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_clip_golden", GOLDEN_DIR / "make_clip_golden.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GOLDEN = _load_golden_script()
# 56 x 112 images in 2 x 4 tiles of 28 x 28 px -> 3 x 3 patches each: a 6 x 12 map.
TINY = GOLDEN.TINY_FEATURE_CONFIG | {"tile_batch_size": 1}


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return GOLDEN.make_tiny_tokenizer(tmp_path_factory.mktemp("tokenizer"))


def _extractor(tokenizer, **overrides) -> ClipFeatureExtractor:
    config = ClipFeatureConfig(model_name_or_path="unused", **(TINY | overrides))
    return ClipFeatureExtractor(GOLDEN.make_tiny_clip(), tokenizer, config)


def _top_down_view(seed: int = 3, height: int = 56, width: int = 112) -> CameraView:
    """A camera 0.6 m above the origin looking straight down; the table at depth 0.6 m."""
    pose = np.eye(4)
    pose[:3, :3] = np.diag([1.0, -1.0, -1.0])
    pose[:3, 3] = (0.0, 0.0, 0.6)
    focal = 80.0
    intrinsics = np.array(
        [[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2], [0.0, 0.0, 1.0]]
    )
    color = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return CameraView(
        color_rgb=color,
        depth_m=np.full((height, width), 0.6, np.float32),
        intrinsics=intrinsics,
        base_from_camera=pose,
        name=f"top{seed}",
    )


def _pixel_to_table_point(view: CameraView, u: float, v: float, height_m: float) -> np.ndarray:
    """The base-frame point `height_m` above the table that projects to pixel (u, v)."""
    depth = 0.6 - height_m
    k = view.intrinsics
    camera = np.array([(u - k[0, 2]) / k[0, 0] * depth, (v - k[1, 2]) / k[1, 1] * depth, depth])
    return view.base_from_camera[:3, :3] @ camera + view.base_from_camera[:3, 3]


def _equal(a: PointClipFeatures, b: PointClipFeatures) -> None:
    assert float((a.features - b.features).abs().max()) == 0.0
    assert float((a.similarities - b.similarities).abs().max()) == 0.0
    assert torch.equal(a.num_valid_views, b.num_valid_views)


# ----------------------------------------------------------------------------- which tiles


def test_tiles_needed_known_cells():
    view = _top_down_view()
    config = ClipFeatureConfig(model_name_or_path="unused", **TINY)
    layout = tile_layout((56, 112), config)
    assert layout.map_shape == (6, 12) and (layout.patches_h, layout.patches_w) == (3, 3)

    def tiles_for(u: float, v: float) -> list[int]:
        point = _pixel_to_table_point(view, u, v, 0.05)[None]
        return np.flatnonzero(tiles_needed(point, view, layout)).tolist()

    # Map x = u * 11 / 111. Pixel (0, 0): cells -1..2 in x and y, all in tile 0.
    assert tiles_for(0.0, 0.0) == [0]
    # x = 5.5 (u = 55.5): bilinear cells 5 and 6, margin 4 and 7 -> tile columns 1 and 2;
    # y = 0 -> rows 0 only. Tiles 1 and 2.
    assert tiles_for(5.5 * 111 / 11, 0.0) == [1, 2]
    # x = 10 (cells 9..12 -> column 3), y = 2.5 * 55 / 5 (cells 1..4 -> rows 0 and 1).
    assert tiles_for(10 * 111 / 11, 2.5 * 55 / 5) == [3, 7]
    # Far outside the image, and in the camera's focal plane: no tile.
    assert tiles_for(-500.0, 20.0) == []
    in_plane = np.array([[0.0, 0.0, 0.6 + 0.4 * 1e-4]])  # |depth| 4e-5 m below the limit
    assert not tiles_needed(in_plane, view, layout).any()


def test_points_behind_the_camera_keep_their_tiles():
    """The fusion (as upstream) can weigh a point behind the camera in: it is not dropped."""
    view = _top_down_view()
    layout = tile_layout((56, 112), ClipFeatureConfig(model_name_or_path="unused", **TINY))
    behind = np.array([[0.05, 0.02, 0.9]])  # 0.3 m above the camera: depth -0.3 m
    assert tiles_needed(behind, view, layout).sum() >= 1


# ----------------------------------------------------------------------------- exactness


def _clustered_points(view: CameraView, rng: np.random.Generator) -> np.ndarray:
    """Object points in the image's left third, some exactly on tile and cell borders."""
    pixels = np.c_[rng.uniform(0.0, 30.0, 300), rng.uniform(0.0, 55.0, 300)]
    borders = np.array([[27.5, 27.5], [28.0, 28.0], [27.0, 10.0], [111 * 3 / 11, 55 * 3 / 5]])
    points = [
        _pixel_to_table_point(view, u, v, h)
        for (u, v), h in zip(np.r_[pixels, borders], rng.uniform(0.0, 0.08, 304), strict=True)
    ]
    return np.array(points)


def test_skipping_tiles_changes_no_feature(tokenizer):
    """Max abs difference exactly 0 against computing every tile, over two views whose points
    reach different tiles, with a point behind a camera and one occluded."""
    rng = np.random.default_rng(11)
    first, second = _top_down_view(3), _top_down_view(4)
    tilted = np.eye(4)  # the second camera is shifted, so the same points land elsewhere
    tilted[:3, 3] = (0.12, 0.0, 0.0)
    second = dataclasses.replace(second, base_from_camera=tilted @ second.base_from_camera)
    points = np.r_[
        _clustered_points(first, rng),
        [[0.2, 0.1, 0.9]],  # behind both cameras (projects, mirrored, into the left column)
        [[0.01, 0.01, -0.2]],  # below the table: behind the observed surface
    ]
    skipping = _extractor(tokenizer, cache_images=0)
    full = _extractor(tokenizer, cache_images=0, skip_empty_tiles=False)
    views = [first, second]
    got = skipping.point_features(points, views, GOLDEN.TEXT)
    want = full.point_features(points, views, GOLDEN.TEXT)
    _equal(got, want)
    assert int(got.num_valid_views.max()) == 2  # both views contribute somewhere
    # Tiles were really skipped: the points fill the left part of each image only (columns
    # 0-1 of the first view, 0-2 of the second, shifted by 16 px).
    assert skipping.cache_stats.tiles_skipped >= 4
    assert skipping.cache_stats.tiles_computed + skipping.cache_stats.tiles_skipped == 16
    assert full.cache_stats.tiles_computed == 16 and full.cache_stats.tiles_skipped == 0
    sampled_got = skipping.network_inputs(points, views, GOLDEN.TEXT)
    sampled_want = full.network_inputs(points, views, GOLDEN.TEXT)
    assert torch.equal(sampled_got.indices, sampled_want.indices)
    assert torch.equal(sampled_got.features, sampled_want.features)
    assert torch.equal(sampled_got.similarities, sampled_want.similarities)


def test_skipping_tiles_changes_no_feature_on_the_golden_scene(tokenizer):
    points, views = GOLDEN.make_scene()
    keep = points[:, 0] < np.median(points[:, 0])  # half the probe points: some tiles go
    skipping = _extractor(tokenizer, cache_images=0)
    full = _extractor(tokenizer, cache_images=0, skip_empty_tiles=False)
    _equal(
        skipping.point_features(points[keep], views, GOLDEN.TEXT),
        full.point_features(points[keep], views, GOLDEN.TEXT),
    )


def test_a_skipped_tile_is_zero_and_a_computed_one_equals_the_full_map(tokenizer):
    view = _top_down_view()
    extractor = _extractor(tokenizer, cache_images=0)
    needed = np.zeros(8, dtype=bool)
    needed[[0, 5]] = True
    partial = extractor.image_feature_map(view.color_rgb, needed=needed)
    full = extractor.image_feature_map(view.color_rgb)
    assert torch.equal(partial[:3, :3], full[:3, :3])  # tile 0
    assert torch.equal(partial[3:, 3:6], full[3:, 3:6])  # tile 5 (row 1, column 1)
    assert float(partial[:3, 3:].abs().max()) == 0.0
    with pytest.raises(ValueError, match="needed"):
        extractor.image_feature_map(view.color_rgb, needed=np.ones(7, dtype=bool))


# ----------------------------------------------------------------------------- caches


def test_a_grasp_then_a_place_on_the_same_scene_runs_each_tile_once(tokenizer):
    """The place's table-kept cloud reaches more tiles than the grasp's object points; only
    those are added, and the grasp's tiles come from the cache with identical values."""
    rng = np.random.default_rng(12)
    view = _top_down_view(5)
    objects = _clustered_points(view, rng)
    table = np.array(
        [_pixel_to_table_point(view, u, v, 0.0) for u in (10.0, 60.0, 100.0) for v in (5.0, 50.0)]
    )
    cached = _extractor(tokenizer)
    grasp = cached.point_features(objects, [view], "pick the red block")
    after_grasp = cached.cache_stats.tiles_computed
    place = cached.point_features(np.r_[objects, table], [view], "put it on the plate")
    assert cached.cache_stats.tiles_reused == after_grasp  # every tile of the grasp
    assert cached.cache_stats.tiles_computed == 8  # each tile once over both requests
    again = cached.point_features(objects, [view], "pick the red block")
    assert cached.cache_stats.tiles_computed == 8
    assert cached.cache_stats.texts_encoded == 2 and cached.cache_stats.texts_reused == 1
    fresh = _extractor(tokenizer, cache_images=0)
    _equal(grasp, fresh.point_features(objects, [view], "pick the red block"))
    _equal(again, grasp)
    _equal(place, fresh.point_features(np.r_[objects, table], [view], "put it on the plate"))


def test_the_tile_cache_is_bounded_and_keyed_by_content(tokenizer):
    extractor = _extractor(tokenizer, cache_images=2)
    views = [_top_down_view(seed) for seed in (20, 21, 22)]
    for view in views:
        extractor.image_feature_map(view.color_rgb)
    assert extractor.cache_stats.tiles_computed == 24
    extractor.image_feature_map(views[2].color_rgb)  # newest: cached
    assert extractor.cache_stats.tiles_computed == 24
    extractor.image_feature_map(views[0].color_rgb)  # evicted by the third image
    assert extractor.cache_stats.tiles_computed == 32
    # Same content in a new array is a hit; one changed pixel is a miss.
    copy = views[0].color_rgb.copy()
    assert image_key(copy) == image_key(views[0].color_rgb)
    extractor.image_feature_map(copy)
    assert extractor.cache_stats.tiles_computed == 32
    copy[0, 0, 0] ^= 1
    assert image_key(copy) != image_key(views[0].color_rgb)
    extractor.image_feature_map(copy)
    assert extractor.cache_stats.tiles_computed == 40
    extractor.clear_caches()
    extractor.image_feature_map(copy)
    assert extractor.cache_stats.tiles_computed == 48


def test_the_text_cache_is_bounded_and_returns_equal_copies(tokenizer):
    extractor = _extractor(tokenizer, text_cache_size=2)
    first = extractor.encode_text("red mug")
    first.zero_()  # a caller's change does not reach the cache
    again = extractor.encode_text("red mug")
    assert extractor.cache_stats.texts_reused == 1
    assert float(again.norm()) == pytest.approx(1.0, abs=1e-6)
    extractor.encode_text("blue cup")
    extractor.encode_text("green box")  # evicts "red mug"
    extractor.encode_text("red mug")
    assert extractor.cache_stats.texts_encoded == 4
    uncached = _extractor(tokenizer, text_cache_size=0)
    assert torch.equal(uncached.encode_text("red mug"), again)


def test_tiles_finished_before_a_budget_stop_are_kept(tokenizer):
    extractor = _extractor(tokenizer)
    image = _top_down_view(30).color_rgb
    calls: list[int] = []

    class OverBudgetError(Exception):
        pass

    def stop_at_the_fourth_tile() -> None:
        calls.append(1)
        if len(calls) == 4:
            raise OverBudgetError

    with pytest.raises(OverBudgetError):
        extractor.image_feature_map(image, stop_at_the_fourth_tile)
    assert extractor.cache_stats.tiles_computed == 3
    extractor.image_feature_map(image)
    assert extractor.cache_stats.tiles_computed == 8 and extractor.cache_stats.tiles_reused == 3


def test_cache_settings_are_validated():
    with pytest.raises(ValueError, match="skip_empty_tiles"):
        ClipFeatureConfig(skip_empty_tiles=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cache_images"):
        ClipFeatureConfig(cache_images=-1)
    with pytest.raises(ValueError, match="text_cache_size"):
        ClipFeatureConfig(text_cache_size=True)  # type: ignore[arg-type]
