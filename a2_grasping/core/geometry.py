"""Vectorised point-cloud and frame helpers shared by perception and grasp selection."""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.floating]

# Tolerance of the rotation / intrinsics checks: float32 calibration files carry ~1e-6 rounding.
ROTATION_TOLERANCE = 1e-4


def describe_value(value: object) -> str:
    """Type, dtype and shape of a rejected argument, for error messages."""
    if isinstance(value, np.ndarray):
        return f"ndarray dtype={value.dtype} shape={value.shape}"
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} dtype={getattr(value, 'dtype', '?')} shape={tuple(shape)}"
    return type(value).__name__


def check_rigid_transform(transform: object, name: str) -> None:
    """Raise ValueError unless `transform` is a finite 4x4 proper rigid transform (numpy)."""
    if not isinstance(transform, np.ndarray) or transform.shape != (4, 4):
        raise ValueError(f"{name}: expected a (4, 4) numpy array, got {describe_value(transform)}")
    matrix = np.asarray(transform, dtype=np.float64)
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"{name}: the pose contains NaN or infinite values")
    if not np.allclose(matrix[3], (0.0, 0.0, 0.0, 1.0), atol=ROTATION_TOLERANCE):
        raise ValueError(f"{name}: last row must be [0, 0, 0, 1], got {matrix[3].tolist()}")
    rotation = matrix[:3, :3]
    if not np.allclose(rotation.T @ rotation, np.eye(3), atol=ROTATION_TOLERANCE):
        raise ValueError(
            f"{name}: not a rigid transform, the rotation block is not orthonormal "
            "(scaling poses are refused)"
        )
    if np.linalg.det(rotation) < 0.0:
        raise ValueError(f"{name}: not a rigid transform, the rotation block is a reflection")


def check_intrinsics(intrinsics: object, name: str = "intrinsics") -> None:
    """Raise ValueError unless `intrinsics` is a finite pinhole K with fx, fy > 0."""
    if not isinstance(intrinsics, np.ndarray) or intrinsics.shape != (3, 3):
        raise ValueError(f"{name}: expected a (3, 3) numpy array, got {describe_value(intrinsics)}")
    matrix = np.asarray(intrinsics, dtype=np.float64)
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"{name}: K must be finite, got {matrix.tolist()}")
    if matrix[0, 0] <= 0.0 or matrix[1, 1] <= 0.0:
        raise ValueError(f"{name}: fx and fy must be > 0, got {matrix[0, 0]}, {matrix[1, 1]}")
    if not np.allclose(matrix[2], (0.0, 0.0, 1.0), atol=ROTATION_TOLERANCE):
        raise ValueError(f"{name}: last row must be [0, 0, 1], got {matrix[2].tolist()}")


def transform_points(target_from_source: FloatArray, points: FloatArray) -> FloatArray:
    """Apply a 4x4 transform to (N, 3) points."""
    return points @ target_from_source[:3, :3].T + target_from_source[:3, 3]  # (N, 3)


def crop_to_box(points: FloatArray, box_m: FloatArray) -> NDArray[np.bool_]:
    """Mask of points inside [x_min, x_max, y_min, y_max, z_min, z_max] (bounds inclusive)."""
    low = box_m[0::2]  # (3,)
    high = box_m[1::2]  # (3,)
    inside: NDArray[np.bool_] = np.all((points >= low) & (points <= high), axis=1)  # (N,)
    return inside


def voxel_downsample(points: FloatArray, voxel_m: float) -> NDArray[np.intp]:
    """Indices of one representative point per occupied voxel (the one nearest its centroid).

    Returning indices rather than new points keeps colours and features aligned with positions,
    and every returned point is a real measurement, not an average that may lie in free space.
    One sort of packed voxel keys does the grouping (perception runs this per camera frame).
    """
    if voxel_m <= 0:
        raise ValueError(f"voxel_m must be positive, got {voxel_m}")
    if len(points) == 0:
        return np.zeros(0, dtype=np.intp)
    cells = np.floor(points * (1.0 / voxel_m)).astype(np.int64)  # (N, 3)
    cells -= cells.min(axis=0)
    extent = cells.max(axis=0) + 1  # (3,)
    keys = (cells[:, 0] * extent[1] + cells[:, 1]) * extent[2] + cells[:, 2]  # (N,)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])  # (C,)
    counts = np.diff(np.r_[starts, len(order)])  # (C,)
    sorted_points = points[order]
    centroids = np.add.reduceat(sorted_points, starts, axis=0) / counts[:, None]  # (C, 3)
    cell = np.repeat(np.arange(len(starts)), counts)  # (N,) cell of each sorted point
    distance_sq = np.sum((sorted_points - centroids[cell]) ** 2, axis=1)  # (N,)
    nearest = np.flatnonzero(distance_sq == np.minimum.reduceat(distance_sq, starts)[cell])
    first_nearest = nearest[np.r_[True, cell[nearest][1:] != cell[nearest][:-1]]]  # (C,)
    return np.sort(order[first_nearest])


@functools.lru_cache(maxsize=16)
def _normalised_pixel_rays(
    intrinsics_key: tuple[float, float, float, float], height: int, width: int
) -> NDArray[np.float32]:
    """((u - cx) / fx, (v - cy) / fy) per pixel, flat (H*W, 2); cached per camera model."""
    fx, fy, cx, cy = intrinsics_key
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    rays = np.stack([((u - cx) / fx).ravel(), ((v - cy) / fy).ravel()], axis=1)
    rays.flags.writeable = False
    return rays


def deproject(
    depth_m: FloatArray,
    intrinsics: FloatArray,
    base_from_camera: FloatArray,
    min_depth_m: float = 0.0,
    max_depth_m: float = float("inf"),
) -> tuple[FloatArray, NDArray[np.intp]]:
    """Points (M, 3) in the base frame for the valid pixels, and their flat pixel indices.

    Pixel (u, v) = (column, row) at depth d maps to x = (u - cx) d / fx, y = (v - cy) d / fy, z = d
    in the optical frame (spec §1.3). Depths outside (min_depth_m, max_depth_m] (zero, negative
    and non-finite included) are skipped. float32 points: depth sensors are not more precise.
    """
    height, width = depth_m.shape
    intrinsics_key = (
        float(intrinsics[0, 0]),
        float(intrinsics[1, 1]),
        float(intrinsics[0, 2]),
        float(intrinsics[1, 2]),
    )
    rays = _normalised_pixel_rays(intrinsics_key, height, width)
    flat = depth_m.reshape(-1)
    with np.errstate(invalid="ignore"):
        valid = np.flatnonzero((flat > max(min_depth_m, 0.0)) & (flat <= max_depth_m))  # (M,)
    d = flat[valid].astype(np.float32)  # (M,)
    camera_points = np.empty((len(valid), 3), dtype=np.float32)
    camera_points[:, :2] = rays[valid] * d[:, None]
    camera_points[:, 2] = d
    pose = np.asarray(base_from_camera, dtype=np.float32)
    return transform_points(pose, camera_points), valid
