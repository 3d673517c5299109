"""What every grasp-candidate generator returns and accepts, so generators are interchangeable.

The geometric antipodal sampler (used when no learned weights are present) and a GraspNet wrapper
both implement `CandidateGenerator`; callers only see `GraspCandidates`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class GraspCandidates:
    """K grasp candidates in the robot base frame, best first.

    tcp_poses: (K,4,4) base_from_tcp, TCP convention of `a2_grasping.core.gripper`.
    width_m: (K,) object width across the closing axis (the opening the grasp needs).
    approach_depth_m: (K,) how far the TCP lies past the first object surface met along the
        approach, i.e. how deep the pads reach over the object.
    quality: (K,) score in [0, 1]; its meaning is documented by the generator.
    candidate_id: (K,) int64 identifiers, unique within this set.
    Arrays are made read-only so a shared result cannot be edited behind a caller's back.
    """

    tcp_poses: NDArray[np.float64]
    width_m: NDArray[np.float64]
    approach_depth_m: NDArray[np.float64]
    quality: NDArray[np.float64]
    candidate_id: NDArray[np.int64]

    def __post_init__(self) -> None:
        poses = _finite_float(self.tcp_poses, "tcp_poses")
        if poses.ndim != 3 or poses.shape[1:] != (4, 4):
            raise ValueError(f"tcp_poses must have shape (K,4,4), got {poses.shape}")
        count = poses.shape[0]
        width = _vector(self.width_m, "width_m", count)
        depth = _vector(self.approach_depth_m, "approach_depth_m", count)
        quality = _vector(self.quality, "quality", count)
        ids = np.array(self.candidate_id)
        if ids.shape != (count,) or (count and not np.issubdtype(ids.dtype, np.integer)):
            raise ValueError(f"candidate_id must be ({count},) integers, got {ids.shape}")
        if len(np.unique(ids)) != count:
            raise ValueError("candidate_id values must be unique")
        if np.any((quality < 0.0) | (quality > 1.0)):
            raise ValueError("quality must lie in [0, 1]")
        if np.any(width < 0.0):
            raise ValueError("width_m must not be negative")
        _check_transforms(poses)
        arrays = {
            "tcp_poses": poses,
            "width_m": width,
            "approach_depth_m": depth,
            "quality": quality,
            "candidate_id": ids.astype(np.int64),
        }
        for name, values in arrays.items():
            values.setflags(write=False)
            object.__setattr__(self, name, values)

    def __len__(self) -> int:
        return int(self.tcp_poses.shape[0])

    @classmethod
    def empty(cls) -> GraspCandidates:
        """No candidates: the honest answer when nothing graspable was found."""
        return cls(
            tcp_poses=np.zeros((0, 4, 4)),
            width_m=np.zeros(0),
            approach_depth_m=np.zeros(0),
            quality=np.zeros(0),
            candidate_id=np.zeros(0, dtype=np.int64),
        )

    def take(self, indices: NDArray[np.integer] | slice) -> GraspCandidates:
        """A subset (e.g. the top k), keeping the candidates' identifiers."""
        return GraspCandidates(
            tcp_poses=self.tcp_poses[indices],
            width_m=self.width_m[indices],
            approach_depth_m=self.approach_depth_m[indices],
            quality=self.quality[indices],
            candidate_id=self.candidate_id[indices],
        )


def _finite_float(values: object, name: str) -> NDArray[np.float64]:
    array = np.array(values, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _vector(values: object, name: str, count: int) -> NDArray[np.float64]:
    array = _finite_float(values, name)
    if array.shape != (count,):
        raise ValueError(f"{name} must have shape ({count},), got {array.shape}")
    return array


def _check_transforms(poses: NDArray[np.float64]) -> None:
    """Proper rotations and a 0 0 0 1 last row, so downstream inverses are valid."""
    if len(poses) == 0:
        return
    rotations = poses[:, :3, :3]
    orthogonality_error = np.abs(rotations.transpose(0, 2, 1) @ rotations - np.eye(3)).max()
    if orthogonality_error > 1e-6 or np.any(np.linalg.det(rotations) < 0.0):
        raise ValueError("tcp_poses must hold proper rotations")
    if np.abs(poses[:, 3, :] - np.array([0.0, 0.0, 0.0, 1.0])).max() > 1e-9:
        raise ValueError("tcp_poses must be homogeneous transforms (last row 0 0 0 1)")


@dataclass(frozen=True, eq=False)
class ObjectPrior:
    """A segmented object's box, for grasps across sides the cameras did not see.

    base_from_object: (4,4) pose of the box centre, z up; extents_m: (3,) full lengths along the
    box axes; shape: "box", "cylinder" or "sphere" (cylinder and sphere: x and y are diameters).
    """

    base_from_object: NDArray[np.float64]
    extents_m: NDArray[np.float64]
    shape: str


@runtime_checkable
class CandidateGenerator(Protocol):
    """Proposes grasps on a point cloud; the ranking model or the executor chooses among them."""

    def generate(
        self,
        points_xyz: NDArray[np.float64],
        table_height_m: float,
        rng: np.random.Generator,
        focus_points_xyz: NDArray[np.float64] | None = None,
        priors: tuple[ObjectPrior, ...] = (),
    ) -> GraspCandidates:
        """Candidates for an (N,3) cloud in the base frame whose table top lies at table_height_m.

        `focus_points_xyz`, when given, are the points of the object(s) to grasp: every candidate
        must close on them, while the whole cloud counts for collisions. `priors` are segmented
        objects a generator may also grasp across their box (a generator without such a source
        ignores them). Must return an empty set, never an invented pose, when nothing is
        graspable, and raise ValueError for malformed input.
        """
        ...


def validate_cloud(
    points_xyz: object, table_height_m: object, rng: object = None
) -> NDArray[np.float64]:
    """The cloud as a contiguous (N,3) float64 array; ValueError says what is wrong otherwise
    (also for `rng`, when given, if it is not a numpy Generator)."""
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    try:
        points = np.asarray(points_xyz, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"points_xyz must be an (N,3) array of numbers: {error}") from error
    if points.size == 0 and (points.ndim == 1 or (points.ndim == 2 and points.shape[1] == 3)):
        points = points.reshape(0, 3)  # [] and (0,3) both mean "nothing seen"
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points_xyz must have shape (N,3), got {points.shape}")
    if not np.all(np.isfinite(points)):
        bad = int(np.count_nonzero(~np.all(np.isfinite(points), axis=1)))
        raise ValueError(f"points_xyz has {bad} rows with NaN or infinite coordinates; drop them")
    if isinstance(table_height_m, bool | np.bool_) or not isinstance(table_height_m, numbers.Real):
        raise ValueError(f"table_height_m must be a number, got {table_height_m!r}")
    if not math.isfinite(float(table_height_m)):
        raise ValueError(f"table_height_m must be finite, got {table_height_m!r}")
    return np.ascontiguousarray(points)
