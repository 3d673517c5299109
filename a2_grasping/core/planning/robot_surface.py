"""Points on the robot's collision surfaces, for telling the robot apart in camera clouds.

The cameras see the arm. Before the cloud becomes the planner's collision world, the points on
the robot must go, or every plan starts "in collision". A distance-to-link-axis test is too crude
once the cloud covers more than the tabletop (the UR5e's links sit up to 14 cm off their joint
axes); distances to points sampled densely on the same meshes and boxes the checker uses are not.
"""

from __future__ import annotations

import math

import coal
import numpy as np
from numpy.typing import NDArray

from a2_grasping.core.geometry import voxel_downsample

FloatArray = NDArray[np.float64]

# Triangles of a coal.Box, as corner indices of its 8 corners (bit i of a corner = sign along i).
_BOX_TRIANGLES = np.array(
    [
        (0, 2, 3), (0, 3, 1), (4, 5, 7), (4, 7, 6),  # -x, +x
        (0, 1, 5), (0, 5, 4), (2, 6, 7), (2, 7, 3),  # -y, +y
        (0, 4, 6), (0, 6, 2), (1, 3, 7), (1, 7, 5),  # -z, +z
    ]
)  # fmt: skip


def triangle_samples(corners: FloatArray, spacing_m: float) -> FloatArray:
    """Points on triangles (T, 3, 3): a barycentric grid with steps of at most `spacing_m` along
    every edge, thinned to one point per `spacing_m` voxel (sliver triangles of long links would
    otherwise give ~100k points). Every surface point is within ~1.7 x spacing_m of a sample."""
    out = []
    for a, b, c in corners:
        longest = max(np.linalg.norm(b - a), np.linalg.norm(c - b), np.linalg.norm(a - c))
        steps = max(1, math.ceil(longest / spacing_m))
        i, j = np.meshgrid(np.arange(steps + 1), np.arange(steps + 1), indexing="ij")
        keep = (i + j) <= steps
        u, v = i[keep] / steps, j[keep] / steps  # (K,)
        out.append(a + u[:, None] * (b - a) + v[:, None] * (c - a))
    if not out:
        return np.zeros((0, 3))
    dense = np.concatenate(out)
    return dense[voxel_downsample(dense, spacing_m)]


def geometry_surface_samples(shape: coal.CollisionGeometry, spacing_m: float) -> FloatArray:
    """Surface samples (N, 3) of a box or a triangle mesh, in the shape's own frame.

    Raises:
        TypeError: for other shapes (the robot model has only these two).
    """
    if isinstance(shape, coal.Box):
        half = np.asarray(shape.halfSide, dtype=np.float64)
        signs = np.array([[(k >> axis) & 1 for axis in range(3)] for k in range(8)]) * 2 - 1
        corners = signs * half  # (8, 3)
        return triangle_samples(corners[_BOX_TRIANGLES], spacing_m)
    if isinstance(shape, coal.BVHModelBase):
        vertices = np.asarray(shape.vertices(), dtype=np.float64)  # (V, 3)
        triangles = np.array(
            [[t[0], t[1], t[2]] for t in (shape.tri_indices(k) for k in range(shape.num_tris))]
        )
        return triangle_samples(vertices[triangles], spacing_m)
    raise TypeError(f"no surface sampling for {type(shape).__name__}")
