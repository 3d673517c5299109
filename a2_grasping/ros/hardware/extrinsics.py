"""Where each camera's pose in the base frame comes from: static calibration, or TF.

Static extrinsics work everywhere. The TF adapter needs `tf2_ros`, which exists on real ROS 2
installs but not on PyPI; it is imported only when a camera asks for it, and its absence is a
clear start-up error rather than a silent fallback to some other pose.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from builtin_interfaces.msg import Time
from numpy.typing import NDArray
from rclpy.node import Node

from a2_grasping.core.perception_config import CameraConfig, pose_from_xyz_quat


class ExtrinsicsUnavailableError(RuntimeError):
    """No pose for this camera at this stamp (yet); the frame is skipped, not guessed."""


class Extrinsics(Protocol):
    def base_from_optical(self, optical_frame: str, stamp: Time) -> NDArray[np.float64]: ...


class StaticExtrinsics:
    """A calibrated mount that does not move: the pose comes from the parameters."""

    def __init__(self, base_from_optical: NDArray[np.float64]) -> None:
        self._pose = base_from_optical

    def base_from_optical(self, optical_frame: str, stamp: Time) -> NDArray[np.float64]:
        return self._pose


class TfExtrinsics:
    """Looks the pose up in TF at the image stamp (moving or separately calibrated cameras)."""

    def __init__(self, node: Node, base_frame: str) -> None:
        try:
            import tf2_ros
        except ImportError as error:
            raise ValueError(
                "extrinsics_source 'tf' needs tf2_ros (a full ROS 2 install); it is not "
                "installed here. Use extrinsics_source 'static' with base_from_optical."
            ) from error
        from a2_grasping.ros import conversions

        self._to_matrix = conversions.transform_to_matrix
        self._base_frame = base_frame
        self._buffer = tf2_ros.Buffer()
        self._listener = tf2_ros.TransformListener(self._buffer, node, spin_thread=False)
        self._exception = tf2_ros.TransformException

    def base_from_optical(self, optical_frame: str, stamp: Time) -> NDArray[np.float64]:
        try:
            # Never wait inside a callback: a pose that is not there yet skips the frame.
            transform = self._buffer.lookup_transform(self._base_frame, optical_frame, stamp)
        except self._exception as error:
            raise ExtrinsicsUnavailableError(
                f"no TF from {self._base_frame} to {optical_frame}: {error}"
            ) from None
        return self._to_matrix(transform.transform)


def make_extrinsics(node: Node, camera: CameraConfig, base_frame: str) -> Extrinsics:
    if camera.extrinsics_source == "tf":
        return TfExtrinsics(node, base_frame)
    return StaticExtrinsics(pose_from_xyz_quat(camera.base_from_optical, "base_from_optical"))
