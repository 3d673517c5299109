"""Per-point CLIP features: MaskCLIP, tiling, projection + fusion, sampling, loading, goldens.

Everything runs on a tiny random `transformers.CLIPModel` and a letter-level tokenizer written to
tmp_path, so the file is fast and never touches the network. Expected numbers come from the spec
(§1.4, §1.5) or from hand computations, not from the code under test.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from a2_grasping.core.policy.clip_config import ClipFeatureConfig
from a2_grasping.core.policy.clip_features import ClipFeatureExtractor
from a2_grasping.core.policy.clip_tiling import (
    preprocess_tiles,
    rescale_intrinsics,
    resize_camera_view,
    stitch_tiles,
    tile_layout,
)
from a2_grasping.core.policy.maskclip import (
    ClipModelNotFound,
    interpolate_position_embeddings,
    maskclip_patch_features,
    similarity_map,
    value_path,
)
from a2_grasping.core.policy.point_fusion import (
    PointClipFeatures,
    ViewFeatures,
    fuse_point_features,
    normalise_similarities,
    sample_points,
    select_top_k,
)
from a2_grasping.core.scene import CameraView

GOLDEN_DIR = Path(__file__).parent / "golden"
MU = 0.02


def _load_golden_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_clip_golden", GOLDEN_DIR / "make_clip_golden.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GOLDEN = _load_golden_script()


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tiny_clip")


@pytest.fixture(scope="module")
def extractor(tiny_dir) -> ClipFeatureExtractor:
    return GOLDEN.make_extractor(tiny_dir)


# ----------------------------------------------------------------------------- helpers


def _camera(
    height: int = 40,
    width: int = 60,
    depth_m: float = 1.0,
    pose: np.ndarray | None = None,
    focal: float = 50.0,
) -> CameraView:
    """A camera with a flat depth image; identity pose = camera frame equals base frame."""
    intrinsics = np.array([[focal, 0.0, 29.5], [0.0, focal, 19.5], [0.0, 0.0, 1.0]])
    color = np.zeros((height, width, 3), dtype=np.uint8)
    depth = np.full((height, width), depth_m, dtype=np.float32)
    return CameraView(color, depth, intrinsics, np.eye(4) if pose is None else pose)


def _pixel_point(view: CameraView, u: float, v: float, depth_m: float) -> np.ndarray:
    """Base-frame point that projects to pixel (u, v) at optical depth `depth_m`."""
    k = view.intrinsics
    cam = np.array([(u - k[0, 2]) / k[0, 0] * depth_m, (v - k[1, 2]) / k[1, 1] * depth_m, depth_m])
    return view.base_from_camera[:3, :3] @ cam + view.base_from_camera[:3, 3]


def _pixel_features(view: CameraView, channels: int = 4, offset: float = 0.0) -> ViewFeatures:
    """Feature map at full image resolution: feature[v, u] = (u, v, u*v, offset) etc."""
    rows, cols = torch.meshgrid(
        torch.arange(view.height_px, dtype=torch.float32),
        torch.arange(view.width_px, dtype=torch.float32),
        indexing="ij",
    )
    base = [cols, rows, cols * rows / 100.0, torch.full_like(cols, offset)]
    fmap = torch.stack(base[:channels], dim=-1)  # (H, W, C)
    return ViewFeatures(view, fmap, cols / 100.0 + offset)


def _keys_cubic(t: np.ndarray, a: float = -0.75) -> np.ndarray:
    t = np.abs(t)
    near = (a + 2) * t**3 - (a + 3) * t**2 + 1
    far = a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def _cubic_resample_matrix(size_in: int, size_out: int, scale: float) -> np.ndarray:
    """(out, in) weights of torch's bicubic (a = -0.75, clamped border) with a given scale."""
    matrix = np.zeros((size_out, size_in))
    for i in range(size_out):
        source = (i + 0.5) / scale - 0.5
        base = math.floor(source)
        for tap in range(base - 1, base + 3):
            matrix[i, min(max(tap, 0), size_in - 1)] += _keys_cubic(np.array(source - tap))
    return matrix


# ----------------------------------------------------------------------------- config


