"""Per-point CLIP features and text similarities for the A2 policy (spec §1.4, §1.5, §3.6).

The fusion network never sees the text: language reaches it only through per-point visual features
and their similarity to the text (spec §0.1). Those must be computed exactly the way the training
data was made, so this module reproduces upstream's recipe with `transformers` weights:

1. each RGB view is cut into 3x4 tiles, each tile resized (short side 336, aspect kept, no crop);
2. dense MaskCLIP patch features: the last ViT block is replaced by its value path;
3. tiles are stitched into one feature map per view and a similarity map is computed per patch;
4. points are projected into every view, checked against the observed depth (mu = 0.02 m) and the
   view features are fused; then the top-500 points are kept and their similarity normalised.

Conventions: points and poses are in the robot base frame (the spec's world frame) in metres;
cameras use the OpenCV optical frame (+z forward, +x right, +y down); pixel (u, v) = (column, row)
with integer coordinates at pixel centres. Nothing here imports ROS.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from numpy.typing import NDArray
from torch import Tensor

from a2_grasping.core.geometry import check_intrinsics, describe_value
from a2_grasping.core.policy.clip_config import ClipFeatureConfig
from a2_grasping.core.scene import CameraView

if TYPE_CHECKING:
    from transformers import CLIPModel, PreTrainedTokenizerBase
    from transformers.models.clip.modeling_clip import CLIPEncoderLayer

# A projected point with |depth| below this lies in the camera's focal plane: invalid (spec §1.4).
PROJECTION_MIN_ABS_DEPTH_M = 1e-4
# Observed depth must exceed this for a view to count (spec §1.4: D > -1e-4).
OBSERVED_DEPTH_MIN_M = -1e-4
# Added to the valid-view count in the fusion denominator (spec §1.4, step 6).
FUSION_COUNT_EPSILON = 1e-6
# DINO-style fudge added to the target patch grid when interpolating position embeddings.
POSITION_GRID_FUDGE = 0.1
# Normalised grid coordinates are clamped to this magnitude: far outside the image either way,
# but finite, so grid_sample never sees inf.
GRID_COORD_LIMIT = 1e4
# OpenAI CLIP text context length (clip.tokenize pads to 77 tokens).
CLIP_CONTEXT_LENGTH = 77
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


class ClipModelNotFound(FileNotFoundError):  # noqa: N818 (FileNotFoundError is the base meaning)
    """The CLIP checkpoint is not on disk; it is never downloaded at run time (spec §7 item 24)."""

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"CLIP model not found: {source!r}. {detail}")
        self.source = source


# ----------------------------------------------------------------------------- data records


@dataclass(frozen=True, eq=False)
class ViewFeatures:
    """A view with its stitched patch feature map and the per-patch text similarity."""

    view: CameraView
    feature_map: Tensor  # (h_patches, w_patches, C) float32, not normalised
    similarity_map: Tensor  # (h_patches, w_patches) float32 cosine similarity to the text


@dataclass(frozen=True, eq=False)
class PointClipFeatures:
    """Fused per-point features and similarities (upstream `clip_feats`, `clip_sims[:, 0]`)."""

    features: Tensor  # (N, C) float32
    similarities: Tensor  # (N,) float32
    num_valid_views: Tensor  # (N,) int64, views that passed the depth-consistency test


@dataclass(frozen=True, eq=False)
class SampledPoints:
    """The network's point inputs: top-k by similarity, similarity min-max normalised (§1.5)."""

    positions_m: Tensor  # (K, 3) float32 base-frame metres
    features: Tensor  # (K, C) float32
    similarities: Tensor  # (K,) float32 in (0, 1]
    indices: Tensor  # (K,) int64 into the input points


# ----------------------------------------------------------------------------- validation


def _check_points(points_m: object) -> None:
    if not isinstance(points_m, np.ndarray | Tensor):
        raise ValueError(f"points_m: expected an (N, 3) array, got {describe_value(points_m)}")
    if points_m.ndim != 2 or points_m.shape[1] != 3:
        raise ValueError(f"points_m: expected shape (N, 3), got {tuple(points_m.shape)}")
    finite = (
        bool(np.all(np.isfinite(points_m)))
        if isinstance(points_m, np.ndarray)
        else bool(torch.isfinite(points_m).all())
    )
    if not finite:
        raise ValueError("points_m: all coordinates must be finite")


# ----------------------------------------------------------------------------- geometry helpers


def rescale_intrinsics(
    intrinsics: NDArray[np.floating[Any]],
    from_hw: tuple[int, int],
    to_hw: tuple[int, int],
) -> NDArray[np.float64]:
    """K for an image resized from `from_hw` to `to_hw` (pixel-centre convention).

    A resize maps pixel edges to pixel edges, so u' + 0.5 = (u + 0.5) * W'/W. Resizing without
    this is upstream's defect (spec §7 item 4): every projection lands on the wrong pixel.
    """
    check_intrinsics(intrinsics)
    (from_h, from_w), (to_h, to_w) = from_hw, to_hw
    if min(from_h, from_w, to_h, to_w) <= 0:
        raise ValueError(f"rescale_intrinsics: sizes must be positive, got {from_hw} -> {to_hw}")
    scale_x, scale_y = to_w / from_w, to_h / from_h
    scaled = np.asarray(intrinsics, dtype=np.float64).copy()
    scaled[0, :] *= scale_x  # fx, skew, cx
    scaled[1, :] *= scale_y  # fy, cy
    scaled[0, 2] += 0.5 * scale_x - 0.5
    scaled[1, 2] += 0.5 * scale_y - 0.5
    scaled[2, :] = (0.0, 0.0, 1.0)
    return scaled


