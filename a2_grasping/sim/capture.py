"""A scene of the simulated cell without ROS: render every camera and fuse as perception does.

For offline tools and tests that need what the pipeline would see (segmentation, grounding),
with the same fusion code perception_node runs (`core.perception.fuse_frames`).
"""

from __future__ import annotations

from a2_grasping.core.perception import CameraFrame, fuse_frames
from a2_grasping.core.perception_config import PerceptionConfig
from a2_grasping.core.scene import CameraView, Scene
from a2_grasping.sim.cell import SimCell

# The workspace of config/perception_node.yaml (the sim profile).
SIM_WORKSPACE_BOX_M = (0.2, 0.8, -0.35, 0.35, -0.02, 0.22)


def capture_scene(cell: SimCell, voxel_size_m: float = 0.003) -> Scene:
    """The fused scene of all the cell's cameras at the current simulated time."""
    config = PerceptionConfig(
        camera_names=tuple(camera.name for camera in cell.cameras),
        workspace_box_m=SIM_WORKSPACE_BOX_M,
        voxel_size_m=voxel_size_m,
    )
    frames = {}
    for camera in cell.cameras:
        rgb, depth_m = cell.render(camera.name)
        view = CameraView(
            color_rgb=rgb,
            depth_m=depth_m,
            intrinsics=camera.intrinsics,
            base_from_camera=camera.base_from_optical_matrix,
            name=camera.name,
        )
        frames[camera.name] = CameraFrame(view, cell.time_s)
    return fuse_frames(frames, config)
