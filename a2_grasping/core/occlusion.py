"""The space the cameras cannot see behind what they see, as obstacle points for planning.

A depth camera observes a surface and the free space in front of it; what lies behind is
unknown. A planner that treats it as free sweeps through the unseen back of a wall or a box
(measured: the e2e arm path clipped a 10 cm wall's back part in 1 of 7 runs). Each observed
obstacle point is therefore extruded along its camera ray by `depth_m` (a shadow volume), and the
samples another camera sees as free (its measured depth lies beyond them) are carved away again.

Not covered: space outside every camera's view and pixels without depth (no ray, no shadow).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from a2_grasping.core.geometry import crop_to_box, voxel_downsample
from a2_grasping.core.scene import CameraView

FloatArray = NDArray[np.floating]
# A sample this close in front of a camera is not projected (it would blow up the pixel maths).
_MIN_PROJECTION_DEPTH_M = 1e-3


def occlusion_shadows(
    points_m: FloatArray,
    view_index: NDArray[np.intp],
    views: Sequence[CameraView],
    *,
    depth_m: float,
    step_m: float,
    box_m: Sequence[float],
    floor_z_m: float,
) -> NDArray[np.float32]:
    """Samples (M, 3) of the unobserved space up to `depth_m` behind each point, one per
    `step_m` voxel, inside `box_m` and above `floor_z_m` (below it is the table, a known solid).

    `view_index[i]` is the view whose ray observed `points_m[i]`; the points themselves are not
    repeated in the result.
    """
    points = np.asarray(points_m, dtype=np.float64).reshape(-1, 3)
    if depth_m <= 0.0 or not len(points):
        return np.zeros((0, 3), dtype=np.float32)
    offsets_m = step_m * np.arange(1, int(np.ceil(depth_m / step_m)) + 1)  # (K,)
    extruded = []
    for index, view in enumerate(views):
        seen = points[view_index == index]  # (n, 3)
        rays = seen - np.asarray(view.base_from_camera, dtype=np.float64)[:3, 3]
        directions = rays / np.linalg.norm(rays, axis=1, keepdims=True)  # (n, 3)
        extruded.append(
            (seen[:, None, :] + directions[:, None, :] * offsets_m[None, :, None]).reshape(-1, 3)
        )
    samples = np.concatenate(extruded)
    samples = samples[crop_to_box(samples, np.asarray(box_m)) & (samples[:, 2] >= floor_z_m)]
    samples = samples[voxel_downsample(samples, step_m)]
    unknown = np.ones(len(samples), dtype=bool)
    for view in views:
        unknown &= ~seen_free(samples, view, tolerance_m=step_m)
    return samples[unknown].astype(np.float32)


def seen_free(points_m: FloatArray, view: CameraView, tolerance_m: float) -> NDArray[np.bool_]:
    """Mask of points this view observes as empty: they project into its image and its depth at
    that pixel lies more than `tolerance_m` beyond them along the optical axis."""
    points = np.asarray(points_m, dtype=np.float64).reshape(-1, 3)
    camera_from_base = view.camera_from_base()
    in_camera = points @ camera_from_base[:3, :3].T + camera_from_base[:3, 3]  # (N, 3)
    depth = in_camera[:, 2]
    free = np.zeros(len(points), dtype=bool)
    ahead = np.flatnonzero(depth > _MIN_PROJECTION_DEPTH_M)
    k = np.asarray(view.intrinsics, dtype=np.float64)
    u = np.rint(k[0, 0] * in_camera[ahead, 0] / depth[ahead] + k[0, 2]).astype(np.int64)
    v = np.rint(k[1, 1] * in_camera[ahead, 1] / depth[ahead] + k[1, 2]).astype(np.int64)
    height, width = view.depth_m.shape
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    ahead, u, v = ahead[inside], u[inside], v[inside]
    measured = np.asarray(view.depth_m)[v, u].astype(np.float64)
    with np.errstate(invalid="ignore"):
        free[ahead] = (
            np.isfinite(measured) & (measured > 0.0) & (measured > depth[ahead] + tolerance_m)
        )
    return free
