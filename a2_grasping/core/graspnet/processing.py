"""GraspNet around the network: input preparation, decoding, the mirror trick, TCP poses (§2.1-2.6).

Frames: the network sees the scene cloud negated (p -> -p, spec §2.3), so that world "down" looks
like a camera's viewing direction. Everything the network returns lives in that mirrored frame;
`unmirror` brings grasps back to the base frame, where their axes (a, b, c) = columns of -R form
a left-handed triple, exactly as upstream stores them. `tcp_poses_from_grasps` turns that into
our proper TCP rotation [-c, -b, a] (spec §2.6), i.e. z = approach, y = closing axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from a2_grasping.core.graspnet.model import NUM_ANGLE, GraspNetOutput, viewpoint_to_matrix

FloatArray = NDArray[np.float64]

# Decoding constants of graspnet-baseline (spec §2.2).
GRASP_MAX_WIDTH_M = 0.1
GRASP_MAX_TOLERANCE = 0.05
GRASP_HEIGHT_M = 0.02
DEPTH_STEP_M = 0.01
# ORIG's handedness test: a triple whose col0 x col1 is further than this from col2 is repaired.
HANDEDNESS_TOLERANCE = 0.1


def voxel_downsample_open3d(points_m: FloatArray, voxel_m: float) -> FloatArray:
    """Mean point per occupied voxel, on Open3D's grid (origin = min bound - voxel/2).

    Matches `open3d.geometry.PointCloud.voxel_down_sample` up to the output order (ours is
    sorted by voxel), which is what upstream uses at 1 mm and 1 cm; open3d is not a dependency.
    """
    points = np.asarray(points_m, dtype=np.float64)
    if voxel_m <= 0.0 or len(points) == 0:
        return points.copy()
    origin = points.min(axis=0) - 0.5 * voxel_m
    cells = np.floor((points - origin) / voxel_m).astype(np.int64)
    extent = cells.max(axis=0) + 1
    keys = (cells[:, 0] * extent[1] + cells[:, 1]) * extent[2] + cells[:, 2]
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    sums = np.stack(
        [np.bincount(inverse, weights=points[:, k], minlength=len(counts)) for k in range(3)],
        axis=1,
    )
    result: FloatArray = sums / counts[:, None]
    return result


def sample_network_input(
    points_m: FloatArray, num_points: int, rng: np.random.Generator
) -> FloatArray:
    """(num_points, 3): a draw without replacement, or every point plus random repeats (§2.1)."""
    count = len(points_m)
    if count == 0:
        raise ValueError("cannot sample a network input from an empty cloud")
    if count >= num_points:
        chosen = rng.choice(count, num_points, replace=False)
    else:
        chosen = np.concatenate([np.arange(count), rng.choice(count, num_points - count)])
    result: FloatArray = points_m[chosen]
    return result


@dataclass(frozen=True)
class DecodedGrasps:
    """Grasps of one cloud after `pred_decode`, in the network's (mirrored) frame; M <= seeds.

    rotation columns are the grasp frame axes (x = approach, y = closing, z = height), proper.
    """

    score: FloatArray  # (M,) score x tolerance / 0.05, unbounded
    width_m: FloatArray  # (M,) clamp(width_factor x prediction, 0, 0.1)
    depth_m: FloatArray  # (M,) (depth class + 1) x 1 cm: fingertips at x = depth
    rotation: FloatArray  # (M, 3, 3)
    centre_m: FloatArray  # (M, 3) the seed point
    seed_index: NDArray[np.int64]  # (M,) which seed (0..S-1) the grasp came from

    def __len__(self) -> int:
        return int(self.score.shape[0])


def decode_predictions(
    output: GraspNetOutput, width_factor: float, batch_index: int = 0
) -> DecodedGrasps:
    """Per seed: best angle per depth, best depth by score, objectness filter (spec §2.2).

    width_factor multiplies the predicted width before the 0.1 m clamp: 1.2 in graspnet-baseline
    and LRP, 10.0 in ORIG (see GraspNetConfig.width_factor for our choice).
    """
    b = batch_index
    score = output.grasp_score_pred[b].float()  # (A, S, D)
    angle_logits = output.grasp_angle_cls_pred[b]
    width = torch.clamp(width_factor * output.grasp_width_pred[b].float(), 0.0, GRASP_MAX_WIDTH_M)
    tolerance = output.grasp_tolerance_pred[b].float()

    angle_class = torch.argmax(angle_logits, dim=0, keepdim=True)  # (1, S, D)
    score = torch.gather(score, 0, angle_class)[0]  # (S, D)
    width = torch.gather(width, 0, angle_class)[0]
    tolerance = torch.gather(tolerance, 0, angle_class)[0]
    angle_rad = angle_class[0].float() * (math.pi / NUM_ANGLE)

    depth_class = torch.argmax(score, dim=1, keepdim=True)  # (S, 1)
    depth_m = (depth_class[:, 0].float() + 1.0) * DEPTH_STEP_M
    score = torch.gather(score, 1, depth_class)[:, 0]
    width = torch.gather(width, 1, depth_class)[:, 0]
    tolerance = torch.gather(tolerance, 1, depth_class)[:, 0]
    angle_rad = torch.gather(angle_rad, 1, depth_class)[:, 0]

    on_object = torch.argmax(output.objectness_score[b], dim=0) == 1  # (S,)
    approach = -output.grasp_top_view_xyz[b].float()  # (S, 3)
    rotation = viewpoint_to_matrix(approach[on_object], angle_rad[on_object])

    def numpy(values: torch.Tensor) -> FloatArray:
        result: FloatArray = values.detach().cpu().double().numpy()
        return result

    return DecodedGrasps(
        score=numpy(score[on_object] * tolerance[on_object] / GRASP_MAX_TOLERANCE),
        width_m=numpy(width[on_object]),
        depth_m=numpy(depth_m[on_object]),
        rotation=numpy(rotation),
        centre_m=numpy(output.fp2_xyz[b].float()[on_object]),
        seed_index=torch.nonzero(on_object)[:, 0].cpu().numpy().astype(np.int64),
    )


@dataclass(frozen=True)
class BaseFrameGrasps:
    """Decoded grasps mapped back through the mirror: base frame, upstream's axis convention.

    axes columns are (a, b, c) = approach, width (closing) and height directions in the base
    frame; the triple is left-handed (det -1), as upstream's GraspGroup holds it.
    """

    score: FloatArray
    width_m: FloatArray
    depth_m: FloatArray
    axes: FloatArray  # (M, 3, 3)
    centre_m: FloatArray  # (M, 3) before the 1 cm refine
    seed_index: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.score.shape[0])

    @property
    def approach(self) -> FloatArray:
        """(M, 3) unit approach directions a (from the gripper towards the object)."""
        result: FloatArray = self.axes[:, :, 0]
        return result

    def take(self, mask: NDArray[np.bool_]) -> BaseFrameGrasps:
        return BaseFrameGrasps(
            score=self.score[mask],
            width_m=self.width_m[mask],
            depth_m=self.depth_m[mask],
            axes=self.axes[mask],
            centre_m=self.centre_m[mask],
            seed_index=self.seed_index[mask],
        )


def unmirror(grasps: DecodedGrasps) -> BaseFrameGrasps:
    """t -> -t, R -> -R (spec §2.3 step 2): undo the negation of the input cloud."""
    return BaseFrameGrasps(
        score=grasps.score,
        width_m=grasps.width_m,
        depth_m=grasps.depth_m,
        axes=-grasps.rotation,
        centre_m=-grasps.centre_m,
        seed_index=grasps.seed_index,
    )


def tcp_poses_from_grasps(grasps: BaseFrameGrasps, refine_m: float) -> FloatArray:
    """(M, 4, 4) base_from_tcp: ORIG's tip frame, which is our TCP frame (spec §2.6).

    Position p = t + a (depth + refine): the grasp centre pushed to the fingertips and the 1 cm
    refine further. Rotation columns (c, -b, a), with col0 negated when that triple is not
    right-handed (ORIG's test); for mirrored grasps this always gives [-c, -b, a].
    """
    a, b, c = grasps.axes[:, :, 0], grasps.axes[:, :, 1], grasps.axes[:, :, 2]
    col0, col1, col2 = c.copy(), -b, a
    wrong_hand = np.linalg.norm(np.cross(col0, col1) - col2, axis=1) > HANDEDNESS_TOLERANCE
    col0[wrong_hand] *= -1.0
    poses = np.tile(np.eye(4), (len(grasps), 1, 1))
    poses[:, :3, 0], poses[:, :3, 1], poses[:, :3, 2] = col0, col1, col2
    poses[:, :3, 3] = grasps.centre_m + a * (grasps.depth_m + refine_m)[:, None]
    return poses
