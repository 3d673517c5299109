"""Seeded synthetic point clouds of primitives on a table (z = 0), and a camera view over them,
for tests and benchmarks.

Surfaces are sampled uniformly by area with a little Gaussian noise, like a fused, voxelised
RGB-D cloud of fully observed objects.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from a2_grasping.core.scene import CameraView

# Standard deviation of the simulated depth noise, metres.
NOISE_M = 0.0003


def box_points(
    rng: np.random.Generator,
    size: tuple[float, float, float],
    centre_xy: tuple[float, float],
    count: int,
) -> NDArray[np.float64]:
    """Points on the five visible faces of an upright box resting on z=0."""
    sx, sy, sz = size
    areas = np.array([sx * sy, sx * sz, sx * sz, sy * sz, sy * sz])
    face = rng.choice(5, size=count, p=areas / areas.sum())
    u, v = rng.random(count), rng.random(count)
    pts = np.empty((count, 3))
    pts[:, 0] = (u - 0.5) * sx
    pts[:, 1] = (v - 0.5) * sy
    pts[:, 2] = sz
    side = face >= 1
    pts[side, 2] = v[side] * sz
    pts[face == 1, 1] = -0.5 * sy
    pts[face == 2, 1] = 0.5 * sy
    pts[face >= 3, 1] = (u[face >= 3] - 0.5) * sy
    pts[face == 3, 0] = -0.5 * sx
    pts[face == 4, 0] = 0.5 * sx
    pts[:, :2] += centre_xy
    return pts


def cylinder_points(
    rng: np.random.Generator,
    radius: float,
    height: float,
    centre_xy: tuple[float, float],
    count: int,
) -> NDArray[np.float64]:
    """Side and top of an upright cylinder resting on z=0."""
    top_share = radius / (radius + 2.0 * height)
    top = rng.random(count) < top_share
    angle = rng.random(count) * 2.0 * math.pi
    r = np.where(top, radius * np.sqrt(rng.random(count)), radius)
    z = np.where(top, height, rng.random(count) * height)
    pts = np.stack([r * np.cos(angle), r * np.sin(angle), z], axis=1)
    pts[:, :2] += centre_xy
    return pts


def sphere_points(
    rng: np.random.Generator, radius: float, centre_xy: tuple[float, float], count: int
) -> NDArray[np.float64]:
    """A sphere resting on z=0."""
    direction = rng.normal(size=(count, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    pts = radius * direction + np.array([0.0, 0.0, radius])
    pts[:, :2] += centre_xy
    return pts


def table_points(
    rng: np.random.Generator, count: int, half_extent: float = 0.2
) -> NDArray[np.float64]:
    """Points on the table plane z = 0, a square around the origin."""
    xy = (rng.random((count, 2)) - 0.5) * 2.0 * half_extent
    return np.column_stack([xy, np.zeros(count)])


def tabletop_cloud(rng: np.random.Generator, *objects: NDArray[np.float64]) -> NDArray[np.float64]:
    """Objects plus 8000 table points, with NOISE_M of sensor noise."""
    cloud = np.vstack([*objects, table_points(rng, 8000)])
    return cloud + rng.normal(scale=NOISE_M, size=cloud.shape)


def top_down_camera() -> CameraView:
    """A 48x64 view 0.6 m above the origin looking straight down at a flat table, its colours
    seeded noise: what a2 mode's CLIP needs to run, not a rendering of the cloud."""
    pose = np.eye(4)
    pose[:3, :3] = np.diag([1.0, -1.0, -1.0])
    pose[:3, 3] = (0.0, 0.0, 0.6)
    color = np.random.default_rng(4).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    return CameraView(
        color_rgb=color,
        depth_m=np.full((48, 64), 0.6, np.float32),
        intrinsics=np.array([[60.0, 0.0, 31.5], [0.0, 60.0, 23.5], [0.0, 0.0, 1.0]]),
        base_from_camera=pose,
        name="top",
    )
