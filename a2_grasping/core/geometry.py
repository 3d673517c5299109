"""Vectorised point-cloud and frame helpers shared by perception and grasp selection."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.floating]

# Tolerance of the rotation / intrinsics checks: float32 calibration files carry ~1e-6 rounding.
ROTATION_TOLERANCE = 1e-4
# Resolution of the distance-to-centre tie-break packed into voxel sort keys.
_DISTANCE_BITS = 20


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
    bounds = np.asarray(box_m, dtype=points.dtype)  # compare in the points' precision, no copies
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    inside: NDArray[np.bool_] = (
        (x >= bounds[0])
        & (x <= bounds[1])
        & (y >= bounds[2])
        & (y <= bounds[3])
        & (z >= bounds[4])
        & (z <= bounds[5])
    )
    return inside


def voxel_downsample(points: FloatArray, voxel_m: float) -> NDArray[np.intp]:
    """Indices (ascending) of one representative point per occupied voxel: the point nearest the
    voxel's centre.

    Returning indices rather than new points keeps colours and features aligned with positions,
    and every returned point is a real measurement, not an average that may lie in free space.
    Perception runs this per camera frame, so it is one sort of packed integer keys (voxel index
    in the high bits, quantised distance to the voxel centre in the low bits). open3d's
    voxel_down_sample averages points and colours instead (39 ms against 44 ms here on a
    161 k-point frame at 3 mm, 2-core AMD EPYC Zen 4, loaded); its index-keeping variant
    (voxel_down_sample_and_trace) took 168 ms, so this one stays.
    """
    if voxel_m <= 0:
        raise ValueError(f"voxel_m must be positive, got {voxel_m}")
    if len(points) == 0:
        return np.zeros(0, dtype=np.intp)
    scaled = np.asarray(points) * (1.0 / voxel_m)  # (N, 3) in voxel units
    cells_f = np.floor(scaled)
    offset = scaled - cells_f - 0.5  # (N, 3) from the voxel centre, each in [-0.5, 0.5)
    distance_sq = np.einsum("ij,ij->i", offset, offset)  # (N,) in [0, 0.75]
    cells = cells_f.astype(np.int64)
    cells -= cells.min(axis=0)
    extent = cells.max(axis=0) + 1  # (3,)
    cell_key = (cells[:, 0] * extent[1] + cells[:, 1]) * extent[2] + cells[:, 2]  # (N,)
    if int(np.prod(extent)) < 2 ** (62 - _DISTANCE_BITS):
        quantised = (distance_sq * ((2**_DISTANCE_BITS - 1) / 0.75)).astype(np.int64)
        order = np.argsort((cell_key << _DISTANCE_BITS) | quantised)
    else:  # an enormous extent for this voxel size: two-key sort instead of packing
        order = np.lexsort((distance_sq, cell_key))
    sorted_cells = cell_key[order]
    first = np.r_[True, sorted_cells[1:] != sorted_cells[:-1]]
    return np.sort(order[first])


@functools.lru_cache(maxsize=16)
def _base_frame_pixel_rays(
    intrinsics_key: tuple[float, ...], pose_key: tuple[float, ...], height: int, width: int
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """Per pixel (flat, H*W) the x, y and z of the base-frame direction
    R @ ((u-cx)/fx, (v-cy)/fy, 1): a point at optical depth d is origin + d * ray. Cached per
    camera model and pose (mounts are static); one contiguous array per axis so that the crop can
    test one coordinate at a time."""
    fx, fy, cx, cy = intrinsics_key
    rotation = np.asarray(pose_key, dtype=np.float32).reshape(4, 4)[:3, :3]
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    optical = np.stack([((u - cx) / fx).ravel(), ((v - cy) / fy).ravel()], axis=1)
    rays = np.c_[optical, np.ones(len(optical), np.float32)] @ rotation.T  # (H*W, 3)
    axes = tuple(np.ascontiguousarray(rays[:, i], dtype=np.float32) for i in range(3))
    for axis in axes:
        axis.flags.writeable = False
    return axes[0], axes[1], axes[2]


def deproject(
    depth_m: FloatArray,
    intrinsics: FloatArray,
    base_from_camera: FloatArray,
    *,
    min_depth_m: float = 0.0,
    max_depth_m: float = float("inf"),
    box_m: FloatArray | None = None,
) -> tuple[FloatArray, NDArray[np.intp]]:
    """Points (M, 3) in the base frame for the valid pixels, and their flat pixel indices.

    Pixel (u, v) = (column, row) at depth d maps to x = (u - cx) d / fx, y = (v - cy) d / fy, z = d
    in the optical frame (spec §1.3). Depths outside (min_depth_m, max_depth_m] (zero, negative
    and non-finite included) are skipped. With `box_m` ([x_min, x_max, y_min, y_max, z_min,
    z_max], base frame) only the points inside it are returned; cropping one axis at a time while
    deprojecting is 4x faster than deprojecting everything first. float32 points: depth sensors
    are not more precise.
    """
    height, width = depth_m.shape
    k = np.asarray(intrinsics, dtype=np.float64)
    pose = np.asarray(base_from_camera, dtype=np.float64)
    rays = _base_frame_pixel_rays(
        (float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2])),
        tuple(float(v) for v in pose.reshape(-1)),
        height,
        width,
    )
    origin = pose[:3, 3].astype(np.float32)
    flat = depth_m.reshape(-1)
    with np.errstate(invalid="ignore"):
        valid = np.flatnonzero((flat > max(min_depth_m, 0.0)) & (flat <= max_depth_m))  # (M,)
    depth = flat[valid].astype(np.float32)  # (M,)
    if box_m is not None:
        bounds = np.asarray(box_m, dtype=np.float32)
        for axis in range(3):
            coordinate = rays[axis][valid] * depth + origin[axis]
            inside = (coordinate >= bounds[2 * axis]) & (coordinate <= bounds[2 * axis + 1])
            valid, depth = valid[inside], depth[inside]
    points: FloatArray = np.empty((len(valid), 3), dtype=np.float32)
    for axis in range(3):
        points[:, axis] = rays[axis][valid] * depth + origin[axis]
    return points, valid


def points_with_neighbours(
    points: NDArray[np.floating[Any]], radius_m: float, min_neighbours: int
) -> NDArray[np.intp]:
    """Indices of the points with at least `min_neighbours` others within `radius_m` (open3d's
    radius outlier removal; it counts the point itself, hence the + 1)."""
    import open3d as o3d  # deferred: 0.5 s import

    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points.astype(np.float64)))
    _, kept = cloud.remove_radius_outlier(nb_points=min_neighbours + 1, radius=radius_m)
    return np.asarray(kept, dtype=np.intp)
