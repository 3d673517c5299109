"""Which decoded grasps become candidates: collisions (§2.4) and a stand-in for GT objects (§2.5).

Model-free collision check (graspnet-baseline's ModelFreeCollisionDetector, written from the
spec): in each grasp frame (x = approach, y = closing, z = height) the gripper is four boxes,
- left/right finger: x in (depth - 0.06, depth), |z| < h/2, y beyond ±w/2 by one finger width;
- bottom (palm): one finger width behind the fingers, spanning both fingers;
- shifting region: `approach_dist` further back with the same cross-section (must be empty too).
Points inside any box are counted and divided by the boxes' volume in voxels; the grasp collides
when that ratio exceeds the threshold (0.001: a single point rejects it).

Object filter (ORIG assigns grasps to ground-truth object poses; a real cell has none): the cloud
above the table is split into connected clusters on a 1 cm grid; each cluster stands for one
object at its bounding-box centre (x, y mid-range, z halfway between table and top, which is
where a simulator's object origin sits for upright objects). A grasp whose TCP is within 5 cm of
an object's centre is assigned to the nearest one, others are dropped; per object, if any
assigned grasp approaches within 15° of straight down, only those are kept (ORIG's rule).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from a2_grasping.core.graspnet.processing import GRASP_HEIGHT_M, BaseFrameGrasps

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# GraspNet's gripper model (spec §2.4), metres.
FINGER_WIDTH_M = 0.01
FINGER_LENGTH_M = 0.06
# (grasp, point) pairs per collision chunk: bounds temporaries at a few tens of MB.
_PAIRS_PER_CHUNK = 2_000_000


def collision_mask(
    grasps: BaseFrameGrasps,
    scene_points_m: FloatArray,
    *,
    voxel_m: float,
    approach_dist_m: float,
    threshold: float,
    centre_shift_m: float = 0.0,
) -> BoolArray:
    """(M,) True where a grasp's gripper boxes hold too many of the (voxelised) scene points.

    centre_shift_m moves every grasp along its approach first (the 1 cm refine of spec §2.3).
    """
    count = len(grasps)
    collides = np.zeros(count, dtype=bool)
    if count == 0 or len(scene_points_m) == 0:
        return collides
    approach_dist_m = max(approach_dist_m, FINGER_WIDTH_M)
    centres = grasps.centre_m + grasps.approach * centre_shift_m
    chunk = max(1, _PAIRS_PER_CHUNK // len(scene_points_m))
    half_h = 0.5 * GRASP_HEIGHT_M
    for start in range(0, count, chunk):
        sl = slice(start, start + chunk)
        # local = (p - t) R: coordinates in each grasp frame, (m, P, 3).
        local = (scene_points_m[None, :, :] - centres[sl, None, :]) @ grasps.axes[sl]
        x, y, z = local[..., 0], local[..., 1], local[..., 2]
        depth = grasps.depth_m[sl, None]
        half_w = 0.5 * grasps.width_m[sl, None]
        in_height = (z > -half_h) & (z < half_h)
        finger_x = (x > depth - FINGER_LENGTH_M) & (x < depth)
        outer = (y > -(half_w + FINGER_WIDTH_M)) & (y < half_w + FINGER_WIDTH_M)
        left = finger_x & (y > -(half_w + FINGER_WIDTH_M)) & (y < -half_w)
        right = finger_x & (y < half_w + FINGER_WIDTH_M) & (y > half_w)
        palm_x = depth - FINGER_LENGTH_M
        bottom = (x <= palm_x) & (x > palm_x - FINGER_WIDTH_M) & outer
        shift_x = palm_x - FINGER_WIDTH_M
        shifting = (x <= shift_x) & (x > shift_x - approach_dist_m) & outer
        hits = (in_height & (left | right | bottom | shifting)).sum(axis=1)
        volume = _gripper_volume_voxels(grasps.width_m[sl], approach_dist_m, voxel_m)
        collides[sl] = hits / (volume + 1e-6) > threshold
    return collides


def _gripper_volume_voxels(
    width_m: FloatArray, approach_dist_m: float, voxel_m: float
) -> FloatArray:
    """Volume of the four boxes in voxels: 168 for a 0.1 m wide grasp at 1 cm voxels."""
    span = width_m + 2.0 * FINGER_WIDTH_M
    fingers = 2.0 * GRASP_HEIGHT_M * FINGER_LENGTH_M * FINGER_WIDTH_M
    bottom = GRASP_HEIGHT_M * span * FINGER_WIDTH_M
    shifting = GRASP_HEIGHT_M * span * approach_dist_m
    result: FloatArray = (fingers + bottom + shifting) / voxel_m**3
    return result


def below_table_mask(
    grasps: BaseFrameGrasps, table_height_m: float, approach_dist_m: float, centre_shift_m: float
) -> BoolArray:
    """(M,) True where any corner of the gripper boxes lies below the table top.

    Upstream's collision check saw the table as points; our generator may be given the cloud
    without it, so the plane is checked analytically with the same boxes.
    """
    count = len(grasps)
    if count == 0:
        return np.zeros(0, dtype=bool)
    approach_dist_m = max(approach_dist_m, FINGER_WIDTH_M)
    back = grasps.depth_m - FINGER_LENGTH_M - FINGER_WIDTH_M - approach_dist_m
    half_w = 0.5 * grasps.width_m + FINGER_WIDTH_M
    half_h = 0.5 * GRASP_HEIGHT_M
    centres = grasps.centre_m + grasps.approach * centre_shift_m
    lowest = centres[:, 2].copy()
    # The lowest corner of a box: per axis, the end whose axis direction points down.
    height = (np.full(count, -half_h), np.full(count, half_h))
    for axis, (low, high) in enumerate(((back, grasps.depth_m), (-half_w, half_w), height)):
        axis_z = grasps.axes[:, 2, axis]
        lowest += np.where(axis_z > 0.0, low * axis_z, high * axis_z)
    result: BoolArray = lowest < table_height_m
    return result


def cluster_objects(
    points_m: FloatArray, cell_m: float, min_points: int
) -> tuple[NDArray[np.int64], FloatArray, FloatArray]:
    """(labels (N,) with -1 for dropped points, per-object min (K, 3), per-object max (K, 3)).

    Objects are connected components of the occupied cells of a cell_m grid (26-neighbourhood);
    components with fewer than min_points points are noise and get label -1.
    """
    if len(points_m) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 3)), np.zeros((0, 3))
    cells = np.floor((points_m - points_m.min(axis=0)) / cell_m).astype(np.int64)
    grid = np.zeros(tuple(int(n) for n in cells.max(axis=0) + 1), dtype=bool)
    grid[cells[:, 0], cells[:, 1], cells[:, 2]] = True
    labelled, _ = ndimage.label(grid, structure=np.ones((3, 3, 3), dtype=bool))
    raw = np.asarray(labelled[cells[:, 0], cells[:, 1], cells[:, 2]], dtype=np.int64) - 1
    sizes = np.bincount(raw)
    kept = np.flatnonzero(sizes >= min_points)
    relabel = np.full(len(sizes), -1, dtype=np.int64)
    relabel[kept] = np.arange(len(kept))
    labels = relabel[raw]
    lower = np.full((len(kept), 3), np.inf)
    upper = np.full((len(kept), 3), -np.inf)
    valid = labels >= 0
    np.minimum.at(lower, labels[valid], points_m[valid])
    np.maximum.at(upper, labels[valid], points_m[valid])
    return labels, lower, upper


def object_filter_mask(
    tcp_position_m: FloatArray,
    approach: FloatArray,
    object_points_m: FloatArray,
    table_height_m: float,
    *,
    cell_m: float,
    min_cluster_points: int,
    assign_radius_m: float,
    top_down_cone_deg: float,
) -> BoolArray:
    """(M,) grasps kept by the substitute of ORIG's GT assignment (module docstring).

    object_points_m must already exclude the table.
    """
    count = len(tcp_position_m)
    keep = np.zeros(count, dtype=bool)
    _, lower, upper = cluster_objects(object_points_m, cell_m, min_cluster_points)
    if count == 0 or len(lower) == 0:
        return keep
    centres = 0.5 * (lower + upper)
    centres[:, 2] = 0.5 * (table_height_m + upper[:, 2])
    distance = np.linalg.norm(tcp_position_m[:, None, :] - centres[None, :, :], axis=2)  # (M, K)
    nearest = np.argmin(distance, axis=1)
    assigned = distance[np.arange(count), nearest] <= assign_radius_m
    top_down = approach[:, 2] < -math.cos(math.radians(top_down_cone_deg))
    for obj in np.unique(nearest[assigned]):
        members = assigned & (nearest == obj)
        preferred = members & top_down
        keep |= preferred if preferred.any() else members
    return keep
