"""Camera poses and intrinsics: the ROS optical convention outside, MuJoCo's inside.

A camera is configured by `base_from_optical` = [x, y, z, qx, qy, qz, qw]: the pose of its
optical frame (z forward, x right, y down; REP 103 `*_optical_frame`) in the base frame. MuJoCo
cameras look along their -z with y up, so the MuJoCo camera frame is the optical frame turned
180° about x. The intrinsics follow from fovy alone: MuJoCo renders square pixels with the
principal point at the image centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

# optical_R_mujoco: rotation from the MuJoCo camera frame (-z forward, y up) to the optical frame.
OPTICAL_R_MUJOCO = np.diag([1.0, -1.0, -1.0])
OPTICAL_R_MUJOCO.setflags(write=False)


@dataclass(frozen=True)
class CameraSpec:
    """One simulated RGB-D camera (colour and aligned depth share these intrinsics)."""

    name: str
    base_from_optical: tuple[float, ...]  # [x, y, z, qx, qy, qz, qw]
    fovy_deg: float
    width: int
    height: int

    def __post_init__(self) -> None:
        if len(self.base_from_optical) != 7:
            raise ValueError(
                f"camera {self.name}: base_from_optical needs 7 numbers [x, y, z, qx, qy, qz, qw], "
                f"got {len(self.base_from_optical)}"
            )
        if not all(math.isfinite(v) for v in self.base_from_optical):
            raise ValueError(f"camera {self.name}: base_from_optical must be finite")
        norm = math.sqrt(sum(v * v for v in self.base_from_optical[3:]))
        if abs(norm - 1.0) > 1e-3:
            raise ValueError(f"camera {self.name}: quaternion norm is {norm:.6f}, not 1")
        if not 1.0 <= self.fovy_deg <= 170.0:
            raise ValueError(f"camera {self.name}: fovy_deg={self.fovy_deg} outside 1..170")

    @property
    def base_from_optical_matrix(self) -> NDArray[np.float64]:
        return pose7_to_matrix(self.base_from_optical)

    @property
    def intrinsics(self) -> NDArray[np.float64]:
        return intrinsics_from_fovy(self.fovy_deg, self.width, self.height)

    def mujoco_pos_quat(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Position and MuJoCo quaternion (w, x, y, z) of the MuJoCo camera frame in the world."""
        matrix = self.base_from_optical_matrix
        base_r_mujoco = matrix[:3, :3] @ OPTICAL_R_MUJOCO
        x, y, z, w = Rotation.from_matrix(base_r_mujoco).as_quat()
        return matrix[:3, 3].copy(), np.array([w, x, y, z])


def intrinsics_from_fovy(fovy_deg: float, width: int, height: int) -> NDArray[np.float64]:
    """K for MuJoCo's pinhole: fx = fy = (H / 2) / tan(fovy / 2), centre at the image middle.

    Pixel (u, v) indexes the pixel whose centre is at (u + 0.5, v + 0.5) in image coordinates,
    so the optical axis passes through u = (W - 1) / 2, v = (H - 1) / 2.
    """
    focal_px = 0.5 * height / math.tan(math.radians(fovy_deg) / 2.0)
    return np.array(
        [[focal_px, 0.0, (width - 1) / 2.0], [0.0, focal_px, (height - 1) / 2.0], [0.0, 0.0, 1.0]]
    )


def pose7_to_matrix(pose: tuple[float, ...] | NDArray[np.float64]) -> NDArray[np.float64]:
    """4x4 from [x, y, z, qx, qy, qz, qw] (quaternion normalised)."""
    values = np.asarray(pose, dtype=np.float64)
    matrix = np.eye(4)
    matrix[:3, :3] = Rotation.from_quat(values[3:] / np.linalg.norm(values[3:])).as_matrix()
    matrix[:3, 3] = values[:3]
    return matrix


def matrix_to_pose7(matrix: NDArray[np.float64]) -> tuple[float, ...]:
    quat = Rotation.from_matrix(matrix[:3, :3]).as_quat()
    return tuple(float(v) for v in (*matrix[:3, 3], *quat))


def look_at_base_from_optical(
    eye_m: tuple[float, float, float], target_m: tuple[float, float, float]
) -> NDArray[np.float64]:
    """Optical-frame pose at `eye_m` looking at `target_m`, image "up" towards base +z.

    Raises:
        ValueError: when looking straight up or down (the image roll is then undefined).
    """
    eye, target = np.asarray(eye_m, dtype=np.float64), np.asarray(target_m, dtype=np.float64)
    forward = target - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, (0.0, 0.0, 1.0))
    if np.linalg.norm(right) < 1e-6:
        raise ValueError("look_at: viewing direction is vertical; the image roll is undefined")
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    matrix = np.eye(4)
    matrix[:3, :3] = np.stack([right, down, forward], axis=1)
    matrix[:3, 3] = eye
    return matrix


# Keeps the calibration stream apart from other streams seeded by the same numbers.
_CALIBRATION_STREAM = 0xCA1B


def perturbed_camera(
    spec: CameraSpec,
    *,
    translation_m: float,
    rotation_deg: float,
    seed: int,
    camera_index: int,
) -> CameraSpec:
    """The camera moved by a calibration error: where it really is, while its spec says otherwise.

    The optical centre moves exactly `translation_m` along a random unit direction (base frame)
    and the optical frame turns exactly `rotation_deg` about a random unit axis (base frame,
    through the optical centre); both drawn from `seed` and `camera_index`. Intrinsics are
    unchanged. Zero error returns `spec` itself.
    """
    if translation_m == 0.0 and rotation_deg == 0.0:
        return spec
    rng = np.random.default_rng([seed, camera_index, _CALIBRATION_STREAM])
    direction = _random_unit_vector(rng)
    axis = _random_unit_vector(rng)
    nominal = spec.base_from_optical_matrix
    moved = np.eye(4)
    moved[:3, :3] = (
        Rotation.from_rotvec(math.radians(rotation_deg) * axis).as_matrix() @ nominal[:3, :3]
    )
    moved[:3, 3] = nominal[:3, 3] + translation_m * direction
    return CameraSpec(
        name=spec.name,
        base_from_optical=matrix_to_pose7(moved),
        fovy_deg=spec.fovy_deg,
        width=spec.width,
        height=spec.height,
    )


def _random_unit_vector(rng: np.random.Generator) -> NDArray[np.float64]:
    """Uniform on the sphere (an isotropic Gaussian, normalised)."""
    while True:
        vector = rng.standard_normal(3)
        norm = float(np.linalg.norm(vector))
        if norm > 1e-9:
            return vector / norm
