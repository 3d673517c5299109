"""Settings of the per-point CLIP field (spec §1.4, §1.5, §3.6); defaults reproduce upstream A2.

The published fusion network was trained on features made with exactly these numbers (3x4 tiles,
short side 336, mu = 0.02 m, top 500, epsilon 1e-4), so changing any of them moves the network's
input distribution. They are configurable for experiments and tests, not for tuning in the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from a2_grasping.core.config_fields import config_field, validate_ranges

# OpenAI CLIP image normalisation (spec §1.4), RGB order.
CLIP_PIXEL_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_PIXEL_STD = (0.26862954, 0.26130258, 0.27577711)
# The transformers name of the checkpoint the spec allows (§3.6): ViT-L/14@336px.
DEFAULT_CLIP_MODEL = "openai/clip-vit-large-patch14-336"
SUPPORTED_DTYPES = ("float32", "bfloat16")


@dataclass(frozen=True)
class ClipFeatureConfig:
    """How images become per-point CLIP features; `ClipFeatureConfig()` is the upstream recipe."""

    model_name_or_path: str = config_field(
        DEFAULT_CLIP_MODEL,
        "CLIP checkpoint: a local transformers directory, or a Hugging Face repo id that is "
        "already in the local cache (never downloaded at run time).",
    )
    cache_dir: str = config_field(
        "",
        "Hugging Face cache directory to look the repo id up in; empty = the default cache "
        "(HF_HUB_CACHE / HF_HOME).",
    )
    tile_rows: int = config_field(
        3, "Tiles per image along the rows (upstream: 3).", min_value=1, max_value=64
    )
    tile_cols: int = config_field(
        4, "Tiles per image along the columns (upstream: 4).", min_value=1, max_value=64
    )
    tile_short_side_px: int = config_field(
        336,
        "Each tile is resized so its shorter side has this many pixels, aspect kept, no crop.",
        min_value=1,
        max_value=4096,
    )
    patch_size_px: int = config_field(
        14,
        "ViT patch size in pixels; must match the checkpoint (14 for ViT-L/14@336px).",
        min_value=1,
        max_value=256,
    )
    pixel_mean: tuple[float, float, float] = config_field(
        CLIP_PIXEL_MEAN, "Per-channel RGB mean of the CLIP normalisation (pixel values in [0, 1])."
    )
    pixel_std: tuple[float, float, float] = config_field(
        CLIP_PIXEL_STD, "Per-channel RGB std of the CLIP normalisation; all > 0."
    )
    depth_tolerance_m: float = config_field(
        0.02,
        "mu of the depth-consistency test: a point may lie at most this far behind the observed "
        "surface and still take that view's feature; also the weight's decay length.",
        min_value=1e-6,
        max_value=1.0,
    )
    top_k_points: int = config_field(
        500,
        "Points kept per scene, highest similarity first (all if fewer).",
        min_value=1,
        max_value=10_000_000,
    )
    sim_norm_epsilon: float = config_field(
        1e-4,
        "z of the min-max normalisation s' = (s - min + z) / (max - min + z).",
        min_value=0.0,
        max_value=1.0,
    )
    point_batch_size: int = config_field(
        60_000,
        "Points projected per batch (bounds peak memory: batch x views x feature dim).",
        min_value=1,
        max_value=100_000_000,
    )
    tile_batch_size: int = config_field(
        1,
        "Tiles per CLIP forward pass. On a CPU one tile already fills the cores and batches are "
        "slower (ViT-L/14@336, 2x2 tiles, Intel Xeon: batch 1 vs 4, fp32 7.8 vs 9.0 s, bf16 1.6 "
        "vs 2.6 s); the selection budget is checked between batches, so a batch bounds how far "
        "a selection can overrun it. Results do not depend on it beyond float rounding.",
        min_value=1,
        max_value=4096,
    )
    skip_empty_tiles: bool = config_field(
        True,
        "Run CLIP only on the tiles whose area, plus the bilinear interpolation's neighbour "
        "cells and one cell of margin, holds a projected point; the others are never sampled "
        "with a non-zero weight, so the fused features are bit-identical (tile_batch_size 1).",
    )
    cache_images: int = config_field(
        4,
        "Per-tile CLIP maps kept for this many recent images (keyed by the image's content): "
        "a grasp and a place on the same scene, or a repeated request, run each tile once. "
        "0 disables the cache. About 1.7 MB per ViT-L tile.",
        min_value=0,
        max_value=1024,
    )
    text_cache_size: int = config_field(
        64,
        "Text embeddings kept for this many recent instructions; 0 disables the cache.",
        min_value=0,
        max_value=100_000,
    )
    dtype: str = config_field(
        "float32",
        "CLIP compute dtype: float32 or bfloat16; features are returned as float32 either way. "
        "On a CUDA device bfloat16 runs under autocast (float32 weights, layer norms and "
        "softmax in float32); on a CPU the weights are cast.",
    )
    device: str = config_field("cpu", "Torch device for CLIP and the projection, e.g. cpu, cuda:0.")

    def __post_init__(self) -> None:
        # Types first: a float tile count or a string mu from YAML should fail here, not in torch.
        for field in fields(self):
            _check_type(field.name, field.default, getattr(self, field.name))
        validate_ranges(self)
        if not self.model_name_or_path.strip():
            raise ValueError("model_name_or_path: must name a directory or a Hugging Face repo id")
        for name in ("pixel_mean", "pixel_std"):
            value = getattr(self, name)
            if (
                not isinstance(value, tuple)
                or len(value) != 3
                or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                    for v in value
                )
            ):
                raise ValueError(f"{name}: expected a tuple of 3 finite numbers, got {value!r}")
        if any(v <= 0.0 for v in self.pixel_std):
            raise ValueError(f"pixel_std: every entry must be > 0, got {self.pixel_std!r}")
        if self.dtype not in SUPPORTED_DTYPES:
            raise ValueError(f"dtype: expected one of {SUPPORTED_DTYPES}, got {self.dtype!r}")
        if self.tile_short_side_px < self.patch_size_px:
            raise ValueError(
                f"tile_short_side_px={self.tile_short_side_px} must be at least "
                f"patch_size_px={self.patch_size_px} (a tile must hold one patch)"
            )
        try:
            torch.device(self.device)
        except (RuntimeError, ValueError) as error:
            raise ValueError(f"device: {self.device!r} is not a torch device ({error})") from error


def _check_type(name: str, default: object, value: object) -> None:
    """The value has the type of the field's default (a bool is no int, an int is a number)."""
    if isinstance(default, str) and not isinstance(value, str):
        raise ValueError(f"{name}: expected a string, got {value!r}")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{name}: expected true or false, got {value!r}")
    elif isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{name}: expected an int, got {value!r}")
    elif isinstance(default, float) and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        raise ValueError(f"{name}: expected a number, got {value!r}")