def test_config_defaults_are_the_upstream_recipe():
    config = ClipFeatureConfig()
    assert (config.tile_rows, config.tile_cols) == (3, 4)
    assert config.tile_short_side_px == 336 and config.patch_size_px == 14
    assert config.depth_tolerance_m == 0.02
    assert config.top_k_points == 500 and config.sim_norm_epsilon == 1e-4
    assert config.point_batch_size == 60_000
    assert config.pixel_mean == (0.48145466, 0.4578275, 0.40821073)
    assert config.pixel_std == (0.26862954, 0.26130258, 0.27577711)
    assert config.model_name_or_path == "openai/clip-vit-large-patch14-336"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tile_rows": 0}, "tile_rows"),
        ({"tile_cols": 2.5}, "tile_cols"),
        ({"depth_tolerance_m": "0.02"}, "depth_tolerance_m"),
        ({"depth_tolerance_m": 0.0}, "depth_tolerance_m"),
        ({"dtype": "float16"}, "dtype"),
        ({"pixel_std": (0.2, 0.0, 0.2)}, "pixel_std"),
        ({"pixel_mean": (0.5, 0.5)}, "pixel_mean"),
        ({"top_k_points": True}, "top_k_points"),
        ({"model_name_or_path": " "}, "model_name_or_path"),
        ({"tile_short_side_px": 10}, "tile_short_side_px"),
        ({"device": "not-a-device"}, "device"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ClipFeatureConfig(**kwargs)


# ----------------------------------------------------------------------------- MaskCLIP


def test_value_path_equals_hand_computation(extractor):
    layer = extractor.model.vision_model.encoder.layers[-1]
    hidden = torch.randn(2, 5, 32, generator=torch.Generator().manual_seed(1))
    normed = F.layer_norm(
        hidden, (32,), layer.layer_norm1.weight, layer.layer_norm1.bias, layer.layer_norm1.eps
    )
    attn = layer.self_attn
    values = normed @ attn.v_proj.weight.T + attn.v_proj.bias
    expected = values @ attn.out_proj.weight.T + attn.out_proj.bias
    with torch.no_grad():
        got = value_path(layer, hidden)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)
    # Token-local: changing one token leaves every other token's output unchanged.
    changed = hidden.clone()
    changed[:, 2] += 1.0
    with torch.no_grad():
        other = value_path(layer, changed)
    torch.testing.assert_close(other[:, [0, 1, 3, 4]], got[:, [0, 1, 3, 4]])


