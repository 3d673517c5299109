"""Golden numbers of every GraspNet stage at reduced sizes (see golden/make_graspnet_golden.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

GOLDEN_DIR = Path(__file__).parents[1] / "golden"
# Float32 sums over a few thousand terms: ordering differences stay far below this.
RTOL, ATOL = 1e-4, 1e-5


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "make_graspnet_golden", GOLDEN_DIR / "make_graspnet_golden.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def computed():
    threads = torch.get_num_threads()
    try:
        return _load_script().compute()
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def golden():
    return json.loads((GOLDEN_DIR / "graspnet_small.json").read_text())["values"]


@pytest.mark.parametrize(
    "key",
    [
        "fps_first",
        "fps_sum",
        "ball_sum",
        "ball_first",
        "view_argmax_first",
        "crop_sum",
        "crop_first",
        "decoded_count",
        "candidate_count",
        "candidate_ids",
    ],
)
def test_indices_and_counts_are_exact(computed, golden, key):
    assert computed[key] == golden[key]


@pytest.mark.parametrize(
    "key",
    [
        "input_sum",
        "seed_xyz_sum",
        "seed_features_sum",
        "seed_features_abs_sum",
        "objectness_sum",
        "view_score_sum",
        "grasp_score_sum",
        "grasp_angle_sum",
        "grasp_width_sum",
        "grasp_tolerance_sum",
        "decoded_score_sum",
        "decoded_width_sum",
        "decoded_depth_sum",
        "candidate_quality",
        "candidate_poses",
    ],
)
def test_values_match(computed, golden, key):
    torch.testing.assert_close(
        torch.tensor(computed[key], dtype=torch.float64),
        torch.tensor(golden[key], dtype=torch.float64),
        rtol=RTOL,
        atol=ATOL,
    )
