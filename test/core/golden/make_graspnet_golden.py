"""Regenerate `graspnet_small.json`, golden numbers of every GraspNet stage at reduced sizes.

Run from the repository root, against the source tree:

    PYTHONPATH=. .venv/bin/python test/core/golden/make_graspnet_golden.py

Only regenerate after a deliberate change to the maths, and say why in the commit. The model is
`random_graspnet(SEED, SMALL)` (seeded float64 draws, calibrated batch norm); the input is a
seeded synthetic scene. Each stage is pinned by a few exact values and sums: FPS and query
indices, seed features, network heads, decoded grasps and the final candidates.
"""

from __future__ import annotations

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
from a2_grasping.core.graspnet.processing import (
    decode_predictions,
    sample_network_input,
    unmirror,
    voxel_downsample_open3d,
)
from a2_grasping.tools.random_graspnet import random_graspnet, three_object_scene

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


def compute() -> dict[str, Any]:
    """Every pinned number, computed from the seeded model and scene."""
    torch.set_num_threads(1)
    model = random_graspnet(SEED, SMALL)
    points = scene_points()
    sample = sample_network_input(
        voxel_downsample_open3d(points, CONFIG.input_voxel_m),
        NUM_POINTS,
        np.random.default_rng(SEED),
    )
    cloud = torch.from_numpy(-sample).float()[None]
    backbone = model.view_estimator.backbone
    with torch.inference_mode():
        fps = point_ops.furthest_point_sample(cloud, SMALL.sa_npoint[0])
        centres = point_ops.gather_points(cloud, fps)
        ball = point_ops.ball_query(SMALL.sa_radius_m[0], SMALL.sa_nsample[0], cloud, centres)
        seed_xyz, seed_features, _ = backbone(cloud)
        out = model(cloud)
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
    candidates = GraspNetGenerator(model, CONFIG).generate(points, 0.0, np.random.default_rng(SEED))

    def total(tensor: torch.Tensor) -> float:
        return float(tensor.double().sum())

    return {
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


def main() -> None:
    golden = {
        "description": "GraspNet stages at reduced sizes; see make_graspnet_golden.py.",
        "seed": SEED,
        "torch_version": torch.__version__,
        "values": compute(),
    }
    GOLDEN_PATH.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {GOLDEN_PATH}")


if __name__ == "__main__":
    main()