def test_maskclip_matches_transformers_forward_up_to_the_last_layer(extractor):
    """At the native size the first L-1 layers must equal transformers' own forward."""
    model = extractor.model
    pixels = torch.randn(2, 3, 42, 42, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        hidden = model.vision_model(pixel_values=pixels, output_hidden_states=True).hidden_states
        last = value_path(model.vision_model.encoder.layers[-1], hidden[-2])
        expected = model.visual_projection(model.vision_model.post_layernorm(last[:, 1:]))
        got = maskclip_patch_features(model, pixels)
    assert got.shape == (2, 3, 3, 16)
    torch.testing.assert_close(got.reshape(2, 9, 16), expected, atol=1e-5, rtol=1e-5)


def test_position_interpolation_keeps_unchanged_grid():
    table = torch.randn(1 + 24 * 24, 8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(interpolate_position_embeddings(table, (24, 24)), table)


def test_position_interpolation_is_dino_style_with_fudge():
    native, dim = 3, 5
    table = torch.randn(1 + native * native, dim, generator=torch.Generator().manual_seed(4))
    got = interpolate_position_embeddings(table, (2, 4))
    assert got.shape == (1 + 2 * 4, dim)
    assert torch.equal(got[0], table[0])  # class position embedding kept as is
    # Separable Keys cubic (a = -0.75) with the scale (target + 0.1) / native, by hand.
    rows = _cubic_resample_matrix(native, 2, (2 + 0.1) / native)
    cols = _cubic_resample_matrix(native, 4, (4 + 0.1) / native)
    grid = table[1:].double().numpy().reshape(native, native, dim)
    expected = np.einsum("ia,jb,abd->ijd", rows, cols, grid).reshape(8, dim)
    np.testing.assert_allclose(got[1:].numpy(), expected, atol=1e-5)
    # ... which is not what plain size-based interpolation gives: the fudge is really applied.
    plain = F.interpolate(
        table[1:].reshape(1, native, native, dim).permute(0, 3, 1, 2),
        size=(2, 4),
        mode="bicubic",
        align_corners=False,
    )
    assert not torch.allclose(plain.permute(0, 2, 3, 1).reshape(8, dim), got[1:], atol=1e-4)


def test_similarity_map_is_cosine_per_patch():
    features = torch.tensor([[[3.0, 4.0], [0.0, -2.0]]])  # (1, 2, 2)
    text = torch.tensor([0.6, 0.8])
    np.testing.assert_allclose(similarity_map(features, text).numpy(), [[1.0, -0.8]], atol=1e-6)


# ----------------------------------------------------------------------------- tiling


@pytest.mark.parametrize(
    ("image_hw", "tile_hw", "resized_hw", "patches_hw", "map_hw"),
    [
        ((480, 640), (160, 160), (336, 336), (24, 24), (72, 96)),  # spec §1.4, 480x640
        ((720, 1280), (240, 320), (336, 448), (24, 32), (72, 128)),  # spec §1.4, 720x1280
    ],
)
def test_tile_layout_matches_spec_numbers(image_hw, tile_hw, resized_hw, patches_hw, map_hw):
    layout = tile_layout(image_hw, ClipFeatureConfig())
    assert (layout.tile_h_px, layout.tile_w_px) == tile_hw
    assert (layout.resized_h_px, layout.resized_w_px) == resized_hw
    assert (layout.patches_h, layout.patches_w) == patches_hw
    assert layout.map_shape == map_hw


def test_tiles_cover_the_image_row_major():
    config = ClipFeatureConfig()
    image = np.zeros((480, 640, 3), dtype=np.uint8)
    for row in range(3):
        for col in range(4):
            image[row * 160 : (row + 1) * 160, col * 160 : (col + 1) * 160] = 10 * (4 * row + col)
    tiles = preprocess_tiles(image, config)
    assert tiles.shape == (12, 3, 336, 336)
    # Undo the CLIP normalisation: each tile is the constant of its own region.
    mean = torch.tensor(config.pixel_mean).view(1, 3, 1, 1)
    std = torch.tensor(config.pixel_std).view(1, 3, 1, 1)
    levels = (tiles * std + mean) * 255.0
    for index in range(12):
        torch.testing.assert_close(
            levels[index], torch.full((3, 336, 336), 10.0 * index), atol=1e-3, rtol=0
        )


def test_stitch_is_row_major():
    tiles = torch.arange(6, dtype=torch.float32).view(6, 1, 1, 1).expand(6, 2, 3, 1)
    stitched = stitch_tiles(tiles, rows=2, cols=3)
    assert stitched.shape == (4, 9, 1)
    expected = torch.tensor([[0, 1, 2], [3, 4, 5]], dtype=torch.float32)
    expected = expected.repeat_interleave(2, 0).repeat_interleave(3, 1)
    assert torch.equal(stitched[..., 0], expected)


def test_image_feature_map_has_spec_shape_at_480x640(extractor):
    config = ClipFeatureConfig(model_name_or_path="unused", tile_batch_size=12)
    full = ClipFeatureExtractor(extractor.model, extractor.tokenizer, config)
    image = np.random.default_rng(5).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    fmap = full.image_feature_map(image)
    assert fmap.shape == (72, 96, 16) and fmap.dtype == torch.float32
    # Stitching: the top-right block is the 4th tile's own patch map.
    tile = preprocess_tiles(image, config)[3:4]
    with torch.no_grad():
        alone = maskclip_patch_features(full.model, tile)[0]
    torch.testing.assert_close(fmap[:24, 72:96], alone, atol=1e-5, rtol=1e-5)


def test_tile_batch_size_does_not_change_features(extractor):
    image = np.random.default_rng(6).integers(0, 256, (56, 112, 3), dtype=np.uint8)
    one = ClipFeatureExtractor(
        extractor.model,
        extractor.tokenizer,
        ClipFeatureConfig(**GOLDEN.TINY_FEATURE_CONFIG | {"tile_batch_size": 1}),
    )
    torch.testing.assert_close(
        one.image_feature_map(image), extractor.image_feature_map(image), atol=1e-5, rtol=1e-5
    )


# ----------------------------------------------------------------------------- text


def test_text_embedding_is_unit_and_padding_invariant(extractor):
    embedding = extractor.encode_text("red mug")
    assert embedding.shape == (16,)
    assert torch.linalg.norm(embedding).item() == pytest.approx(1.0, abs=1e-6)
    ids = torch.tensor([extractor.tokenizer("red mug")["input_ids"]])  # unpadded, causal model
    with torch.no_grad():
        pooled = extractor.model.text_model(input_ids=ids).pooler_output
        unpadded = F.normalize(extractor.model.text_projection(pooled)[0], dim=-1)
    torch.testing.assert_close(embedding, unpadded, atol=1e-6, rtol=1e-6)


def test_text_rejects_empty_and_too_long(extractor):
    with pytest.raises(ValueError, match="non-empty"):
        extractor.encode_text("  ")
    with pytest.raises(ValueError, match="context"):
        extractor.encode_text("a " * 80)


# ----------------------------------------------------------------------------- projection


def test_point_seen_by_one_camera_gets_its_pixel_feature():
    view = _camera()
    features = _pixel_features(view)
    points = np.stack(
        [
            _pixel_point(view, 12, 7, 1.0),
            _pixel_point(view, 0, 0, 1.0),
            _pixel_point(view, 59, 39, 1.0),
        ]
    )
    fused = fuse_point_features(points, [features], MU)
    expected = features.feature_map[[7, 0, 39], [12, 0, 59]] / (1.0 + 1e-6)
    torch.testing.assert_close(fused.features, expected, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(fused.similarities, torch.tensor([0.12, 0.0, 0.59]) / (1 + 1e-6))
    assert fused.num_valid_views.tolist() == [1, 1, 1]


def test_coarse_map_corners_map_to_corner_patches():
    """Coordinates are normalised by the image size: pixel 0 -> first patch, W-1 -> last."""
    view = _camera()
    fmap = torch.arange(12, dtype=torch.float32).view(3, 4, 1)  # (3, 4, 1) coarse map
    points = np.stack([_pixel_point(view, 0, 0, 1.0), _pixel_point(view, 59, 39, 1.0)])
    fused = fuse_point_features(points, [ViewFeatures(view, fmap, fmap[..., 0])], MU)
    np.testing.assert_allclose(fused.features[:, 0].numpy(), [0.0, 11.0], atol=1e-4)


def test_depth_consistency_and_weights():
    view = _camera(depth_m=1.0)
    features = _pixel_features(view)
    pixel = features.feature_map[10, 20]
    points = np.stack(
        [
            _pixel_point(view, 20, 10, 1.015),  # 1.5 cm behind the surface: kept, weight 1
            _pixel_point(view, 20, 10, 1.03),  # 3 cm behind: hidden, zero
            _pixel_point(view, 20, 10, 0.95),  # 5 cm in front: kept, weight exp(-1.5)
            _pixel_point(view, 20, 10, 1.0) + np.array([5.0, 0.0, 0.0]),  # outside the image
        ]
    )
    fused = fuse_point_features(points, [features], MU)
    assert fused.num_valid_views.tolist() == [1, 0, 1, 0]
    scale = 1.0 / (1.0 + 1e-6)
    torch.testing.assert_close(fused.features[0], pixel * scale, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(fused.features[1], torch.zeros(4))
    torch.testing.assert_close(
        fused.features[2], pixel * math.exp((0.02 - 0.05) / 0.02) * scale, atol=1e-4, rtol=1e-4
    )
    torch.testing.assert_close(fused.features[3], torch.zeros(4))


def test_missing_depth_means_no_view():
    view = _camera()
    view.depth_m[10, 20] = np.nan
    view.depth_m[11, 20] = 0.0
    points = np.stack([_pixel_point(view, 20, 10, 1.0), _pixel_point(view, 20, 11, 1.0)])
    fused = fuse_point_features(points, [_pixel_features(view)], MU)
    assert fused.num_valid_views.tolist() == [0, 0]
    assert torch.equal(fused.features, torch.zeros(2, 4))


def test_points_behind_the_camera_are_not_rejected_as_upstream():
    """Spec §1.4: only |d| < 1e-4 is invalid; a point behind the camera passes (weight ~0)."""
    view = _camera()
    behind = -_pixel_point(view, 20, 10, 1.0)  # (x, y, z) -> (-x, -y, -1): projects to (20, 10)
    fused = fuse_point_features(behind[None], [_pixel_features(view)], MU)
    assert fused.num_valid_views.tolist() == [1]
    torch.testing.assert_close(fused.features, torch.zeros(1, 4), atol=1e-30, rtol=0)
    in_plane = np.array([[0.1, 0.1, 0.0]])  # |d| < 1e-4: invalid
    assert fuse_point_features(in_plane, [_pixel_features(view)], MU).num_valid_views.item() == 0


def test_two_cameras_sum_weighted_over_count():
    view_a = _camera(depth_m=1.0)
    # Camera b: rotated 90 degrees about y and shifted, so the same point is seen from the side.
    rotation = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    pose_b = np.eye(4)
    pose_b[:3, :3] = rotation
    point = _pixel_point(view_a, 20, 10, 1.0)
    pose_b[:3, 3] = point - rotation @ np.array([0.0, 0.0, 0.8])  # point at depth 0.8 in b
    view_b = _camera(depth_m=0.83, pose=pose_b)  # surface 3 cm behind the point: weight exp(-0.5)
    feat_a, feat_b = _pixel_features(view_a), _pixel_features(view_b, offset=7.0)
    fused = fuse_point_features(point[None], [feat_a, feat_b], MU)
    # On b's optical axis: the principal point (29.5, 19.5); bilinear of u, v, u*v is exact.
    sample_b = torch.tensor([29.5, 19.5, 29.5 * 19.5 / 100.0, 7.0])
    weight_b = math.exp((0.02 - 0.03) / 0.02)
    expected = (feat_a.feature_map[10, 20] + sample_b * weight_b) / (2 + 1e-6)
    assert fused.num_valid_views.tolist() == [2]
    torch.testing.assert_close(fused.features[0], expected, atol=1e-4, rtol=1e-4)
    # Hide the point from b (surface 5 cm in front of it): only a counts, divided by 1.
    view_b_hidden = _camera(depth_m=0.75, pose=pose_b)
    alone = fuse_point_features(
        point[None], [feat_a, _pixel_features(view_b_hidden, offset=7.0)], MU
    )
    torch.testing.assert_close(
        alone.features[0], feat_a.feature_map[10, 20] / (1 + 1e-6), atol=1e-4, rtol=1e-5
    )


def test_point_batching_does_not_change_results():
    view = _camera()
    rng = np.random.default_rng(7)
    points = np.column_stack(
        [rng.uniform(-0.5, 0.5, 23), rng.uniform(-0.3, 0.3, 23), rng.uniform(0.9, 1.1, 23)]
    )
    features = [_pixel_features(view)]
    whole = fuse_point_features(points, features, MU, batch_size=1000)
    batched = fuse_point_features(points, features, MU, batch_size=4)
    # Not bit-identical: the projection's matrix products take other kernels (SIMD blocking)
    # for 4 points than for 23, so pixel and depth coordinates may differ by an ulp. Bound: a
    # depth rounded by u32 * z (z ~ 1 m) moves the weight exp(min(mu - |dist|, 0) / mu) by at
    # most u32 * z / mu = 50 u32 relative; a pixel coordinate rounded by u32 * W (W px wide
    # here: 60) moves a bilinear sample by that many pixels times the feature's slope, at most
    # max|f| per pixel; the sums and the division add a few u32. Together < 128 u32 * max|f|.
    # The validity tests are steps, but no random point lies within an ulp of one.
    scale = float(features[0].feature_map.abs().max())
    atol = 128 * 2.0**-24 * scale
    torch.testing.assert_close(whole.features, batched.features, atol=atol, rtol=0)
    torch.testing.assert_close(whole.similarities, batched.similarities, atol=atol, rtol=0)
    assert torch.equal(whole.num_valid_views, batched.num_valid_views)


def test_resized_view_projects_to_the_same_relative_pixel():
    view = _camera(height=40, width=60)
    small = resize_camera_view(view, (25, 33))
    np.testing.assert_allclose(
        small.intrinsics, rescale_intrinsics(view.intrinsics, (40, 60), (25, 33))
    )
    point = np.array([0.07, -0.05, 0.9])  # camera frame = base frame (identity pose)
    uv_full = (view.intrinsics @ point)[:2] / point[2]
    uv_small = (small.intrinsics @ point)[:2] / point[2]
    # Same position relative to the image edges (pixel-centre convention).
    np.testing.assert_allclose((uv_small + 0.5) / [33, 25], (uv_full + 0.5) / [60, 40], atol=1e-12)
    assert small.color_rgb.shape == (25, 33, 3) and small.color_rgb.dtype == np.uint8
    assert small.depth_m.shape == (25, 33) and np.all(small.depth_m == 1.0)


def test_rescale_intrinsics_known_numbers():
    k = np.array([[914.01, 0.0, 640.0], [0.0, 914.01, 360.0], [0.0, 0.0, 1.0]])
    half = rescale_intrinsics(k, (720, 1280), (360, 640))
    np.testing.assert_allclose(
        half, [[457.005, 0.0, 319.75], [0.0, 457.005, 179.75], [0.0, 0.0, 1.0]]
    )


# ----------------------------------------------------------------------------- validation


def test_camera_view_validation():
    good = _camera()
    color, depth, k, pose = good.color_rgb, good.depth_m, good.intrinsics, good.base_from_camera
    with pytest.raises(ValueError, match=r"color_rgb.*uint8"):
        CameraView(color.astype(np.float32), depth, k, pose)
    with pytest.raises(ValueError, match=r"color_rgb.*\(H, W, 3\)"):
        CameraView(color[..., :2].copy(), depth, k, pose)
    with pytest.raises(ValueError, match=r"depth_m.*float"):
        CameraView(color, (depth * 1000).astype(np.uint16), k, pose)
    with pytest.raises(ValueError, match="does not match"):
        CameraView(color, depth[:-1], k, pose)
    bad_k = k.copy()
    bad_k[0, 2] = np.nan
    with pytest.raises(ValueError, match=r"intrinsics.*finite"):
        CameraView(color, depth, bad_k, pose)
    with pytest.raises(ValueError, match="intrinsics"):
        CameraView(color, depth, k[:2], pose)
    scaled = np.diag([2.0, 2.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="rigid"):
        CameraView(color, depth, k, scaled)
    mirrored = np.diag([1.0, 1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="rigid"):
        CameraView(color, depth, k, mirrored)
    with pytest.raises(ValueError, match="last row"):
        CameraView(color, depth, k, np.vstack([pose[:3], [0.0, 0.0, 1.0, 1.0]]))


def test_projection_input_validation():
    view_features = _pixel_features(_camera())
    with pytest.raises(ValueError, match="points_m"):
        fuse_point_features(np.zeros((4, 2)), [view_features], MU)
    with pytest.raises(ValueError, match="finite"):
        fuse_point_features(np.array([[0.0, np.inf, 1.0]]), [view_features], MU)
    with pytest.raises(ValueError, match="at least one camera"):
        fuse_point_features(np.zeros((1, 3)), [], MU)
    bad = ViewFeatures(view_features.view, view_features.feature_map, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="similarity_map"):
        fuse_point_features(np.zeros((1, 3)), [bad], MU)


# ----------------------------------------------------------------------------- sampling


def test_top_k_and_normalisation_known_numbers():
    sims = torch.tensor([0.1, 0.5, 0.3, 0.9, 0.2])
    assert select_top_k(sims, 3).tolist() == [3, 1, 2]
    assert select_top_k(sims, 500).tolist() == [3, 1, 2, 4, 0]  # N < k: all, descending
    normalised = normalise_similarities(torch.tensor([0.9, 0.5, 0.3]), 1e-4)
    expected = [1.0, (0.2 + 1e-4) / (0.6 + 1e-4), 1e-4 / (0.6 + 1e-4)]
    np.testing.assert_allclose(normalised.numpy(), expected, rtol=1e-5)
    assert normalise_similarities(torch.tensor([0.4]), 1e-4).tolist() == [1.0]


def test_sample_points_selects_then_normalises():
    points = np.arange(15, dtype=np.float32).reshape(5, 3)
    fused = PointClipFeatures(
        features=torch.arange(10, dtype=torch.float32).view(5, 2),
        similarities=torch.tensor([0.1, 0.5, 0.3, 0.9, 0.2]),
        num_valid_views=torch.ones(5, dtype=torch.long),
    )
    sampled = sample_points(points, fused, top_k=2, epsilon=1e-4)
    assert sampled.indices.tolist() == [3, 1]
    assert sampled.positions_m.tolist() == [[9.0, 10.0, 11.0], [3.0, 4.0, 5.0]]
    assert sampled.features.tolist() == [[6.0, 7.0], [2.0, 3.0]]
    np.testing.assert_allclose(sampled.similarities.numpy(), [1.0, 1e-4 / (0.4 + 1e-4)], rtol=1e-5)
    with pytest.raises(ValueError, match="no points"):
        sample_points(
            np.zeros((0, 3)), PointClipFeatures(torch.zeros(0, 2), torch.zeros(0), torch.zeros(0))
        )


# ----------------------------------------------------------------------------- loading


def test_missing_model_directory_is_a_clear_error(tmp_path):
    missing = tmp_path / "no_such_clip"
    config = ClipFeatureConfig(model_name_or_path=str(missing))
    with pytest.raises(ClipModelNotFound, match="no_such_clip") as info:
        ClipFeatureExtractor.from_pretrained(config)
    assert isinstance(info.value, FileNotFoundError)


def test_uncached_repo_id_is_a_clear_error_without_download(tmp_path):
    config = ClipFeatureConfig(
        model_name_or_path="openai/clip-vit-large-patch14-336", cache_dir=str(tmp_path)
    )
    with pytest.raises(ClipModelNotFound, match=r"clip-vit-large-patch14-336.*never downloaded"):
        ClipFeatureExtractor.from_pretrained(config)


def test_empty_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ClipModelNotFound, match=re.escape(str(tmp_path))):
        ClipFeatureExtractor.from_pretrained(ClipFeatureConfig(model_name_or_path=str(tmp_path)))


def test_saved_model_loads_offline_and_gives_the_same_features(extractor, tmp_path):
    extractor.model.save_pretrained(tmp_path)
    extractor.tokenizer.save_pretrained(tmp_path)
    config = ClipFeatureConfig(model_name_or_path=str(tmp_path), **GOLDEN.TINY_FEATURE_CONFIG)
    loaded = ClipFeatureExtractor.from_pretrained(config)
    torch.testing.assert_close(loaded.encode_text("red mug"), extractor.encode_text("red mug"))
    image = np.random.default_rng(8).integers(0, 256, (56, 112, 3), dtype=np.uint8)
    torch.testing.assert_close(loaded.image_feature_map(image), extractor.image_feature_map(image))


def test_patch_size_mismatch_is_refused(extractor):
    with pytest.raises(ValueError, match="patch_size_px"):
        ClipFeatureExtractor(
            extractor.model,
            extractor.tokenizer,
            ClipFeatureConfig(patch_size_px=16, tile_short_side_px=48),
        )


# ----------------------------------------------------------------------------- goldens


# float32 unit roundoff
U32 = 2.0**-24


def golden_atol(golden: dict, key: str) -> float:
    """Tolerance of one float key of clip_tiny.json, derived from its computation.

    `float32_max_abs_errors[key]` is the largest |float32 - float64| over the key's values,
    measured when the golden was made (make_clip_golden.float32_errors). Another CPU rounds in
    another order with per-element errors of the same kind, at most about twice as large (no
    fused multiply-add: two roundings per multiply-add): |here - there| <= 3x that. Plus the
    final float32 rounding of values up to max|v| on either side (2 u32 max|v|) and the golden's
    8-decimal rounding (5e-9). The 8-bit tile resize is exact on any CPU (float64 filter), so
    no pixel changes level between machines; a changed level would exceed this.
    """
    magnitude = float(np.max(np.abs(np.asarray(golden[key], dtype=np.float64))))
    return 3.0 * golden["float32_max_abs_errors"][key] + 2.0 * U32 * magnitude + 5e-9


def _check_golden(got: dict, golden: dict) -> list[str]:
    """Keys of clip_tiny.json that `got` does not match (floats within golden_atol)."""
    broken = [key for key in ("num_valid_views", "top_k_indices") if got[key] != golden[key]]
    for key in GOLDEN.FLOAT_KEYS:
        difference = np.abs(np.asarray(got[key]) - np.asarray(golden[key]))
        if float(difference.max()) > golden_atol(golden, key):
            broken.append(key)
    return broken


def test_golden_point_features(extractor):
    golden = json.loads((GOLDEN_DIR / "clip_tiny.json").read_text())
    points, views = GOLDEN.make_scene()
    sums = GOLDEN.checksums(extractor, points, views)
    assert sums["parameters_abs"] == pytest.approx(golden["checksums"]["parameters_abs"], rel=1e-9)
    assert sums["colors"] == golden["checksums"]["colors"]
    got = GOLDEN.compute(extractor)
    for key in GOLDEN.FLOAT_KEYS:
        np.testing.assert_allclose(got[key], golden[key], atol=golden_atol(golden, key), rtol=0)
    assert got["num_valid_views"] == golden["num_valid_views"]
    assert got["top_k_indices"] == golden["top_k_indices"]


@pytest.mark.parametrize(
    ("weight", "expected"),
    [
        ("vision_model.encoder.layers.0.mlp.fc1.weight", {"features", "similarities"}),
        ("visual_projection.weight", {"features", "similarities"}),
        ("text_model.encoder.layers.1.self_attn.v_proj.weight", {"text_embedding"}),
    ],
)
def test_golden_catches_one_weight_changed_by_1e_3(tmp_path, weight, expected):
    golden = json.loads((GOLDEN_DIR / "clip_tiny.json").read_text())
    changed = GOLDEN.make_extractor(tmp_path)
    with torch.no_grad():
        changed.model.get_parameter(weight).view(-1)[3] += 1e-3
    broken = set(_check_golden(GOLDEN.compute(changed), golden))
    assert expected <= broken, f"{weight} + 1e-3 went unnoticed by {sorted(expected - broken)}"


def test_network_inputs_shapes(extractor):
    points, views = GOLDEN.make_scene()
    sampled = extractor.network_inputs(points, views, GOLDEN.TEXT)
    k = GOLDEN.TINY_FEATURE_CONFIG["top_k_points"]
    assert sampled.positions_m.shape == (k, 3)
    assert sampled.features.shape == (k, 16)
    assert sampled.similarities.shape == (k,)
    assert float(sampled.similarities.max()) == pytest.approx(1.0)
    assert float(sampled.similarities.min()) > 0.0


def test_bfloat16_runs_and_stays_close(extractor):
    config = ClipFeatureConfig(**GOLDEN.TINY_FEATURE_CONFIG | {"dtype": "bfloat16"})
    half = ClipFeatureExtractor(GOLDEN.make_tiny_clip(), extractor.tokenizer, config)
    image = np.random.default_rng(9).integers(0, 256, (56, 112, 3), dtype=np.uint8)
    low = half.image_feature_map(image)
    assert low.dtype == torch.float32
    reference = extractor.image_feature_map(image)
    cosine = F.cosine_similarity(low.reshape(-1, 16), reference.reshape(-1, 16), dim=-1)
    assert float(cosine.min()) > 0.95


def test_the_budget_is_checked_before_every_tile_batch_and_can_stop_the_view(extractor):
    image = np.random.default_rng(6).integers(0, 256, (56, 112, 3), dtype=np.uint8)
    calls: list[int] = []
    extractor.image_feature_map(image, lambda: calls.append(1))
    assert len(calls) == 3  # 2x4 tiles in batches of 3

    class OverBudgetError(Exception):
        pass

    def stop_on_second_batch() -> None:
        calls.append(1)
        if len(calls) > 4:
            raise OverBudgetError

    # The same image again comes from the tile cache: no CLIP pass, so no budget check.
    extractor.image_feature_map(image, lambda: calls.append(1))
    assert len(calls) == 3
    other = np.random.default_rng(7).integers(0, 256, (56, 112, 3), dtype=np.uint8)
    with pytest.raises(OverBudgetError):
        extractor.image_feature_map(other, stop_on_second_batch)
    assert len(calls) == 5  # the second batch of this view was never run
