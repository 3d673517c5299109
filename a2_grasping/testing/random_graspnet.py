"""A seeded random-weight GraspNet whose outputs resemble a trained model's (tests, benchmarks).

No weights can be downloaded here, and PyTorch's default initialisation collapses this network:
after a few random ReLU layers with unit batch-norm statistics every seed carries almost the same
feature, so every seed picks the same view. Three steps make a useful stand-in:
1. every float weight is drawn uniformly in ±sqrt(3 / fan_in) from a seeded generator (unit
   variance per layer; float64 draws so the stream does not depend on float32 rounding);
2. batch-norm running statistics are set from one forward pass in training mode on a calibration
   cloud (what training leaves behind: each channel normalised over real data);
3. output biases are centred on the calibration cloud, then stand in for what training learns:
   view scores favour approaches from above (top-down grasps are what the object filter
   prefers), most seeds count as on an object, and widths centre on a few centimetres
   instead of the clamp at 0.

The result exercises every stage (diverse views, angles, depths, widths; some collision-free
grasps) but its grasps are not meant to be good.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from a2_grasping.core.graspnet.model import NUM_ANGLE, GraspNet, GraspNetArchitecture
from a2_grasping.testing.synthetic_clouds import box_points, cylinder_points, tabletop_cloud

# Points below this height are table, left out of the default calibration cloud (m).
CALIBRATION_TABLE_CUT_M = 0.003
# Floor of the calibrated batch-norm variances.
MIN_RUNNING_VAR = 1.0
# View-score bonus per unit of downward real approach (the real approach is the view vector).
TOP_DOWN_PRIOR = 5.0
# Random view scores are scaled by this so the prior is not drowned out.
VIEW_SCORE_SCALE = 0.1
# Added to the "on an object" objectness logit, so most seeds decode to a grasp.
OBJECTNESS_BONUS = 1.0
# Added to the width head: predicted widths centre here (m) before the decode factor ...
WIDTH_OFFSET_M = 0.06
# ... and spread by about this much (the random head's output has unit scale).
WIDTH_SPREAD_M = 0.01


def three_object_scene(seed: int, points_per_object: int = 3000) -> NDArray[np.float64]:
    """Two boxes and a cylinder on the table (z = 0) around the origin, with sensor noise."""
    rng = np.random.default_rng(seed)
    count = points_per_object
    return tabletop_cloud(
        rng,
        box_points(rng, (0.06, 0.05, 0.08), (0.0, 0.0), count),
        box_points(rng, (0.05, 0.05, 0.05), (-0.08, 0.12), count),
        cylinder_points(rng, 0.03, 0.10, (0.08, -0.12), count),
    )


def random_graspnet(
    seed: int,
    architecture: GraspNetArchitecture | None = None,
    calibration_cloud_m: NDArray[np.float64] | None = None,
) -> GraspNet:
    """GraspNet in eval mode with seeded weights, calibrated batch norm and output priors.

    calibration_cloud_m is a base-frame (N, 3) cloud, negated like every network input. The
    default is `three_object_scene(seed)` without the table, the kind of cloud `GraspSelector`
    passes; random features shift a lot between clouds with and without a table, so calibrate
    on the kind of input the model will see.

    The calibration (batch-norm statistics and bias centring) runs in float64 and is rounded to
    float32 once at the end. In float32 its sums over thousands of points come out differently
    on each SIMD width (AVX2, AVX-512, scalar), so the *model* itself would differ by a few ulp
    from one CPU to the next and every golden number with it; in float64 those differences are
    ~1e-16 relative and vanish in the final rounding: the same seed gives the same float32
    weights on any x86_64 CPU (test/core/graspnet/test_golden.py checks the checksum).
    """
    model = GraspNet(architecture)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            if ".bn.bn." in name or _is_head_bn(name):
                continue  # batch-norm affine stays at weight 1, bias 0
            bound = math.sqrt(3.0 / tensor.shape[1]) if tensor.dim() >= 2 else 0.1
            unit = torch.rand(tensor.shape, generator=generator, dtype=torch.float64)
            tensor.copy_(((2.0 * unit - 1.0) * bound).to(tensor.dtype))
        if calibration_cloud_m is None:
            scene = three_object_scene(seed)
            cloud = scene[scene[:, 2] > CALIBRATION_TABLE_CUT_M]
        else:
            cloud = calibration_cloud_m
        count = min(len(cloud), max(model.architecture.sa_npoint[0] * 4, 4096))
        chosen = np.random.default_rng(seed).choice(len(cloud), count, replace=False)
        model.double()
        calibration = torch.from_numpy(-cloud[chosen]).double()[None]
        _calibrate_batch_norm(model, calibration)
        vpmodule = model.view_estimator.vpmodule
        operation = model.grasp_generator.operation
        tolerance = model.grasp_generator.tolerance
        vpmodule.conv3.weight[2:] *= VIEW_SCORE_SCALE
        operation.conv3.weight[2 * NUM_ANGLE :] *= WIDTH_SPREAD_M
        # Zero-mean outputs on the calibration cloud: the random ReLU features share a large
        # positive offset that would otherwise decide every argmax.
        out = model(calibration)
        vpmodule.conv3.bias[:2] -= out.objectness_score.mean(dim=(0, 2))
        vpmodule.conv3.bias[2:] -= out.view_score.mean(dim=(0, 1))
        heads = (out.grasp_score_pred, out.grasp_angle_cls_pred, out.grasp_width_pred)
        operation.conv3.bias -= torch.cat([head.mean(dim=(0, 2, 3)) for head in heads])
        tolerance.conv3.bias -= out.grasp_tolerance_pred.mean(dim=(0, 2, 3))
        vpmodule.conv3.bias[1] += OBJECTNESS_BONUS
        vpmodule.conv3.bias[2:] += TOP_DOWN_PRIOR * torch.clamp(-vpmodule.views[:, 2], min=0.0)
        operation.conv3.bias[2 * NUM_ANGLE :] += WIDTH_OFFSET_M
    return model.float().eval()


def _is_head_bn(name: str) -> bool:
    return ".bn1." in name or ".bn2." in name


def _calibrate_batch_norm(model: GraspNet, cloud: torch.Tensor) -> None:
    """Running statistics := the statistics of one forward pass on cloud."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # cumulative average: after one batch, that batch's stats
    model.train()
    model(cloud)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = 0.1  # PyTorch's default, as in a freshly built model
            # Nearly constant channels would get huge gains and blow up on any other cloud.
            if module.running_var is not None:
                module.running_var.clamp_(min=MIN_RUNNING_VAR)
    model.eval()
