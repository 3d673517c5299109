"""Regenerate `graspnet_small.json`, golden numbers of every GraspNet stage at reduced sizes.

Run from the repository root, against the source tree:

    PYTHONPATH=. .venv/bin/python test/core/golden/make_graspnet_golden.py

Only regenerate after a deliberate change to the maths, and say why in the commit. The model is
`random_graspnet(SEED, SMALL)` (seeded float64 draws, calibrated batch norm); the input is a
seeded synthetic scene. Each stage is pinned by a few exact values and sums: FPS and query
indices, seed features, network heads, decoded grasps and the final candidates.

`float32_errors` records, next to the values, how far each float sum's terms lie from a float64
evaluation of the same model: the tolerances in test_golden.py are derived from them.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from a2_grasping.core.graspnet import (
    GraspNetArchitecture,
    GraspNetConfig,
    GraspNetGenerator,
    point_ops,
)
from a2_grasping.core.graspnet.model import GraspNet, GraspNetOutput
from a2_grasping.core.graspnet.processing import (
    decode_predictions,
    sample_network_input,
    unmirror,
    voxel_downsample_open3d,
)
from a2_grasping.testing.random_graspnet import random_graspnet, three_object_scene

GOLDEN_PATH = Path(__file__).with_name("graspnet_small.json")
SEED = 20250521
SMALL = GraspNetArchitecture(
    sa_npoint=(256, 128, 64, 32), sa_nsample=(32, 16, 16, 16), crop_nsample=16
)
NUM_POINTS = 2048
CONFIG = GraspNetConfig(num_points=NUM_POINTS)


def scene_points() -> np.ndarray:
    cloud = three_object_scene(SEED, points_per_object=1500)
    return cloud[cloud[:, 2] > 0.003]


# Network outputs whose float32 rounding error is measured against a float64 evaluation of the
# same model on the same input: golden key -> GraspNetOutput field (None: the backbone's seed
# features, which the output does not carry).
NETWORK_SUMS = {
    "seed_features_sum": None,
    "objectness_sum": "objectness_score",
    "view_score_sum": "view_score",
    "grasp_score_sum": "grasp_score_pred",
    "grasp_angle_sum": "grasp_angle_cls_pred",
    "grasp_width_sum": "grasp_width_pred",
    "grasp_tolerance_sum": "grasp_tolerance_pred",
}
DECODED_SUMS = {"decoded_score_sum": "score", "decoded_width_sum": "width_m"}
# Sums are weak checks (a change in one output hides among thousands), so every output is also
# pinned element by element on the first SLICE_SEEDS seeds, every channel: golden key -> output
# field. A changed weight moves whole channels, so these catch it (test_golden.py shows it).
SLICE_SEEDS = 2
NETWORK_SLICES = {
    "seed_features_slice": None,
    "objectness_slice": "objectness_score",
    "view_score_slice": "view_score",
    "grasp_score_slice": "grasp_score_pred",
    "grasp_angle_slice": "grasp_angle_cls_pred",
    "grasp_width_slice": "grasp_width_pred",
    "grasp_tolerance_slice": "grasp_tolerance_pred",
}


def seed_slice(field: str | None, seed_features: torch.Tensor, out: GraspNetOutput) -> torch.Tensor:
    """The first SLICE_SEEDS seeds of one output, all channels (seeds are dim 1 of the seed
    features (B, S, C) and view scores (B, S, V), dim 2 of the heads (B, C, S[, D]))."""
    if field is None:
        return seed_features[0, :SLICE_SEEDS]  # (s, C)
    tensor = getattr(out, field)
    if field == "view_score":
        return tensor[0, :SLICE_SEEDS]  # (s, V)
    return tensor[0, :, :SLICE_SEEDS]  # (C, s) or (A, s, D)


def network_input() -> np.ndarray:
    """The seeded (N, 3) network input: scene, voxelised, drawn to NUM_POINTS (base frame)."""
    return sample_network_input(
        voxel_downsample_open3d(scene_points(), CONFIG.input_voxel_m),
        NUM_POINTS,
        np.random.default_rng(SEED),
    )


def _forward(
    model: GraspNet, sample: np.ndarray, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, GraspNetOutput]:
    cloud = torch.from_numpy(-sample).to(dtype)[None]
    with torch.inference_mode():
        seed_xyz, seed_features, _ = model.view_estimator.backbone(cloud)
        return cloud, seed_xyz, seed_features, model(cloud)


def compute(model: GraspNet | None = None, sample: np.ndarray | None = None) -> dict[str, Any]:
    """Every pinned number, from the seeded model and input (or the given ones, for tests that
    check a changed model or input is caught)."""
    torch.set_num_threads(1)
    model = random_graspnet(SEED, SMALL) if model is None else model
    sample = network_input() if sample is None else sample
    cloud, seed_xyz, seed_features, out = _forward(model, sample, torch.float32)
    with torch.inference_mode():
        fps = point_ops.furthest_point_sample(cloud, SMALL.sa_npoint[0])
        centres = point_ops.gather_points(cloud, fps)
        ball = point_ops.ball_query(SMALL.sa_radius_m[0], SMALL.sa_nsample[0], cloud, centres)
        crop = point_ops.cylinder_query(
            SMALL.cylinder_radius_m,
            SMALL.hmin_m,
            SMALL.hmax_m,
            SMALL.crop_nsample,
            cloud,
            out.fp2_xyz,
            out.grasp_top_view_rot,
        )
    grasps = unmirror(decode_predictions(out, CONFIG.width_factor))
    candidates = GraspNetGenerator(model, CONFIG).generate(
        scene_points(), 0.0, np.random.default_rng(SEED)
    )

    def total(tensor: torch.Tensor) -> float:
        return float(tensor.double().sum())

    slices = {
        key: seed_slice(field, seed_features, out).double().flatten().tolist()
        for key, field in NETWORK_SLICES.items()
    }
    return slices | {
        "parameters_abs_sum": parameters_abs_sum(model),
        "input_sum": float(sample.sum()),
        "fps_first": fps[0, :16].tolist(),
        "fps_sum": int(fps.sum()),
        "ball_sum": int(ball.sum()),
        "ball_first": ball[0, 0].tolist(),
        "seed_xyz_sum": total(seed_xyz),
        "seed_features_sum": total(seed_features),
        "seed_features_abs_sum": total(seed_features.abs()),
        "objectness_sum": total(out.objectness_score),
        "view_argmax_first": out.view_score[0].argmax(dim=1)[:16].tolist(),
        "view_score_sum": total(out.view_score),
        "crop_sum": int(crop.sum()),
        "crop_first": crop[0, 0, 3].tolist(),
        "grasp_score_sum": total(out.grasp_score_pred),
        "grasp_angle_sum": total(out.grasp_angle_cls_pred),
        "grasp_width_sum": total(out.grasp_width_pred),
        "grasp_tolerance_sum": total(out.grasp_tolerance_pred),
        "decoded_count": len(grasps),
        "decoded_score_sum": float(grasps.score.sum()),
        "decoded_width_sum": float(grasps.width_m.sum()),
        "decoded_depth_sum": float(grasps.depth_m.sum()),
        "candidate_count": len(candidates),
        "candidate_ids": candidates.candidate_id[:8].tolist(),
        "candidate_poses": np.round(candidates.tcp_poses[:3], 8).tolist(),
        "candidate_quality": np.round(candidates.quality[:8], 8).tolist(),
    }


def parameters_abs_sum(model: GraspNet) -> float:
    """Sum of |w| over every float parameter and buffer, in float64 (pins the seeded model)."""
    return float(
        sum(t.double().abs().sum() for t in model.state_dict().values() if t.is_floating_point())
    )


def float32_errors() -> dict[str, dict[str, float]]:
    """How far the float32 evaluation lies from exact arithmetic, per pinned float sum.

    The same model (its float32 weights, widened exactly) runs once in float64; per summed
    tensor we keep n (its element count), sum_abs_error = sum_i |y32_i - y64_i| and
    max_abs_error = max_i |y32_i - y64_i|. These are this computation's own float32 rounding
    errors: another CPU (SIMD width, kernel, thread split) rounds in another order, with errors
    of the same size, so two float32 evaluations differ by at most about twice these numbers
    (test_golden.py turns them into tolerances). Decoded values take the same argmax decisions
    in both runs (checked here), so their errors are those of the selected outputs.
    """
    model = random_graspnet(SEED, SMALL)
    wide = copy.deepcopy(model).double()
    sample = network_input()
    _, _, features32, out32 = _forward(model, sample, torch.float32)
    _, _, features64, out64 = _forward(wide, sample, torch.float64)
    errors: dict[str, dict[str, float]] = {}

    def record(key: str, low: torch.Tensor, high: torch.Tensor) -> None:
        difference = (low.double() - high.double()).abs()
        errors[key] = {
            "n": int(difference.numel()),
            "sum_abs_error": float(difference.sum()),
            "max_abs_error": float(difference.max()),
        }

    for key, field in NETWORK_SUMS.items():
        if field is None:
            record(key, features32, features64)
        else:
            record(key, getattr(out32, field), getattr(out64, field))
    for key, field in NETWORK_SLICES.items():
        record(key, seed_slice(field, features32, out32), seed_slice(field, features64, out64))
    decoded32 = decode_predictions(out32, CONFIG.width_factor)
    decoded64 = decode_predictions(out64, CONFIG.width_factor)
    if not np.array_equal(decoded32.seed_index, decoded64.seed_index) or not np.array_equal(
        decoded32.depth_m, decoded64.depth_m
    ):
        raise RuntimeError("float32 and float64 took different decode decisions; pick a new seed")
    for key, field in DECODED_SUMS.items():
        record(
            key,
            torch.from_numpy(getattr(decoded32, field)),
            torch.from_numpy(getattr(decoded64, field)),
        )
    return errors


def main() -> None:
    golden = {
        "description": "GraspNet stages at reduced sizes; see make_graspnet_golden.py.",
        "seed": SEED,
        "torch_version": torch.__version__,
        "values": compute(),
        "float32_errors": float32_errors(),
    }
    GOLDEN_PATH.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {GOLDEN_PATH}")


if __name__ == "__main__":
    main()
