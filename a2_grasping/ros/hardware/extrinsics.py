"""Where each camera's pose in the base frame comes from: static calibration, or TF.

Static extrinsics work everywhere. TF: with `tf2_ros` (real ROS 2 installs) its Buffer and
TransformListener; without it (PyPI installs) a listener of our own on /tf and /tf_static
(tf2_msgs/TFMessage) over core.transforms.TransformBuffer. A pose that is not known at the
image's stamp skips the frame; it is never replaced by some other pose.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import numpy as np
from builtin_interfaces.msg import Time
from numpy.typing import NDArray
from rclpy.node import Node

from a2_grasping.core.perception_config import CameraConfig, pose_from_xyz_quat

# Dynamic transforms kept for lookups at image stamps (tf2's default buffer length).
TF_CACHE_S = 10.0


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


class TopicTfExtrinsics:
    """/tf and /tf_static into a TransformBuffer, looked up at the image stamp (no tf2_ros)."""

    def __init__(self, node: Node, base_frame: str) -> None:
        try:
            from tf2_msgs.msg import TFMessage
        except ImportError as error:
            raise ValueError(
                "extrinsics_source 'tf' needs tf2_msgs (a ROS 2 install, or the stand-in this "
                "package builds where it is missing); it cannot be imported. Use "
                "extrinsics_source 'static' with base_from_optical."
            ) from error
        from a2_grasping.core.transforms import TransformBuffer
        from a2_grasping.ros import conversions
        from a2_grasping.ros.qos import TF_QOS, TF_STATIC_QOS

        self._base_frame = base_frame
        self._buffer = TransformBuffer(cache_s=TF_CACHE_S)
        self._lock = threading.Lock()
        self._to_matrix = conversions.transform_to_matrix
        self._to_seconds = conversions.time_to_seconds
        node.create_subscription(TFMessage, "/tf", self._on_tf, TF_QOS)
        node.create_subscription(
            TFMessage, "/tf_static", lambda msg: self._on_tf(msg, static=True), TF_STATIC_QOS
        )
        self._logger = node.get_logger()

    def _on_tf(self, msg: Any, static: bool = False) -> None:
        for transform in msg.transforms:
            try:
                pose = self._to_matrix(transform.transform)
                with self._lock:
                    self._buffer.set_transform(
                        transform.header.frame_id,
                        transform.child_frame_id,
                        pose,
                        self._to_seconds(transform.header.stamp),
                        static,
                    )
            except ValueError as error:
                self._logger.warning(f"ignoring a transform on /tf: {error}")

    def base_from_optical(self, optical_frame: str, stamp: Time) -> NDArray[np.float64]:
        from a2_grasping.core.transforms import TransformLookupError

        try:
            with self._lock:
                return self._buffer.lookup(self._base_frame, optical_frame, self._to_seconds(stamp))
        except TransformLookupError as error:
            raise ExtrinsicsUnavailableError(
                f"no TF from {self._base_frame} to {optical_frame}: {error}"
            ) from None


def make_extrinsics(
    node: Node, cameras: dict[str, CameraConfig], base_frame: str
) -> dict[str, Extrinsics]:
    """Each camera's pose source: static, or TF (tf2_ros where installed, else our listener;
    one for all TF cameras)."""
    tf: Extrinsics | None = None
    sources: dict[str, Extrinsics] = {}
    for name, camera in cameras.items():
        if camera.extrinsics_source != "tf":
            pose = pose_from_xyz_quat(camera.base_from_optical, f"{name}.base_from_optical")
            sources[name] = StaticExtrinsics(pose)
            continue
        if tf is None:
            try:
                import tf2_ros  # noqa: F401
            except ImportError:
                tf = TopicTfExtrinsics(node, base_frame)
            else:
                tf = TfExtrinsics(node, base_frame)
        sources[name] = tf
    return sources
