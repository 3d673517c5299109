"""The scene grasp selection runs on: the ROS-free twin of msg/SceneSnapshot.

Built by `a2_grasping.ros.conversions` from a message (or by the simulator and tests directly) and
validated once here, so every later stage can trust shapes, units and frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from a2_grasping.core.geometry import check_intrinsics, check_rigid_transform, describe_value


@dataclass(frozen=True, eq=False)
class CameraView:
    """One calibrated RGB-D view; image, depth, K and pose travel together (spec §7 item 4)."""

    color_rgb: NDArray[np.uint8]  # (H, W, 3) uint8 RGB
    depth_m: NDArray[np.floating[Any]]  # (H, W) metres along the optical axis; 0 or NaN = no data
    intrinsics: NDArray[np.floating[Any]]  # (3, 3) K in pixels, valid for both images
    base_from_camera: NDArray[np.floating[Any]]  # (4, 4) optical frame (+z fwd, +y down) in base
    name: str = "camera"

    def __post_init__(self) -> None:
        color, depth = self.color_rgb, self.depth_m
        if not self.name.strip():
            raise ValueError("camera name must not be empty")
        if not isinstance(color, np.ndarray) or color.dtype != np.uint8:
            raise ValueError(
                f"color_rgb: expected a uint8 numpy array, got {describe_value(color)}"
            )
        if color.ndim != 3 or color.shape[2] != 3:
            raise ValueError(f"color_rgb: expected shape (H, W, 3), got {color.shape}")
        height, width = color.shape[:2]
        if height < 2 or width < 2:
            raise ValueError(f"color_rgb: need at least 2x2 pixels, got {height}x{width}")
        if not isinstance(depth, np.ndarray) or not np.issubdtype(depth.dtype, np.floating):
            raise ValueError(
                f"depth_m: expected a float numpy array in metres, got {describe_value(depth)} "
                "(convert uint16 depth with the device's depth scale first)"
            )
        if depth.shape != (height, width):
            raise ValueError(
                f"depth_m: shape {depth.shape} does not match the colour image {height}x{width}; "
                "register depth to colour at the same resolution"
            )
        check_intrinsics(self.intrinsics)
        check_rigid_transform(self.base_from_camera, "base_from_camera")

    @property
    def height_px(self) -> int:
        return int(self.color_rgb.shape[0])

    @property
    def width_px(self) -> int:
        return int(self.color_rgb.shape[1])

    def camera_from_base(self) -> NDArray[np.float64]:
        """Inverse pose (base -> optical frame), the [R|t] that upstream calls extrinsics."""
        pose = np.asarray(self.base_from_camera, dtype=np.float64)
        rotation = pose[:3, :3]  # (3, 3)
        inverse = np.eye(4)
        inverse[:3, :3] = rotation.T
        inverse[:3, 3] = -rotation.T @ pose[:3, 3]
        return inverse


@dataclass(frozen=True)
class Scene:
    """A fused cloud in the base frame plus the views it came from."""

    frame_id: str
    stamp_s: float
    points_xyz: NDArray[np.float32]  # (N, 3) metres, base frame
    colors_rgb: NDArray[np.uint8]  # (N, 3)
    workspace_box_m: NDArray[np.float64]  # (6,) [x_min, x_max, y_min, y_max, z_min, z_max]
    views: tuple[CameraView, ...] = ()

    def __post_init__(self) -> None:
        if self.points_xyz.ndim != 2 or self.points_xyz.shape[1] != 3:
            raise ValueError(f"points_xyz must be (N, 3), got {self.points_xyz.shape}")
        if self.colors_rgb.shape != self.points_xyz.shape:
            raise ValueError(
                f"colors_rgb {self.colors_rgb.shape} does not match points {self.points_xyz.shape}"
            )
        if not np.all(np.isfinite(self.points_xyz)):
            raise ValueError("points_xyz contains NaN or infinite coordinates")
        box = self.workspace_box_m
        if box.shape != (6,) or not np.all(np.isfinite(box)) or np.any(box[0::2] >= box[1::2]):
            raise ValueError(f"workspace_box_m must be 6 finite bounds with min < max, got {box}")
        names = [view.name for view in self.views]
        if len(set(names)) != len(names):
            raise ValueError(f"camera names must be unique, got {names}")

    def view_subset(self, names: tuple[str, ...]) -> tuple[CameraView, ...]:
        """The named views in the given order; all views when `names` is empty."""
        if not names:
            return self.views
        by_name = {view.name: view for view in self.views}
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise KeyError(f"cameras {unknown} are not in the scene (it has {sorted(by_name)})")
        return tuple(by_name[name] for name in names)
