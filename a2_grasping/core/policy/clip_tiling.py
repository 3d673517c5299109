"""Image processing for the A2 policy's CLIP features (spec §1.4): each view resized and cut into
the tiles CLIP sees, the tiles' maps stitched back.

Pixel (u, v) = (column, row) with integer coordinates at pixel centres. No model, no ROS.
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

from a2_grasping.core.geometry import check_intrinsics, describe_value
from a2_grasping.core.policy.clip_config import ClipFeatureConfig
from a2_grasping.core.scene import CameraView

if TYPE_CHECKING:
    pass


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
