"""The scene grasp selection runs on: the ROS-free twin of msg/SceneSnapshot.

Built by `a2_grasping.ros.conversions` from a message (or by the simulator and tests directly) and
validated once here, so every later stage can trust shapes, units and frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from a2_grasping.core.geometry import check_rigid_transform


@dataclass(frozen=True)
class CameraView:
    """One camera's images at the scene stamp, calibrated in the robot base frame."""

    name: str
    color_rgb: NDArray[np.uint8]  # (H, W, 3)
    depth_m: NDArray[np.float32]  # (H, W), metres along the optical axis; 0 or NaN = no data
    intrinsics: NDArray[np.float64]  # (3, 3) K for both images
    base_from_camera: NDArray[np.float64]  # (4, 4) optical frame (+z forward, +y down) in base

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("camera name must not be empty")
        if self.color_rgb.ndim != 3 or self.color_rgb.shape[2] != 3:
            raise ValueError(
                f"{self.name}: color_rgb must be (H, W, 3), got {self.color_rgb.shape}"
            )
        if self.color_rgb.dtype != np.uint8:
            raise ValueError(f"{self.name}: color_rgb must be uint8, got {self.color_rgb.dtype}")
        if self.depth_m.shape != self.color_rgb.shape[:2]:
            raise ValueError(
                f"{self.name}: depth {self.depth_m.shape} is not registered to colour "
                f"{self.color_rgb.shape[:2]}"
            )
        k = self.intrinsics
        if k.shape != (3, 3) or not np.all(np.isfinite(k)) or k[0, 0] <= 0 or k[1, 1] <= 0:
            raise ValueError(f"{self.name}: intrinsics must be a finite 3x3 K with fx, fy > 0")
        check_rigid_transform(self.base_from_camera, f"{self.name}: base_from_camera")


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
