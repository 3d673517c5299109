"""Golden numbers of every GraspNet stage at reduced sizes (see golden/make_graspnet_golden.py).

Indices and counts must match exactly. Every float has a tolerance derived from its computation,
so it holds on any x86_64 CPU (other SIMD widths and BLAS kernels round in another order) and
still catches a real change: the last tests change one weight by 1e-3, or move one input point
by 1 mm, and check that the goldens notice.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

GOLDEN_DIR = Path(__file__).parents[1] / "golden"
# Unit roundoffs: float32 2^-24, float64 2^-53.
U32, U64 = 2.0**-24, 2.0**-53

INDEX_KEYS = [
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
]
VALUE_KEYS = [
    "parameters_abs_sum",
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
    "seed_features_slice",
    "objectness_slice",
    "view_score_slice",
    "grasp_score_slice",
    "grasp_angle_slice",
    "grasp_width_slice",
    "grasp_tolerance_slice",
]


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "make_graspnet_golden", GOLDEN_DIR / "make_graspnet_golden.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT = _load_script()


def _compute(**kwargs):
    threads = torch.get_num_threads()
    try:
        return SCRIPT.compute(**kwargs)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def computed():
    return _compute()


@pytest.fixture(scope="module")
def golden():
    return json.loads((GOLDEN_DIR / "graspnet_small.json").read_text())


def _float64_sum_atol(n_terms: int, max_abs_term: float) -> float:
    """Two float64 sums of the same n float values (any order) differ by at most
    2 * (n - 1) * u64 * sum|x| <= 2 * n * u64 * n * max|x| (recursive summation bound, both
    sides); numpy's and torch's pairwise sums do much better, this is the worst case."""
    return 2.0 * n_terms * U64 * n_terms * max_abs_term


def tolerance(key: str, golden: dict) -> float:  # noqa: PLR0911 (one rule per kind of key)
    """Absolute tolerance of one golden value, from how it is computed (rtol is 0 everywhere)."""
    errors = golden["float32_errors"]
    if key == "parameters_abs_sum":
        # The model's float32 weights are bit-identical on every CPU (the calibration runs in
        # float64, random_graspnet's docstring); only the float64 sum of ~1e5 |w| <= ~10 may be
        # ordered differently: far below one float32 ulp of any weight.
        return _float64_sum_atol(200_000, 10.0)
    if key == "input_sum":
        # numpy float64 arithmetic on the seeded cloud, 2048 x 3 coordinates of at most 1 m.
        return _float64_sum_atol(SCRIPT.NUM_POINTS * 3, 1.0)
    if key == "seed_xyz_sum":
        # Seeds are copies of float32 input points (no arithmetic): 128 x 3 values <= 1 m.
        return _float64_sum_atol(128 * 3, 1.0)
    if key == "decoded_depth_sum":
        # Depth classes are exact decisions; (k + 1) * 0.01 m in float32, 128 grasps.
        return _float64_sum_atol(128, 0.05)
    if key.endswith("_slice"):
        # Element by element: each output's error is at most the largest measured over its whole
        # tensor (max_abs_error, not just this slice's); here plus there, as for the sums: 3x.
        return 3.0 * errors[key.replace("_slice", "_sum")]["max_abs_error"]
    if key in errors or key == "seed_features_abs_sum":
        # A float32 network output y_i differs from exact arithmetic by e_i (float32_errors,
        # measured against a float64 run of the same model). Another CPU's kernels round in
        # another order with errors of the same kind, at most about twice as large per
        # multiply-add (no fused multiply-add: two roundings instead of one). For a sum over n
        # outputs, |S_here - S_there| <= sum|e_here| + sum|e_there| <= 3 * sum|e_i|: a
        # worst-case bound (all errors aligned), so no sqrt(n) luck is needed. Seed features are
        # ReLU outputs (>= 0), so the abs sum has the plain sum's error.
        measured = errors["seed_features_sum" if key == "seed_features_abs_sum" else key]
        return 3.0 * measured["sum_abs_error"]
    if key == "candidate_quality":
        # quality = clip(decoded score): per candidate at most 3x the largest decoded-score
        # error, plus the golden's rounding to 8 decimals on both sides.
        return 3.0 * errors["decoded_score_sum"]["max_abs_error"] + 1e-8
    if key == "candidate_poses":
        # Rotations and positions follow from exact decisions (view, angle and depth classes,
        # seed points) through a few float32 operations on unit vectors and cos/sin (SIMD
        # versions are within ~1 ulp of libm): entries <= 1 in magnitude, ~16 u32 covers
        # both sides, plus the 8-decimal rounding.
        return 16.0 * U32 + 1e-8
    raise KeyError(f"no tolerance rule for {key}")


@pytest.mark.parametrize("key", INDEX_KEYS)
def test_indices_and_counts_are_exact(computed, golden, key):
    assert computed[key] == golden["values"][key]


@pytest.mark.parametrize("key", VALUE_KEYS)
def test_values_match(computed, golden, key):
    torch.testing.assert_close(
        torch.tensor(computed[key], dtype=torch.float64),
        torch.tensor(golden["values"][key], dtype=torch.float64),
        rtol=0.0,
        atol=tolerance(key, golden),
    )


def _mismatched(values: dict, golden: dict) -> set[str]:
    """Golden keys the given values break (indices exactly, floats by their tolerance)."""
    broken = {key for key in INDEX_KEYS if values[key] != golden["values"][key]}
    for key in VALUE_KEYS:
        got = np.asarray(values[key], dtype=np.float64)
        want = np.asarray(golden["values"][key], dtype=np.float64)
        if got.shape != want.shape or np.max(np.abs(got - want)) > tolerance(key, golden):
            broken.add(key)
    return broken


# One weight changed by 1e-3 (index, in the flattened tensor, of a weight whose input is not a
# dead ReLU channel) and the goldens that must notice it: everything downstream of that weight.
PERTURBED_WEIGHTS = {
    "view_estimator.backbone.sa1.mlp_module.layer1.conv.weight": (
        1000,
        {"seed_features_slice", "objectness_slice"},
    ),
    "view_estimator.vpmodule.conv2.weight": (1000, {"objectness_sum", "view_score_slice"}),
    "grasp_generator.crop.mlps.layer0.conv.weight": (
        1,
        {"grasp_score_slice", "grasp_angle_slice", "grasp_tolerance_slice"},
    ),
    "grasp_generator.operation.conv1.weight": (
        1000,
        {"grasp_score_slice", "grasp_angle_slice", "grasp_width_slice"},
    ),
    "grasp_generator.operation.conv3.weight": (1, {"grasp_score_slice", "grasp_score_sum"}),
    "grasp_generator.tolerance.conv2.weight": (1000, {"grasp_tolerance_slice"}),
}


@pytest.mark.parametrize("name", sorted(PERTURBED_WEIGHTS))
def test_one_weight_changed_by_1e_3_is_caught(golden, name):
    index, expected = PERTURBED_WEIGHTS[name]
    model = SCRIPT.random_graspnet(SCRIPT.SEED, SCRIPT.SMALL)
    with torch.no_grad():
        model.get_parameter(name).view(-1)[index] += 1e-3
    broken = _mismatched(_compute(model=model), golden)
    missed = (expected | {"parameters_abs_sum"}) - broken
    assert not missed, f"{name} + 1e-3 went unnoticed by {sorted(missed)}"


def test_one_input_point_moved_by_1_mm_is_caught(golden):
    sample = SCRIPT.network_input().copy()
    sample[7, 0] += 1e-3
    broken = _mismatched(_compute(sample=sample), golden)
    assert {"input_sum", "seed_features_slice", "objectness_slice"} <= broken


def test_golden_tolerances_are_small_against_the_values(golden):
    """The derived tolerances are a tiny fraction of the magnitudes they guard."""
    errors = golden["float32_errors"]
    for key, measured in errors.items():
        # per output, the float32 error stays within a few hundred u32 of unit-scale values
        assert measured["max_abs_error"] < 256 * U32, key
        assert measured["sum_abs_error"] <= measured["n"] * measured["max_abs_error"], key
