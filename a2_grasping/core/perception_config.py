"""Configuration of perception_node: the cameras, how they are synchronised, and the scene built.

Per-camera fields are declared under the camera's name (`<camera>.color_topic`, ...), so a YAML
file lists `camera_names` and one block per camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from a2_grasping.core.config_fields import config_field, validate_ranges

EXTRINSICS_SOURCES = ("static", "tf")


@dataclass(frozen=True)
class CameraConfig:
    """One RGB-D camera. Empty topic names mean the RealSense-driver layout under <camera>/."""

    color_topic: str = config_field("", "Colour image topic; empty: <camera>/color/image_raw.")
    depth_topic: str = config_field(
        "",
        "Depth image topic, registered to colour (same size and K); "
        "empty: <camera>/aligned_depth_to_color/image_raw.",
    )
    info_topic: str = config_field(
        "", "CameraInfo of the colour image; empty: <camera>/color/camera_info."
    )
    optical_frame: str = config_field(
        "", "Optical frame of the colour image; empty: <camera>_color_optical_frame."
    )
    extrinsics_source: str = config_field(
        "static",
        "Where base_from_optical comes from: 'static' (the parameter below) or 'tf' "
        "(looked up in /tf and /tf_static at each frame's stamp: tf2_ros where installed, else "
        "the package's own listener).",
    )
    base_from_optical: tuple[float, ...] = config_field(
        (),
        "Static pose of the optical frame (+z forward, +y down) in the base frame: "
        "[x, y, z, qx, qy, qz, qw] (m, unit quaternion). Required when extrinsics_source is "
        "static.",
    )

    def __post_init__(self) -> None:
        if self.extrinsics_source not in EXTRINSICS_SOURCES:
            raise ValueError(
                f"extrinsics_source must be one of {EXTRINSICS_SOURCES}, "
                f"got '{self.extrinsics_source}'"
            )
        if self.extrinsics_source == "static":
            pose_from_xyz_quat(self.base_from_optical, "base_from_optical")

    def topics(self, camera: str) -> tuple[str, str, str]:
        """(colour, depth, info) topic names with the driver defaults filled in."""
        return (
            self.color_topic or f"{camera}/color/image_raw",
            self.depth_topic or f"{camera}/aligned_depth_to_color/image_raw",
            self.info_topic or f"{camera}/color/camera_info",
        )

    def frame(self, camera: str) -> str:
        return self.optical_frame or f"{camera}_color_optical_frame"


def pose_from_xyz_quat(values: tuple[float, ...], name: str) -> NDArray[np.float64]:
    """4x4 pose from [x, y, z, qx, qy, qz, qw]; ValueError naming `name` when malformed."""
    if len(values) != 7:
        raise ValueError(f"{name} must be [x, y, z, qx, qy, qz, qw], got {len(values)} values")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{name} contains NaN or infinite values: {list(values)}")
    quaternion = np.asarray(values[3:], dtype=np.float64)
    norm = float(np.linalg.norm(quaternion))
    if abs(norm - 1.0) > 1e-3:
        raise ValueError(f"{name}: the quaternion must be unit length, its norm is {norm:.6f}")
    pose = np.eye(4)
    pose[:3, :3] = Rotation.from_quat(quaternion / norm).as_matrix()
    pose[:3, 3] = values[:3]
    return pose


@dataclass(frozen=True)
class PerceptionConfig:
    """Parameters of perception_node; each field is a declared ROS parameter of the same name."""

    autostart: bool = config_field(
        False,
        "Configure and activate right after start-up, without a lifecycle manager (bringup "
        "drives the lifecycle). Scenes are published only while active.",
    )
    camera_names: tuple[str, ...] = config_field(
        ("front",), "Cameras to fuse; each has a parameter block under its name."
    )
    base_frame: str = config_field("base_link", "Robot base frame the scene is expressed in.")
    scene_topic: str = config_field("a2/scene", "Fused scene output (SceneSnapshot).")
    points_topic: str = config_field("a2/points", "Fused cloud for RViz (PointCloud2 xyz+rgb).")
    publish_rate_hz: float = config_field(
        5.0,
        "Rate at which a new scene is built and published (Hz, wall clock: it budgets CPU).",
        min_value=0.1,
        max_value=60.0,
    )
    workspace_box_m: tuple[float, ...] = config_field(
        (0.2, 0.8, -0.35, 0.35, -0.02, 0.4),
        "Workspace box in the base frame, [x_min, x_max, y_min, y_max, z_min, z_max] (m); "
        "points outside are dropped.",
    )
    voxel_size_m: float = config_field(
        0.003, "Voxel edge of the downsampled cloud (m).", min_value=0.0005, max_value=0.1
    )
    min_depth_m: float = config_field(
        0.1, "Depth readings nearer than this are ignored (m).", min_value=0.0, max_value=10.0
    )
    max_depth_m: float = config_field(
        3.0, "Depth readings farther than this are ignored (m).", min_value=0.01, max_value=50.0
    )
    sync_slop_s: float = config_field(
        0.02,
        "Colour, depth and CameraInfo of one camera belong together when their stamps differ by "
        "at most this (s).",
        min_value=0.0,
        max_value=1.0,
    )
    cross_camera_slop_s: float = config_field(
        0.1,
        "Frames of different cameras are fused only when their stamps differ by at most this (s).",
        min_value=0.0,
        max_value=10.0,
    )
    queue_size: int = config_field(
        5, "Messages kept per stream while waiting for a match.", min_value=1, max_value=100
    )
    max_frame_age_s: float = config_field(
        1.0,
        "A camera frame older than this (s, against the node clock) is not fused: no scene is "
        "published rather than a stale one.",
        min_value=0.01,
        max_value=3600.0,
    )
    outlier_neighbors: int = config_field(
        0,
        "Statistical outlier removal: neighbours considered per point (0 disables it).",
        min_value=0,
        max_value=100,
    )
    outlier_std_ratio: float = config_field(
        2.0,
        "Points whose mean neighbour distance exceeds mean + ratio x std are removed.",
        min_value=0.1,
        max_value=10.0,
    )
    edge_filter_jump_m: float = config_field(
        0.0,
        "Flying-pixel removal: in a 3x3 window whose depth range exceeds this (m), pixels more "
        "than edge_filter_keep_m from both the nearest and the farthest depth are dropped. "
        "0 disables it. Above the noise range of a 3x3 window (about 5 sigma: 9 mm for a D435 "
        "at 0.8 m), below the smallest step worth keeping (an object's side).",
        min_value=0.0,
        max_value=0.5,
    )
    edge_filter_keep_m: float = config_field(
        0.006,
        "Flying-pixel removal: pixels this close (m) to the window's nearest or farthest depth "
        "belong to a surface and stay (about 3 sigma of the depth noise).",
        min_value=0.0,
        max_value=0.1,
    )
    bilateral_sigma_m: float = config_field(
        0.0,
        "Edge-preserving depth smoothing (open3d bilateral filter): value sigma in m, 2-3x the "
        "depth noise; 0 disables it.",
        min_value=0.0,
        max_value=0.1,
    )
    bilateral_kernel_px: int = config_field(
        5, "Bilateral filter kernel (odd, pixels).", min_value=3, max_value=15
    )
    temporal_alpha: float = config_field(
        1.0,
        "Temporal depth averaging while the scene is still: weight of the newest frame "
        "(1 disables it; 0.4 is the RealSense temporal filter's default).",
        min_value=0.05,
        max_value=1.0,
    )
    temporal_delta_m: float = config_field(
        0.012,
        "A pixel whose new depth differs from its average by more than this (m) restarts from "
        "the new value: motion shows at once. Above the noise of two frames (3 sigma * sqrt 2).",
        min_value=0.001,
        max_value=0.5,
    )
    align_to_table: bool = config_field(
        False,
        "Correct each camera's pose so that the table plane it sees lies at table_height_m "
        "(fixes the tilt and height part of a hand-eye calibration error).",
    )
    table_height_m: float = config_field(
        0.0,
        "Height of the table top in base_frame (m), for the table alignment and white balance.",
        min_value=-2.0,
        max_value=2.0,
    )
    max_table_correction_deg: float = config_field(
        2.0,
        "Table alignment refuses (and reports) a larger tilt correction (deg): that is a wrong "
        "calibration, not a residual.",
        min_value=0.0,
        max_value=20.0,
    )
    max_table_correction_m: float = config_field(
        0.02,
        "Table alignment refuses (and reports) a larger height correction (m).",
        min_value=0.0,
        max_value=0.2,
    )
    white_balance: bool = config_field(
        False,
        "Balance each camera's colour so the table shows table_rgb (undoes the light's colour "
        "temperature, white-balance drift and exposure).",
    )
    table_rgb: tuple[float, ...] = config_field(
        (0.72, 0.72, 0.70),
        "The table's colour (sRGB 0..1) under neutral light: the white-balance reference "
        "(the simulated cell's table; measure yours once with a grey card's balance).",
    )
    image_reliability: str = config_field(
        "best_effort",
        "QoS reliability of the image subscriptions: 'best_effort' matches every driver; "
        "'reliable' only matches reliable publishers.",
    )

    def __post_init__(self) -> None:
        validate_ranges(self)
        if not self.camera_names or any(not name.strip() for name in self.camera_names):
            raise ValueError(f"camera_names must list at least one camera, got {self.camera_names}")
        if len(set(self.camera_names)) != len(self.camera_names):
            raise ValueError(f"camera_names must be unique, got {list(self.camera_names)}")
        box = self.workspace_box_m
        if len(box) != 6 or not all(math.isfinite(v) for v in box):
            raise ValueError(f"workspace_box_m must be 6 finite numbers, got {list(box)}")
        if any(box[2 * i] >= box[2 * i + 1] for i in range(3)):
            raise ValueError(f"workspace_box_m needs min < max on every axis, got {list(box)}")
        if self.min_depth_m >= self.max_depth_m:
            raise ValueError(
                f"min_depth_m ({self.min_depth_m}) must be below max_depth_m ({self.max_depth_m})"
            )
        if self.image_reliability not in ("best_effort", "reliable"):
            raise ValueError(
                f"image_reliability must be 'best_effort' or 'reliable', "
                f"got '{self.image_reliability}'"
            )
        object.__setattr__(self, "table_rgb", tuple(float(v) for v in self.table_rgb))
        if len(self.table_rgb) != 3 or not all(0.0 < v <= 1.0 for v in self.table_rgb):
            raise ValueError(f"table_rgb must be 3 values in (0, 1], got {list(self.table_rgb)}")
        if self.bilateral_kernel_px % 2 == 0:
            raise ValueError(f"bilateral_kernel_px must be odd, got {self.bilateral_kernel_px}")
        for name in ("base_frame", "scene_topic", "points_topic"):
            if not getattr(self, name).strip():
                raise ValueError(f"{name} must not be empty")
