"""3-D fusion of the A2 policy's CLIP maps (spec §1.4, §1.5): points projected into every view,
checked against the observed depth, the view features fused per point; then the top-k points by
similarity sampled as the fusion network's inputs.

Points are in the robot base frame in metres; cameras use the OpenCV optical frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from numpy.typing import NDArray
from torch import Tensor

from a2_grasping.core.geometry import describe_value
from a2_grasping.core.policy.clip_tiling import TileLayout
from a2_grasping.core.scene import CameraView

if TYPE_CHECKING:
    pass


# A projected point with |depth| below this lies in the camera's focal plane: invalid (spec §1.4).
PROJECTION_MIN_ABS_DEPTH_M = 1e-4


# Observed depth must exceed this for a view to count (spec §1.4: D > -1e-4).
OBSERVED_DEPTH_MIN_M = -1e-4


# Added to the valid-view count in the fusion denominator (spec §1.4, step 6).
FUSION_COUNT_EPSILON = 1e-6


# Normalised grid coordinates are clamped to this magnitude: far outside the image either way,
# but finite, so grid_sample never sees inf.
GRID_COORD_LIMIT = 1e4


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


def check_points(points_m: object) -> None:
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
    check_points(points_m)
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
    check_points(points_m)
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
    check_points(points_m)
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
