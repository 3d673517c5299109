"""Regenerate `clip_tiny.json`, the golden per-point CLIP features of a tiny seeded CLIP.

Run from the repository root, against the source tree:

    PYTHONPATH=. .venv/bin/python test/core/golden/make_clip_golden.py

Only regenerate after a deliberate change to the feature maths (tiling, MaskCLIP, projection,
fusion, sampling), and say why in the commit. The model is a tiny random `transformers.CLIPModel`
whose weights are overwritten from a seeded torch.Generator, so the golden does not depend on
transformers' initialisers; the JSON also stores checksums of the weights and inputs, so a change
in torch's random stream is told apart from a change in the maths. Nothing is downloaded: the
tokenizer is built from a 56-entry vocabulary written to a temporary directory.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

from a2_grasping.core.policy.clip_config import ClipFeatureConfig
from a2_grasping.core.policy.clip_features import ClipFeatureExtractor
from a2_grasping.core.policy.point_fusion import sample_points
from a2_grasping.core.scene import CameraView
from a2_grasping.testing.offline_clip import LETTER_VOCAB_SIZE, letter_tokenizer

GOLDEN_PATH = Path(__file__).with_name("clip_tiny.json")
SEED = 20250601
TEXT = "grasp the red mug"
# Vision: 3x3 native patch grid (image_size 42, patch 14), so tiles always interpolate positions.
TINY_VISION = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": 42,
    "patch_size": 14,
}
TINY_TEXT = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "max_position_embeddings": 77,
}
PROJECTION_DIM = 16
# 56 x 112 images, 2 x 4 tiles of 28 x 28 px, each resized to 42 x 42 -> 3 x 3 patches: map 6 x 12.
# One camera is 60 x 96 instead: tiles 30 x 24 (portrait) -> 52 x 42 -> 3 x 3 patches.
TINY_FEATURE_CONFIG = {
    "tile_rows": 2,
    "tile_cols": 4,
    "tile_short_side_px": 42,
    "patch_size_px": 14,
    "top_k_points": 6,
    "point_batch_size": 5,
    "tile_batch_size": 3,
}


def make_tiny_tokenizer(directory: Path) -> CLIPTokenizer:
    """A letter-level CLIP tokenizer: enough to exercise padding and EOT pooling offline."""
    return letter_tokenizer(directory)


def _uniform(generator: torch.Generator, shape: tuple[int, ...], low: float, high: float) -> Tensor:
    """Uniform samples drawn in float64 so the stream does not depend on float32 rounding."""
    unit = torch.rand(shape, generator=generator, dtype=torch.float64)
    return (low + (high - low) * unit).to(torch.float32)


def make_tiny_clip(seed: int = SEED) -> CLIPModel:
    """The tiny CLIPModel with every weight drawn from a seeded generator (sorted key order)."""
    torch.manual_seed(seed)
    text = dict(TINY_TEXT, vocab_size=LETTER_VOCAB_SIZE, bos_token_id=0, eos_token_id=1)
    text["pad_token_id"] = 1
    config = CLIPConfig(text_config=text, vision_config=TINY_VISION, projection_dim=PROJECTION_DIM)
    model = CLIPModel(config).eval()
    generator = torch.Generator().manual_seed(seed)
    state = model.state_dict()
    new_state = {}
    for key in sorted(state):
        shape = tuple(state[key].shape)
        if key == "logit_scale":
            new_state[key] = state[key]
        elif "norm" in key and key.endswith(".weight"):
            new_state[key] = _uniform(generator, shape, 0.8, 1.2)
        elif len(shape) >= 2 and "embedding" not in key:
            bound = 2.0 / math.sqrt(math.prod(shape[1:]))
            new_state[key] = _uniform(generator, shape, -bound, bound)
        else:  # biases, class/position/token embeddings
            new_state[key] = _uniform(generator, shape, -0.5, 0.5)
    model.load_state_dict(new_state, strict=True)
    return model


def _look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """base_from_camera for an OpenCV camera at `position` looking at `target` (+y roughly down)."""
    forward = target - position
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right = right / np.linalg.norm(right)
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, down, forward], axis=1)
    pose[:3, 3] = position
    return pose


def _plane_depth(pose: np.ndarray, intrinsics: np.ndarray, height: int, width: int) -> np.ndarray:
    """Perspective depth (optical-axis z) of the table plane z = 0 seen by the camera."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    rays_cam = np.stack(
        [
            (cols - intrinsics[0, 2]) / intrinsics[0, 0],
            (rows - intrinsics[1, 2]) / intrinsics[1, 1],
            np.ones_like(cols),
        ],
        axis=-1,
    )  # (H, W, 3) at unit depth
    rays_base = rays_cam @ pose[:3, :3].T  # (H, W, 3)
    depth = -pose[2, 3] / rays_base[..., 2]  # z along the optical axis where the ray hits z = 0
    return np.where(depth > 0.0, depth, 0.0)


