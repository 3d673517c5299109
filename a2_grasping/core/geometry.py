"""Vectorised point-cloud and frame helpers shared by perception and grasp selection."""

from __future__ import annotations

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
    """
    if voxel_m <= 0:
        raise ValueError(f"voxel_m must be positive, got {voxel_m}")
    if len(points) == 0:
        return np.zeros(0, dtype=np.intp)
    cells = np.floor(points / voxel_m).astype(np.int64)  # (N, 3)
    _, cell_of_point, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    cell_of_point = cell_of_point.reshape(-1)  # (N,)
    sums = np.zeros((len(counts), 3))
    np.add.at(sums, cell_of_point, points)
    centroids = sums / counts[:, None]  # (C, 3)
    distance = np.linalg.norm(points - centroids[cell_of_point], axis=1)  # (N,)
    # Sort by (cell, distance) and keep the first point of each cell.
    order = np.lexsort((distance, cell_of_point))
    first = np.ones(len(order), dtype=bool)
    first[1:] = cell_of_point[order][1:] != cell_of_point[order][:-1]
    return np.sort(order[first])


def deproject(
    depth_m: FloatArray, intrinsics: FloatArray, base_from_camera: FloatArray
) -> tuple[FloatArray, NDArray[np.intp]]:
    """Points (M, 3) in the base frame for the valid pixels, and their flat pixel indices.

    Pixel (u, v) = (column, row) at depth d maps to x = (u - cx) d / fx, y = (v - cy) d / fy, z = d
    in the optical frame (spec §1.3). Zero, negative and non-finite depths are skipped.
    """
    width = depth_m.shape[1]
    flat = depth_m.reshape(-1)
    valid = np.flatnonzero(np.isfinite(flat) & (flat > 0))  # (M,)
    d = flat[valid].astype(np.float64)  # (M,)
    u = (valid % width).astype(np.float64)  # (M,)
    v = (valid // width).astype(np.float64)  # (M,)
    fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
    camera_points = np.stack([(u - cx) * d / fx, (v - cy) * d / fy, d], axis=1)  # (M, 3)
    return transform_points(base_from_camera, camera_points), valid