def resize_rgb(color: Tensor, size_hw: tuple[int, int]) -> Tensor:
    """Bicubic resize of 0..255 RGB (B, 3, H, W) float, rounded back to 8-bit levels.

    torch's antialiased bicubic uses PIL's kernel (a = -0.5) and PIL's border handling, and the
    rounding to 0..255 mirrors the uint8 PIL image upstream feeds to ToTensor. The filter runs in
    float64: the rounding is a step, and in float32 a value within ~1e-5 of a half level lands
    on either side depending on the CPU's SIMD width, changing a pixel by one level (and the
    CLIP features around it by ~1e-5) from one machine to the next. In float64 such ties are
    ~1e-13 away and the 8-bit result is the same on any CPU.
    """
    resized = F.interpolate(
        color.double(), size=size_hw, mode="bicubic", align_corners=False, antialias=True
    )  # (B, 3, h, w)
    return resized.round().clamp(0.0, 255.0).to(color.dtype)


def resize_camera_view(view: CameraView, size_hw: tuple[int, int]) -> CameraView:
    """The same view at another resolution, with K rescaled to match (never one without the other).

    Colour is resized like the CLIP tiles; depth with nearest-exact so no depth is invented across
    object edges; 0/NaN keep meaning "no data".
    """
    height, width = size_hw
    if height < 2 or width < 2:
        raise ValueError(f"resize_camera_view: need at least 2x2 pixels, got {size_hw}")
    color = torch.from_numpy(np.ascontiguousarray(view.color_rgb)).float()  # (H, W, 3)
    color = resize_rgb(color.permute(2, 0, 1)[None], size_hw)[0]  # (3, h, w)
    depth = torch.from_numpy(np.asarray(view.depth_m, dtype=np.float64))  # (H, W)
    depth = F.interpolate(depth[None, None], size=size_hw, mode="nearest-exact")[0, 0]  # (h, w)
    return CameraView(
        color_rgb=color.permute(1, 2, 0).to(torch.uint8).numpy(),
        depth_m=depth.numpy().astype(view.depth_m.dtype),
        intrinsics=rescale_intrinsics(
            view.intrinsics, (view.height_px, view.width_px), (height, width)
        ),
        base_from_camera=np.asarray(view.base_from_camera, dtype=np.float64).copy(),
        name=view.name,
    )


# ----------------------------------------------------------------------------- tiling


@dataclass(frozen=True)
class TileLayout:
    """How one image is cut into tiles and how large each tile becomes for CLIP."""

    rows: int
    cols: int
    tile_h_px: int  # tile size in the source image
    tile_w_px: int
    resized_h_px: int  # tile size fed to CLIP
    resized_w_px: int
    patches_h: int  # patch grid of one tile
    patches_w: int

    @property
    def map_shape(self) -> tuple[int, int]:
        """Stitched per-image patch map (rows, columns): 72x128 for 720x1280 upstream."""
        return self.rows * self.patches_h, self.cols * self.patches_w


def tile_layout(image_hw: tuple[int, int], config: ClipFeatureConfig) -> TileLayout:
    """Tile geometry for an image, as upstream computes it (spec §1.4, Tiling).

    Tiles are floor(H / rows) x floor(W / cols) px; a remainder of fewer than `rows` (`cols`)
    pixels at the bottom (right) edge is not covered. Each tile is resized so its shorter side is
    `tile_short_side_px`, the longer side int(short_target * long / short) as torchvision's
    Resize(int) does; the patch grid is what the stride-`patch` convolution produces from it.
    """
    height, width = image_hw
    rows, cols = config.tile_rows, config.tile_cols
    tile_h, tile_w = height // rows, width // cols
    if tile_h < 1 or tile_w < 1:
        raise ValueError(
            f"image {height}x{width} is too small for {rows}x{cols} tiles (tile_rows/tile_cols)"
        )
    short_target = config.tile_short_side_px
    if tile_h <= tile_w:
        resized_h, resized_w = short_target, int(short_target * tile_w / tile_h)
    else:
        resized_h, resized_w = int(short_target * tile_h / tile_w), short_target
    patch = config.patch_size_px
    return TileLayout(
        rows=rows,
        cols=cols,
        tile_h_px=tile_h,
        tile_w_px=tile_w,
        resized_h_px=resized_h,
        resized_w_px=resized_w,
        patches_h=resized_h // patch,
        patches_w=resized_w // patch,
    )


