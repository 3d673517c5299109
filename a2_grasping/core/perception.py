"""From calibrated RGB-D frames to one scene in the robot base frame.

Per camera: deproject valid depth, transform to the base frame, crop to the workspace box,
voxel-downsample (`frame_cloud`). Across cameras: concatenate, downsample again so that surfaces
seen twice are not twice as dense, optionally remove statistical outliers (`fuse_frames`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from a2_grasping.core.geometry import deproject, points_with_neighbours, voxel_downsample
from a2_grasping.core.occlusion import occlusion_shadows
from a2_grasping.core.perception_config import PerceptionConfig
from a2_grasping.core.scene import CameraView, Scene


@dataclass(frozen=True)
class CameraFrame:
    """A synchronised, converted frame of one camera and the stamp its images carry."""

    view: CameraView
    stamp_s: float


@dataclass(frozen=True)
class FrameCloud:
    points_xyz: NDArray[np.float32]  # (N, 3) base frame, inside the workspace box
    colors_rgb: NDArray[np.uint8]  # (N, 3)


class PerceptionError(ValueError):
    """Frames that cannot make a scene; the message says which camera and why."""


def frame_cloud(view: CameraView, config: PerceptionConfig) -> FrameCloud:
    """The workspace part of one camera's depth, downsampled, with the colours of its pixels."""
    points, pixels = deproject(
        view.depth_m,
        view.intrinsics,
        view.base_from_camera,
        min_depth_m=config.min_depth_m,
        max_depth_m=config.max_depth_m,
        box_m=np.asarray(config.workspace_box_m),
    )
    keep = voxel_downsample(points, config.voxel_size_m)
    colors = view.color_rgb.reshape(-1, 3)[pixels[keep]]
    return FrameCloud(points[keep].astype(np.float32, copy=False), colors)


def remove_statistical_outliers(
    points: NDArray[np.floating], neighbors: int, std_ratio: float
) -> NDArray[np.bool_]:
    """Mask of inliers: points whose mean distance to their `neighbors` nearest points is at most
    mean + std_ratio x std of that quantity over the cloud (flying pixels at depth edges).

    open3d's remove_statistical_outlier computes the same statistic (masks agree on 99.95 % of a
    63 k-point simulated clutter scene, k = 20) but took 0.56 s against 0.37 s here (2-core AMD
    EPYC Zen 4, loaded), so the scipy k-d tree version stays.
    """
    if neighbors <= 0 or len(points) <= neighbors:
        return np.ones(len(points), dtype=bool)
    distances, _ = cKDTree(points).query(points, k=neighbors + 1)  # (N, k+1); first is itself
    mean_distance = distances[:, 1:].mean(axis=1)  # (N,)
    limit = mean_distance.mean() + std_ratio * mean_distance.std()
    inliers: NDArray[np.bool_] = mean_distance <= limit
    return inliers


def fuse_frames(
    frames: dict[str, CameraFrame],
    config: PerceptionConfig,
    clouds: dict[str, FrameCloud] | None = None,
) -> Scene:
    """One Scene from one frame per configured camera, stamped with the oldest frame.

    `clouds` may carry per-camera clouds already computed (they are cached per frame).
    Raises PerceptionError when a configured camera has no frame or the stamps are too far apart.
    """
    missing = [name for name in config.camera_names if name not in frames]
    if missing:
        raise PerceptionError(f"no synchronised frame yet from cameras {missing}")
    stamps = [frames[name].stamp_s for name in config.camera_names]
    if max(stamps) - min(stamps) > config.cross_camera_slop_s:
        raise PerceptionError(
            f"camera frames span {max(stamps) - min(stamps):.3f} s, more than "
            f"cross_camera_slop_s={config.cross_camera_slop_s} s; are all cameras streaming?"
        )
    per_camera = [
        (clouds or {}).get(name) or frame_cloud(frames[name].view, config)
        for name in config.camera_names
    ]
    points = np.concatenate([cloud.points_xyz for cloud in per_camera])
    colors = np.concatenate([cloud.colors_rgb for cloud in per_camera])
    if len(config.camera_names) > 1:
        keep = voxel_downsample(points, config.voxel_size_m)
        points, colors = points[keep], colors[keep]
    inliers = remove_statistical_outliers(
        points, config.outlier_neighbors, config.outlier_std_ratio
    )
    return Scene(
        frame_id=config.base_frame,
        stamp_s=min(stamps),
        points_xyz=points[inliers].astype(np.float32, copy=False),
        colors_rgb=colors[inliers],
        workspace_box_m=np.asarray(config.workspace_box_m, dtype=np.float64),
        views=tuple(frames[name].view for name in config.camera_names),
    )


def collision_cloud(
    views: Sequence[CameraView],
    box_m: Sequence[float],
    voxel_m: float,
    *,
    robot_mask: Callable[[NDArray[np.float32]], NDArray[np.bool_]] | None = None,
    occlusion_depth_m: float = 0.0,
    floor_z_m: float = -np.inf,
    min_neighbours: int = 0,
) -> NDArray[np.float32]:
    """The planner's obstacles: everything the cameras see inside `box_m` (base frame), one point
    per `voxel_m` voxel, and the unobserved space up to `occlusion_depth_m` behind it.

    The scene cloud is cropped to the grasp workspace, so planning against it alone would be
    blind to anything above or beside that box. `robot_mask` marks the points on the robot
    itself (CollisionChecker.robot_points_mask at the current joints); they are dropped before
    the extrusion, so the arm casts no shadow where it will move, and so are the shadows that
    fall on it (its own space holds no unseen obstacle). Shadows stop at `floor_z_m`
    (the table top, a known solid). Points with fewer than `min_neighbours` others within 1.5
    voxels are stray readings (flying pixels), dropped before they cast a shadow: a flying pixel
    5 cm in front of the arm otherwise extrudes a shadow into the arm itself. See
    core/occlusion.py.
    """
    box = np.asarray(box_m, dtype=np.float64)
    clouds = [
        deproject(view.depth_m, view.intrinsics, view.base_from_camera, box_m=box)[0]
        for view in views
    ]
    if not clouds:
        return np.zeros((0, 3), dtype=np.float32)
    points = np.concatenate(clouds)
    view_index = np.repeat(np.arange(len(clouds)), [len(cloud) for cloud in clouds])
    keep = voxel_downsample(points, voxel_m)
    points, view_index = points[keep].astype(np.float32, copy=False), view_index[keep]
    if robot_mask is not None:
        obstacle = ~robot_mask(points)
        points, view_index = points[obstacle], view_index[obstacle]
    if min_neighbours > 0 and len(points):
        kept = points_with_neighbours(points, 1.5 * voxel_m, min_neighbours)
        points, view_index = points[kept], view_index[kept]
    if occlusion_depth_m <= 0.0:
        return points
    shadows = occlusion_shadows(
        points,
        view_index,
        views,
        depth_m=occlusion_depth_m,
        step_m=voxel_m,
        box_m=box_m,
        floor_z_m=floor_z_m,
    )
    if robot_mask is not None and len(shadows):
        # Unseen space near the robot is the robot's, as seen points there are: a stray reading
        # just outside the mask otherwise shadows into the arm (D435: the shoulder collided with
        # the shadow of a point in front of it in 1 of 4 observations of place scene 9108).
        shadows = shadows[~robot_mask(shadows)]
    merged = np.concatenate([points, shadows])
    return merged[voxel_downsample(merged, voxel_m)]