def make_scene(seed: int = SEED) -> tuple[np.ndarray, list[CameraView]]:
    """Two cameras above a table plane, random colours, and probe points (on, above, below)."""
    rng = np.random.default_rng(seed)
    views = []
    cameras = [
        (np.array([0.9, 0.0, 0.5]), (56, 112)),
        (np.array([0.3, 0.4, 0.45]), (60, 96)),
    ]
    target = np.array([0.5, 0.0, 0.0])
    for position, (height, width) in cameras:
        intrinsics = np.array(
            [[80.0, 0.0, (width - 1) / 2.0], [0.0, 80.0, (height - 1) / 2.0], [0.0, 0.0, 1.0]]
        )
        pose = _look_at(position, target)
        color = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        depth = _plane_depth(pose, intrinsics, height, width).astype(np.float32)
        depth[:3, :5] = np.nan  # a patch of missing depth
        views.append(CameraView(color, depth, intrinsics, pose))
    xy = rng.uniform([0.35, -0.15], [0.65, 0.15], size=(10, 2))
    heights = np.array([0.0, 0.0, 0.0, 0.0, 0.005, 0.01, 0.03, 0.06, -0.01, -0.05])
    points = np.column_stack([xy, heights])  # (10, 3): on, slightly above, above, below the plane
    outside = np.array([[3.0, 3.0, 0.0], [0.5, 0.0, 0.6]])  # out of view; behind camera 0's plane
    return np.vstack([points, outside]).astype(np.float32), views


def make_extractor(directory: Path, seed: int = SEED) -> ClipFeatureExtractor:
    """The tiny model and tokenizer wrapped with the tiny feature config."""
    config = ClipFeatureConfig(model_name_or_path=str(directory), **TINY_FEATURE_CONFIG)
    return ClipFeatureExtractor(make_tiny_clip(seed), make_tiny_tokenizer(directory), config)


def checksums(extractor: ClipFeatureExtractor, points: np.ndarray, views: list[CameraView]) -> Any:
    """Sums pinning weights and inputs independently of the feature maths."""
    state = extractor.model.state_dict()
    return {
        "parameters_abs": float(sum(t.double().abs().sum() for t in state.values())),
        "points": float(np.asarray(points, dtype=np.float64).sum()),
        "colors": [int(view.color_rgb.astype(np.int64).sum()) for view in views],
        "depths": [float(np.nansum(view.depth_m.astype(np.float64))) for view in views],
    }


def compute(extractor: ClipFeatureExtractor) -> dict[str, Any]:
    """Everything the golden pins, from the seeded model and scene."""
    points, views = make_scene()
    fused = extractor.point_features(points, views, TEXT)
    sampled = sample_points(
        points,
        fused,
        extractor.config.top_k_points,
        extractor.config.sim_norm_epsilon,
    )
    return {
        "checksums": checksums(extractor, points, views),
        "text_embedding": extractor.encode_text(TEXT).tolist(),
        "features": fused.features.tolist(),
        "similarities": fused.similarities.tolist(),
        "num_valid_views": fused.num_valid_views.tolist(),
        "top_k_indices": sampled.indices.tolist(),
        "top_k_similarities": sampled.similarities.tolist(),
    }


FLOAT_KEYS = ("text_embedding", "features", "similarities", "top_k_similarities")


def float32_errors(directory: Path) -> dict[str, float]:
    """Largest |float32 - float64| per float key: the same weights run once in float64.

    CLIP runs in float64 (model and pixels widened exactly); the projection and fusion, which
    take the feature maps as float32, are the same few operations in both runs, so what this
    measures is the float32 rounding of the CLIP forward pass (and of its text tower), the bulk
    of the computation. Another CPU rounds in another order with errors of the same size:
    test_clip_features.py derives its tolerances from these numbers. The point sets (valid
    views, top-k) must come out identical, or the comparison would mean nothing.
    """
    narrow = make_extractor(directory)
    wide = make_extractor(directory)
    cast(torch.nn.Module, wide.model).double()
    wide.dtype = torch.float64
    low, high = compute(narrow), compute(wide)
    for key in ("num_valid_views", "top_k_indices"):
        if low[key] != high[key]:
            raise RuntimeError(f"float32 and float64 disagree on {key}; pick another seed")
    return {
        key: float(np.max(np.abs(np.asarray(low[key]) - np.asarray(high[key]))))
        for key in FLOAT_KEYS
    }


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as directory:
        extractor = make_extractor(Path(directory))
        values = compute(extractor)
        errors = float32_errors(Path(directory))
    rounded = json.loads(json.dumps(values), parse_float=lambda text: round(float(text), 8))
    golden = {
        "description": "Per-point features of a tiny seeded CLIP; see make_clip_golden.py.",
        "seed": SEED,
        "text": TEXT,
        "feature_config": TINY_FEATURE_CONFIG,
        **rounded,
        "float32_max_abs_errors": errors,
        "torch_version": torch.__version__,
    }
    # One top-level key per line, each value compact: small, and diffs still show what moved.
    lines = [f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in golden.items()]
    GOLDEN_PATH.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"wrote {GOLDEN_PATH}")
    print(json.dumps(golden["num_valid_views"]), json.dumps(golden["top_k_indices"]))


if __name__ == "__main__":
    main()