def preprocess_tiles(
    color_rgb: NDArray[np.uint8],
    config: ClipFeatureConfig,
    indices: Sequence[int] | None = None,
) -> Tensor:
    """Cut an RGB image into tiles (row-major) and turn them into CLIP pixel values.

    Returns (rows * cols, 3, resized_h, resized_w) float32: resized, scaled to [0, 1] and
    normalised with the CLIP mean/std. No centre crop: a crop would break the pixel -> patch map.
    `indices` (row-major tile numbers): only those tiles, in that order (each tile is resized on
    its own, so a tile's pixels do not depend on which others are prepared with it).
    """
    if not isinstance(color_rgb, np.ndarray) or color_rgb.dtype != np.uint8:
        raise ValueError(
            f"color_rgb: expected a uint8 numpy array, got {describe_value(color_rgb)}"
        )
    if color_rgb.ndim != 3 or color_rgb.shape[2] != 3:
        raise ValueError(f"color_rgb: expected shape (H, W, 3), got {color_rgb.shape}")
    layout = tile_layout((color_rgb.shape[0], color_rgb.shape[1]), config)
    image = torch.from_numpy(np.ascontiguousarray(color_rgb)).permute(2, 0, 1).float()  # (3,H,W)
    count = layout.rows * layout.cols
    chosen = list(range(count)) if indices is None else [int(i) for i in indices]
    if any(not 0 <= i < count for i in chosen):
        raise ValueError(f"indices: tile numbers must lie in 0..{count - 1}, got {chosen}")
    if not chosen:
        return torch.zeros(0, 3, layout.resized_h_px, layout.resized_w_px)
    tiles = [
        image[
            :,
            (i // layout.cols) * layout.tile_h_px : (i // layout.cols + 1) * layout.tile_h_px,
            (i % layout.cols) * layout.tile_w_px : (i % layout.cols + 1) * layout.tile_w_px,
        ]
        for i in chosen
    ]
    batch = torch.stack(tiles)  # (T, 3, tile_h, tile_w)
    batch = resize_rgb(batch, (layout.resized_h_px, layout.resized_w_px)) / 255.0  # (T, 3, h, w)
    mean = torch.tensor(config.pixel_mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(config.pixel_std, dtype=torch.float32).view(1, 3, 1, 1)
    return (batch - mean) / std  # (T, 3, h, w)


def stitch_tiles(tile_maps: Tensor, rows: int, cols: int) -> Tensor:
    """(rows * cols, h, w, C) row-major tile maps -> one (rows * h, cols * w, C) image map."""
    if tile_maps.ndim != 4 or tile_maps.shape[0] != rows * cols:
        raise ValueError(
            f"stitch_tiles: expected ({rows * cols}, h, w, C), got {tuple(tile_maps.shape)}"
        )
    _, height, width, channels = tile_maps.shape
    grid = tile_maps.reshape(rows, cols, height, width, channels)  # (r, c, h, w, C)
    return grid.permute(0, 2, 1, 3, 4).reshape(rows * height, cols * width, channels)


def tiles_needed(
    points_m: NDArray[np.floating[Any]] | Tensor, view: CameraView, layout: TileLayout
) -> NDArray[np.bool_]:
    """(rows * cols,) row-major: the tiles whose patch cells the fusion can read for `points_m`.

    fuse_point_features samples a view's stitched (Hf, Wf) map bilinearly with align_corners at
    x = u (Wf - 1) / (W - 1), y = v (Hf - 1) / (H - 1): cells floor(x) and floor(x) + 1 (and the
    same in y), cells outside the map read as zero. A tile is needed when one of those cells, or
    one more cell on either side (the margin covers float32 vs float64 rounding of x and y),
    falls inside it for some point the fusion could weigh in: every point in front of or behind
    the camera by at least half the projection limit (a superset of the fusion's valid points,
    which also pass the depth test). A tile no such point reaches is sampled only with weight
    zero or not at all, so leaving it zero changes no fused feature. Everything is float64.
    """
    _check_points(points_m)
    count = layout.rows * layout.cols
    points = np.asarray(
        points_m.detach().cpu().numpy() if isinstance(points_m, Tensor) else points_m,
        dtype=np.float64,
    )  # (N, 3)
    needed = np.zeros(count, dtype=bool)
    if len(points) == 0:
        return needed
    camera_from_base = view.camera_from_base()
    points_cam = points @ camera_from_base[:3, :3].T + camera_from_base[:3, 3]  # (N, 3)
    depth = points_cam[:, 2]
    keep = np.abs(depth) >= 0.5 * PROJECTION_MIN_ABS_DEPTH_M
    if not keep.any():
        return needed
    pixels = (points_cam[keep] @ np.asarray(view.intrinsics, np.float64).T)[:, :2]
    pixels = pixels / depth[keep, None]  # (n, 2) u, v
    map_h, map_w = layout.map_shape
    x = pixels[:, 0] * (map_w - 1) / max(view.width_px - 1, 1)
    y = pixels[:, 1] * (map_h - 1) / max(view.height_px - 1, 1)
    inside = (
        np.isfinite(x) & np.isfinite(y) & (x > -3) & (x < map_w + 2) & (y > -3) & (y < map_h + 2)
    )
    base_x = np.floor(x[inside]).astype(np.int64)  # (m,)
    base_y = np.floor(y[inside]).astype(np.int64)
    for dy in range(-1, 3):  # the two bilinear cells and one cell of margin either side
        cell_y = base_y + dy
        for dx in range(-1, 3):
            cell_x = base_x + dx
            on_map = (cell_x >= 0) & (cell_x < map_w) & (cell_y >= 0) & (cell_y < map_h)
            tile = (cell_y[on_map] // layout.patches_h) * layout.cols + (
                cell_x[on_map] // layout.patches_w
            )
            needed[np.unique(tile)] = True
    return needed


# ----------------------------------------------------------------------------- MaskCLIP


def interpolate_position_embeddings(
    position_embeddings: Tensor, grid_hw: tuple[int, int]
) -> Tensor:
    """Resize ViT position embeddings (1 + g*g, D) to a (h, w) patch grid -> (1 + h*w, D).

    DINO-style, as upstream: bicubic with align_corners=False and scale factors (h + 0.1) / g,
    (w + 0.1) / g. The fudge keeps the output size at exactly h x w, and because the scale factor
    (not the size ratio) sets the sampling positions, it shifts them slightly; that is kept for
    compatibility. The class embedding is passed through; an unchanged grid returns the input.
    """
    if position_embeddings.ndim != 2:
        raise ValueError(
            f"position_embeddings: expected (1 + g*g, D), got {tuple(position_embeddings.shape)}"
        )
    num_patches = position_embeddings.shape[0] - 1
    native = math.isqrt(num_patches)
    if native * native != num_patches or native == 0:
        raise ValueError(f"position_embeddings: {num_patches} patch positions is not a square grid")
    height, width = grid_hw
    if height < 1 or width < 1:
        raise ValueError(f"grid_hw must be positive, got {grid_hw}")
    if (height, width) == (native, native):
        return position_embeddings
    dim = position_embeddings.shape[1]
    class_embedding = position_embeddings[:1]  # (1, D)
    patch_grid = position_embeddings[1:].float().reshape(1, native, native, dim)
    patch_grid = patch_grid.permute(0, 3, 1, 2)  # (1, D, g, g)
    resized = F.interpolate(
        patch_grid,
        scale_factor=(
            (height + POSITION_GRID_FUDGE) / native,
            (width + POSITION_GRID_FUDGE) / native,
        ),
        mode="bicubic",
        align_corners=False,
        recompute_scale_factor=False,
    )  # (1, D, h, w)
    if tuple(resized.shape[-2:]) != (height, width):
        raise RuntimeError(
            f"position interpolation gave {tuple(resized.shape[-2:])}, not {grid_hw}"
        )
    patches = resized.permute(0, 2, 3, 1).reshape(height * width, dim)  # (h*w, D)
    return torch.cat([class_embedding, patches.to(position_embeddings.dtype)], dim=0)


def value_path(layer: CLIPEncoderLayer, hidden: Tensor) -> Tensor:
    """MaskCLIP's last block: out_proj(v_proj(layer_norm1(x))); no attention, residual or MLP.

    Every token keeps its own value vector, which is what makes the patch outputs local.
    """
    attention = layer.self_attn
    values: Tensor = attention.out_proj(attention.v_proj(layer.layer_norm1(hidden)))  # (B, T, D)
    return values


def maskclip_patch_features(
    model: CLIPModel, pixel_values: Tensor, positions: Tensor | None = None
) -> Tensor:
    """Dense MaskCLIP features (B, 3, H, W) -> (B, H // p, W // p, proj_dim), not normalised.

    `positions` (1 + h*w, D): the interpolated position embeddings, when the caller has them for
    its fixed tile size (graph exporters such as OpenVINO cannot trace the interpolation).
    """
    vision = model.vision_model
    embeddings = vision.embeddings
    dtype = embeddings.patch_embedding.weight.dtype
    patches = embeddings.patch_embedding(pixel_values.to(dtype))  # (B, D, h, w)
    batch, _, grid_h, grid_w = patches.shape
    tokens = patches.flatten(2).transpose(1, 2)  # (B, h*w, D)
    class_token = embeddings.class_embedding.to(dtype).expand(batch, 1, -1)  # (B, 1, D)
    tokens = torch.cat([class_token, tokens], dim=1)  # (B, 1 + h*w, D)
    if positions is None:
        positions = interpolate_position_embeddings(
            embeddings.position_embedding.weight, (grid_h, grid_w)
        )  # (1 + h*w, D)
    hidden = vision.pre_layrnorm(tokens + positions.to(dtype)[None])  # (B, 1 + h*w, D)
    layers = [cast("CLIPEncoderLayer", layer) for layer in vision.encoder.layers]
    for layer in layers[:-1]:
        hidden = layer(hidden, None)  # (B, 1 + h*w, D)
    hidden = value_path(layers[-1], hidden)  # (B, 1 + h*w, D)
    hidden = vision.post_layernorm(hidden[:, 1:])  # (B, h*w, D)
    projected: Tensor = model.visual_projection(hidden)  # (B, h*w, proj_dim)
    return projected.reshape(batch, grid_h, grid_w, -1)


def similarity_map(feature_map: Tensor, text_embedding: Tensor) -> Tensor:
    """Cosine similarity of each patch feature to the text: (h, w, C), (C,) -> (h, w)."""
    if feature_map.shape[-1] != text_embedding.shape[-1]:
        raise ValueError(
            f"feature dim {feature_map.shape[-1]} != text embedding dim {text_embedding.shape[-1]}"
        )
    unit_features = F.normalize(feature_map.float(), dim=-1)  # (h, w, C)
    unit_text = F.normalize(text_embedding.float(), dim=-1)  # (C,)
    return unit_features @ unit_text  # (h, w)


# ----------------------------------------------------------------------------- projection


def _sample(image: Tensor, grid: Tensor, mode: str) -> Tensor:
    """grid_sample of a (C, H, W) map at (n, 2) normalised (x, y) -> (n, C), zero padding."""
    sampled = F.grid_sample(
        image[None], grid[None, None], mode=mode, padding_mode="zeros", align_corners=True
    )  # (1, C, 1, n)
    return sampled[0, :, 0].T


def fuse_point_features(
    points_m: NDArray[np.floating[Any]] | Tensor,
    views: Sequence[ViewFeatures],
    depth_tolerance_m: float,
    batch_size: int = 60_000,
) -> PointClipFeatures:
    """Project base-frame points into every view and fuse the sampled features (spec §1.4).

    Per view: project, look the observed depth up (nearest), keep the view if the point lies at
    most mu behind the surface, weight exp(min(mu - |dist|, 0) / mu), sample features and
    similarity (bilinear, align_corners=True, normalised by the image size), then
    value = sum(feat * valid * w) / (sum(valid) + 1e-6). The weights are in the numerator only,
    as the network was trained (spec §7 item 27).
    """
    _check_points(points_m)
    if not views:
        raise ValueError("views: at least one camera view is needed (no global fallback)")
    if not depth_tolerance_m > 0.0:
        raise ValueError(f"depth_tolerance_m must be > 0, got {depth_tolerance_m}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    channels = views[0].feature_map.shape[-1]
    for index, item in enumerate(views):
        fmap, smap = item.feature_map, item.similarity_map
        if fmap.ndim != 3 or fmap.shape[-1] != channels:
            raise ValueError(
                f"views[{index}].feature_map: expected (h, w, {channels}), got {tuple(fmap.shape)}"
            )
        if tuple(smap.shape) != tuple(fmap.shape[:2]):
            raise ValueError(
                f"views[{index}].similarity_map: shape {tuple(smap.shape)} does not match the "
                f"feature map grid {tuple(fmap.shape[:2])}"
            )
    device = views[0].feature_map.device
    points = torch.as_tensor(points_m, dtype=torch.float32).to(device)  # (N, 3)
    prepared = [_prepare_view(item, device) for item in views]
    features, similarities, counts = [], [], []
    for start in range(0, points.shape[0], batch_size):
        chunk = points[start : start + batch_size]  # (n, 3)
        feat_sum = torch.zeros(chunk.shape[0], channels, device=device)  # (n, C)
        sim_sum = torch.zeros(chunk.shape[0], device=device)  # (n,)
        valid_count = torch.zeros(chunk.shape[0], device=device)  # (n,)
        for view in prepared:
            valid, weight, grid = _project(chunk, view, depth_tolerance_m)
            contribution = valid.float() * weight  # (n,)
            feat_sum += _sample(view.feature_map, grid, "bilinear") * contribution[:, None]
            sim_sum += _sample(view.similarity_map, grid, "bilinear")[:, 0] * contribution
            valid_count += valid.float()
        denominator = valid_count + FUSION_COUNT_EPSILON  # (n,)
        features.append(feat_sum / denominator[:, None])
        similarities.append(sim_sum / denominator)
        counts.append(valid_count.round().long())
    if not features:
        return PointClipFeatures(
            features=torch.zeros(0, channels),
            similarities=torch.zeros(0),
            num_valid_views=torch.zeros(0, dtype=torch.long),
        )
    return PointClipFeatures(
        features=torch.cat(features).cpu(),
        similarities=torch.cat(similarities).cpu(),
        num_valid_views=torch.cat(counts).cpu(),
    )


@dataclass(frozen=True, eq=False)
class _PreparedView:
    camera_from_base: Tensor  # (3, 4)
    intrinsics: Tensor  # (3, 3)
    depth_m: Tensor  # (1, H, W), no data = 0
    feature_map: Tensor  # (C, h, w)
    similarity_map: Tensor  # (1, h, w)
    height_px: int
    width_px: int


def _prepare_view(item: ViewFeatures, device: torch.device) -> _PreparedView:
    view = item.view
    depth = torch.from_numpy(np.asarray(view.depth_m, dtype=np.float32)).to(device)  # (H, W)
    depth = torch.where(torch.isfinite(depth), depth, torch.zeros_like(depth))
    return _PreparedView(
        camera_from_base=torch.from_numpy(view.camera_from_base()[:3]).float().to(device),
        intrinsics=torch.from_numpy(np.asarray(view.intrinsics, dtype=np.float32)).to(device),
        depth_m=depth[None],
        feature_map=item.feature_map.float().to(device).permute(2, 0, 1).contiguous(),
        similarity_map=item.similarity_map.float().to(device)[None],
        height_px=view.height_px,
        width_px=view.width_px,
    )


def _project(
    points: Tensor, view: _PreparedView, depth_tolerance_m: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Validity (n,) bool, depth weight (n,) and normalised sampling grid (n, 2) of one view."""
    rotation, translation = view.camera_from_base[:, :3], view.camera_from_base[:, 3]
    points_cam = points @ rotation.T + translation  # (n, 3)
    depth = points_cam[:, 2]  # (n,)
    projectable = depth.abs() >= PROJECTION_MIN_ABS_DEPTH_M  # (n,)
    safe_depth = torch.where(projectable, depth, torch.ones_like(depth))  # (n,)
    pixels = (points_cam @ view.intrinsics.T)[:, :2] / safe_depth[:, None]  # (n, 2) u, v
    scale = torch.tensor(
        [2.0 / (view.width_px - 1), 2.0 / (view.height_px - 1)], device=points.device
    )
    grid = (pixels * scale - 1.0).clamp(-GRID_COORD_LIMIT, GRID_COORD_LIMIT)  # (n, 2)
    grid = torch.where(projectable[:, None], grid, torch.full_like(grid, -GRID_COORD_LIMIT))
    observed = _sample(view.depth_m, grid, "nearest")[:, 0]  # (n,)
    dist = observed - depth  # (n,) positive: point in front of the surface
    valid = projectable & (observed > OBSERVED_DEPTH_MIN_M) & (dist > -depth_tolerance_m)
    weight = torch.exp(torch.clamp(depth_tolerance_m - dist.abs(), max=0.0) / depth_tolerance_m)
    return valid, weight, grid


# ----------------------------------------------------------------------------- sampling


def select_top_k(similarities: Tensor, k: int) -> Tensor:
    """Indices of the k most similar points, most similar first; all points if fewer than k."""
    if similarities.ndim != 1:
        raise ValueError(f"similarities: expected shape (N,), got {tuple(similarities.shape)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    order = torch.argsort(similarities, descending=True, stable=True)  # (N,)
    return order[:k]


def normalise_similarities(similarities: Tensor, epsilon: float = 1e-4) -> Tensor:
    """s' = (s - min + eps) / (max - min + eps) over the given points (spec §1.5): in (0, 1]."""
    if similarities.ndim != 1 or similarities.shape[0] == 0:
        raise ValueError(
            f"similarities: expected a non-empty (N,), got {tuple(similarities.shape)}"
        )
    low, high = similarities.min(), similarities.max()
    return (similarities - low + epsilon) / (high - low + epsilon)


def sample_points(
    points_m: NDArray[np.floating[Any]] | Tensor,
    point_features: PointClipFeatures,
    top_k: int = 500,
    epsilon: float = 1e-4,
) -> SampledPoints:
    """Top-k points by similarity, then min-max normalise their similarity (order: select first)."""
    _check_points(points_m)
    positions = torch.as_tensor(points_m, dtype=torch.float32).cpu()  # (N, 3)
    if positions.shape[0] != point_features.similarities.shape[0]:
        raise ValueError(
            f"points_m has {positions.shape[0]} points but the features have "
            f"{point_features.similarities.shape[0]}"
        )
    if positions.shape[0] == 0:
        raise ValueError("points_m: no points to sample from (empty workspace?)")
    indices = select_top_k(point_features.similarities, top_k)  # (K,)
    return SampledPoints(
        positions_m=positions[indices],
        features=point_features.features[indices],
        similarities=normalise_similarities(point_features.similarities[indices], epsilon),
        indices=indices,
    )


# ----------------------------------------------------------------------------- the extractor


def load_clip(config: ClipFeatureConfig) -> tuple[CLIPModel, PreTrainedTokenizerBase]:
    """CLIP model and tokenizer from a local directory or the local HF cache, never the network.

    A path (absolute, relative with ./ or ../, ~, or an existing directory) is loaded as is; any
    other string is taken as a Hugging Face repo id that must already be in the cache.
    """
    from transformers import AutoTokenizer, CLIPModel

    source = config.model_name_or_path
    path = Path(source).expanduser()
    is_path = path.exists() or path.is_absolute() or source.startswith((".", "~"))
    cache_dir = config.cache_dir or None
    if is_path:
        if not path.is_dir():
            raise ClipModelNotFound(
                str(path), "No such directory; point model_name_or_path at a saved CLIPModel."
            )
        location = str(path)
        detail = (
            f"The directory {path} exists but does not hold a loadable transformers CLIPModel and "
            "tokenizer (config.json, model.safetensors, tokenizer files)."
        )
    else:
        location = source
        where = cache_dir or "the default Hugging Face cache (HF_HUB_CACHE / HF_HOME)"
        detail = (
            f"It is not in {where} and is never downloaded at run time; pre-stage it, e.g. "
            f"`hf download {source}` on a machine with network access, or give a local directory."
        )
    try:
        model = CLIPModel.from_pretrained(location, local_files_only=True, cache_dir=cache_dir)
        tokenizer = AutoTokenizer.from_pretrained(
            location, local_files_only=True, cache_dir=cache_dir
        )
    except OSError as error:
        raise ClipModelNotFound(location, f"{detail} ({error})") from error
    return model, tokenizer


# Called before each CLIP forward pass; raises to stop a computation that is over its budget.
BudgetCheck = Callable[[], None]


def _no_budget() -> None:
    """No budget: benchmarks and offline tools run to the end."""


@dataclass
class ClipCacheStats:
    """What the caches saved since the extractor was built (or since `reset`)."""

    tiles_computed: int = 0  # CLIP forward passes of one tile
    tiles_reused: int = 0  # tiles taken from the per-image cache
    tiles_skipped: int = 0  # tiles no point could read (left zero)
    texts_encoded: int = 0
    texts_reused: int = 0

    def reset(self) -> None:
        self.tiles_computed = self.tiles_reused = self.tiles_skipped = 0
        self.texts_encoded = self.texts_reused = 0


def image_key(color_rgb: NDArray[np.uint8]) -> str:
    """Content key of an image: its shape and a BLAKE2b digest of its bytes (~1 ms for 640x480).

    Keyed by content rather than by the scene's stamp, a cached map can never belong to another
    image that happens to carry the same stamp (a re-published or replayed scene)."""
    data = np.ascontiguousarray(color_rgb)
    digest = hashlib.blake2b(data.data.cast("B"), digest_size=16).hexdigest()
    return f"{data.shape}:{digest}"


class _TileCache:
    """Per-tile CLIP maps of the last `max_images` images, least recently used dropped first."""

    def __init__(self, max_images: int) -> None:
        self._max_images = max_images
        self._images: OrderedDict[str, dict[int, Tensor]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[int, Tensor]:
        with self._lock:
            tiles = self._images.get(key)
            if tiles is None:
                return {}
            self._images.move_to_end(key)
            return dict(tiles)

    def put(self, key: str, tiles: dict[int, Tensor]) -> None:
        if self._max_images == 0:
            return
        with self._lock:
            self._images.setdefault(key, {}).update(tiles)
            self._images.move_to_end(key)
            while len(self._images) > self._max_images:
                self._images.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._images.clear()

    def __len__(self) -> int:
        return len(self._images)


class ClipFeatureExtractor:
    """Loaded once (spec §7 item 4), then turns views + text into per-point features.

    Caches (bounded, per extractor, so a reload starts empty): the text embedding per
    instruction, and each image's per-tile CLIP maps keyed by the image's content. Both assume
    the model's weights do not change after construction; call `clear_caches` if they do.
    """

    def __init__(
        self,
        model: CLIPModel,
        tokenizer: PreTrainedTokenizerBase,
        config: ClipFeatureConfig | None = None,
    ) -> None:
        self.config = config or ClipFeatureConfig()
        patch = int(model.vision_model.embeddings.patch_embedding.kernel_size[0])
        if patch != self.config.patch_size_px:
            raise ValueError(
                f"patch_size_px={self.config.patch_size_px} does not match the model's patch "
                f"size {patch}"
            )
        self.device = torch.device(self.config.device)
        self.dtype = _DTYPES[self.config.dtype]
        # On a GPU, reduced precision runs under autocast: weights stay float32 and autocast keeps
        # the numerically sensitive ops (layer norms, softmax, reductions) in float32. On a CPU
        # the weights are cast (measured and scored that way; CPU autocast is no faster).
        self.autocast_dtype: torch.dtype | None = (
            self.dtype if self.device.type == "cuda" and self.dtype != torch.float32 else None
        )
        weight_dtype = torch.float32 if self.autocast_dtype is not None else self.dtype
        # Cast: transformers' `to` wrapper confuses mypy; at run time its override still runs.
        module = cast(torch.nn.Module, model)
        module.to(device=self.device, dtype=weight_dtype)
        module.eval().requires_grad_(False)
        self.model = model
        self.tokenizer = tokenizer
        self.cache_stats = ClipCacheStats()
        self._tiles = _TileCache(self.config.cache_images)
        self._texts: OrderedDict[str, Tensor] = OrderedDict()
        self._text_lock = threading.Lock()

    @classmethod
    def from_pretrained(cls, config: ClipFeatureConfig | None = None) -> ClipFeatureExtractor:
        """Load the checkpoint named in the config (offline) and wrap it."""
        config = config or ClipFeatureConfig()
        model, tokenizer = load_clip(config)
        return cls(model, tokenizer, config)

    @property
    def feature_dim(self) -> int:
        """Per-point feature length (768 for ViT-L/14@336px)."""
        return int(self.model.visual_projection.out_features)

    def clear_caches(self) -> None:
        """Forget every cached tile map and text embedding (e.g. after changing weights)."""
        self._tiles.clear()
        with self._text_lock:
            self._texts.clear()

    @contextlib.contextmanager
    def _compute(self) -> Iterator[None]:
        """inference_mode, and autocast where the extractor runs reduced precision on a GPU."""
        with torch.inference_mode():
            if self.autocast_dtype is None:
                yield
            else:
                with torch.autocast(self.device.type, dtype=self.autocast_dtype):
                    yield

    def image_feature_map(
        self,
        color_rgb: NDArray[np.uint8],
        check_budget: BudgetCheck = _no_budget,
        needed: NDArray[np.bool_] | None = None,
    ) -> Tensor:
        """(H, W, 3) uint8 -> stitched (rows * h, cols * w, C) float32 MaskCLIP patch map (CPU).

        `needed` (rows * cols,) bool, row-major: compute only those tiles and leave the others
        zero (see `tiles_needed`); None: every tile. Tiles of this image computed before (same
        content) come from the cache. The budget is checked before every batch of tiles run.
        """
        if not isinstance(color_rgb, np.ndarray) or color_rgb.ndim != 3:
            preprocess_tiles(color_rgb, self.config)  # raises the descriptive error
        layout = tile_layout((color_rgb.shape[0], color_rgb.shape[1]), self.config)
        count = layout.rows * layout.cols
        wanted = np.ones(count, dtype=bool) if needed is None else np.asarray(needed, dtype=bool)
        if wanted.shape != (count,):
            raise ValueError(f"needed: expected ({count},) bools, got shape {wanted.shape}")
        use_cache = self.config.cache_images > 0
        key = image_key(color_rgb) if use_cache else ""
        stored = self._tiles.get(key) if use_cache else {}
        maps = {i: stored[i] for i in np.flatnonzero(wanted).tolist() if i in stored}
        todo = [i for i in np.flatnonzero(wanted).tolist() if i not in stored]
        self.cache_stats.tiles_reused += len(maps)
        self.cache_stats.tiles_skipped += int(count - wanted.sum())
        if todo:
            pixels = preprocess_tiles(color_rgb, self.config, todo)  # (T, 3, h_px, w_px)
            computed: dict[int, Tensor] = {}
            try:
                with self._compute():
                    for start in range(0, len(todo), self.config.tile_batch_size):
                        check_budget()
                        batch = pixels[start : start + self.config.tile_batch_size]
                        out = maskclip_patch_features(self.model, batch.to(self.device))
                        out = out.float().cpu()  # (b, h, w, C)
                        for offset, index in enumerate(todo[start : start + len(out)]):
                            computed[index] = out[offset]
            finally:  # tiles finished before a budget stop are kept for the next request
                self.cache_stats.tiles_computed += len(computed)
                if use_cache:
                    self._tiles.put(key, computed)
            maps.update(computed)
        channels = self.feature_dim
        tile_maps = torch.zeros(count, layout.patches_h, layout.patches_w, channels)
        for index, tile_map in maps.items():
            tile_maps[index] = tile_map
        return stitch_tiles(tile_maps, layout.rows, layout.cols)

    def encode_text(self, text: str) -> Tensor:
        """L2-normalised text embedding (C,): 77-token context, EOT pooling, text_projection."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"text: expected a non-empty instruction, got {text!r}")
        with self._text_lock:
            cached = self._texts.get(text)
            if cached is not None:
                self._texts.move_to_end(text)
                self.cache_stats.texts_reused += 1
                return cached.clone()
        context = int(self.model.text_model.embeddings.position_embedding.num_embeddings)
        context = min(context, CLIP_CONTEXT_LENGTH)
        unpadded = self.tokenizer(text)["input_ids"]
        if len(unpadded) > context:
            raise ValueError(
                f"text: {len(unpadded)} tokens exceed CLIP's context of {context}; shorten it "
                "(upstream clip.tokenize refuses it too)"
            )
        tokens = self.tokenizer(
            text, padding="max_length", max_length=context, truncation=True, return_tensors="pt"
        )
        input_ids = tokens["input_ids"].to(self.device)  # (1, 77)
        with self._compute():
            pooled = self.model.text_model(input_ids=input_ids).pooler_output  # (1, D_text)
            embedding = self.model.text_projection(pooled)[0].float()  # (C,)
        unit = F.normalize(embedding.float(), dim=-1).cpu()
        self.cache_stats.texts_encoded += 1
        if self.config.text_cache_size > 0:
            with self._text_lock:
                self._texts[text] = unit.clone()
                while len(self._texts) > self.config.text_cache_size:
                    self._texts.popitem(last=False)
        return unit

    def view_features(
        self,
        view: CameraView,
        text_embedding: Tensor,
        check_budget: BudgetCheck = _no_budget,
        points_m: NDArray[np.floating[Any]] | Tensor | None = None,
    ) -> ViewFeatures:
        """Feature and similarity maps of one view; with `points_m` (and skip_empty_tiles) only
        the tiles those points can read are computed."""
        needed = None
        if points_m is not None and self.config.skip_empty_tiles:
            layout = tile_layout((view.height_px, view.width_px), self.config)
            needed = tiles_needed(points_m, view, layout)
        feature_map = self.image_feature_map(view.color_rgb, check_budget, needed)  # (h, w, C)
        return ViewFeatures(view, feature_map, similarity_map(feature_map, text_embedding))

    def point_features(
        self,
        points_m: NDArray[np.floating[Any]] | Tensor,
        views: Sequence[CameraView],
        text: str,
        check_budget: BudgetCheck = _no_budget,
    ) -> PointClipFeatures:
        """Fused per-point features and similarities for base-frame points (spec §1.4)."""
        _check_points(points_m)
        if not views:
            raise ValueError("views: camera data is required; there is no global-CLIP fallback")
        text_embedding = self.encode_text(text)  # (C,)
        per_view = [
            self.view_features(view, text_embedding, check_budget, points_m) for view in views
        ]
        return fuse_point_features(
            points_m, per_view, self.config.depth_tolerance_m, self.config.point_batch_size
        )

    def network_inputs(
        self,
        points_m: NDArray[np.floating[Any]] | Tensor,
        views: Sequence[CameraView],
        text: str,
        check_budget: BudgetCheck = _no_budget,
    ) -> SampledPoints:
        """Everything §1.4-§1.5 produce for the fusion network: top-k points, features, s'."""
        fused = self.point_features(points_m, views, text, check_budget)
        return sample_points(
            points_m, fused, self.config.top_k_points, self.config.sim_norm_epsilon
        )
