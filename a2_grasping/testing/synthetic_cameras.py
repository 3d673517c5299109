"""Publishing analytically rendered RGB-D cameras the way a driver does (tests and benchmarks).

Each camera publishes colour, registered depth and CameraInfo under the RealSense topic layout
(`/<camera>/color/image_raw`, `/<camera>/aligned_depth_to_color/image_raw`,
`/<camera>/color/camera_info`) with one stamp per frame. Images are rendered once per camera and
re-stamped on every publish, so a test can stream at camera rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Time
from numpy.typing import NDArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import CameraInfo, Image

from a2_grasping.ros import conversions
from a2_grasping.testing.synthetic_rgbd import Box, look_at, pinhole, render

# What drivers use: reliable, a few frames deep (matches best-effort and reliable subscribers).
CAMERA_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)


@dataclass(frozen=True)
class SyntheticCamera:
    name: str
    base_from_optical: NDArray[np.float64]
    intrinsics: NDArray[np.float64]
    size_px: tuple[int, int]  # (height, width)

    @classmethod
    def looking_at(
        cls,
        name: str,
        eye_m: tuple[float, float, float],
        target_m: tuple[float, float, float],
        size_px: tuple[int, int] = (480, 640),
        horizontal_fov_deg: float = 69.0,
    ) -> SyntheticCamera:
        return cls(
            name,
            look_at(eye_m, target_m),
            pinhole(size_px[1], size_px[0], horizontal_fov_deg),
            size_px,
        )

    @property
    def frame(self) -> str:
        return f"{self.name}_color_optical_frame"

    def xyz_quat(self) -> list[float]:
        """base_from_optical as the perception_node parameter [x, y, z, qx, qy, qz, qw]."""
        quaternion = Rotation.from_matrix(self.base_from_optical[:3, :3]).as_quat()
        return [float(v) for v in (*self.base_from_optical[:3, 3], *quaternion)]

    def parameters(self) -> list[str]:
        """--ros-args for perception_node configuring this camera with static extrinsics."""
        pose = ",".join(f"{v:.9f}" for v in self.xyz_quat())
        return ["-p", f"{self.name}.base_from_optical:=[{pose}]"]


@dataclass
class RenderedFrame:
    color: Image
    depth: Image
    info: CameraInfo

    def stamped(self, stamp: Time) -> RenderedFrame:
        for message in (self.color, self.depth, self.info):
            message.header.stamp = stamp
        return self


def render_frame(
    camera: SyntheticCamera,
    boxes: tuple[Box, ...],
    color_encoding: str = "rgb8",
    depth_encoding: str = "16UC1",
) -> RenderedFrame:
    rgb, depth_m = render(boxes, camera.base_from_optical, camera.intrinsics, camera.size_px)
    stamp = Time()
    height, width = camera.size_px
    return RenderedFrame(
        conversions.rgb_to_image(rgb, stamp, camera.frame, color_encoding),
        conversions.depth_m_to_image(depth_m, stamp, camera.frame, depth_encoding),
        conversions.intrinsics_to_camera_info(
            camera.intrinsics, width, height, stamp, camera.frame
        ),
    )


class SyntheticCameraPublisher:
    """Publishes pre-rendered frames of several cameras from a node the caller spins."""

    def __init__(self, node: Node, frames: dict[str, RenderedFrame]) -> None:
        self._node = node
        self.frames = frames
        self._publishers = {
            name: (
                node.create_publisher(Image, f"/{name}/color/image_raw", CAMERA_QOS),
                node.create_publisher(
                    Image, f"/{name}/aligned_depth_to_color/image_raw", CAMERA_QOS
                ),
                node.create_publisher(CameraInfo, f"/{name}/color/camera_info", CAMERA_QOS),
            )
            for name in frames
        }

    def publish(self, stamp: Time | None = None) -> Time:
        """Publish every camera's frame with one stamp (default: now on the node's clock)."""
        stamp = stamp or self._node.get_clock().now().to_msg()
        for name, frame in self.frames.items():
            color, depth, info = self._publishers[name]
            frame.stamped(stamp)
            color.publish(frame.color)
            depth.publish(frame.depth)
            info.publish(frame.info)
        return stamp
