"""The planner's collision world for one task, from what the cameras saw and where the arm is."""

from __future__ import annotations

import numpy as np

from a2_grasping.core.geometry import transform_points
from a2_grasping.core.gripper import GripperGeometry
from a2_grasping.core.perception import collision_cloud
from a2_grasping.core.planning.collision import CollisionChecker
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.core.task.ports import FloatArray, HeldBox, Observation


def collision_world(
    observation: Observation,
    config: PlannerConfig,
    gripper: GripperGeometry,
    arm_rad: FloatArray,
    *,
    held_at: tuple[FloatArray, HeldBox] | None = None,
) -> CollisionChecker:
    """Table, the depth images' points inside collision_box_m minus the robot (at `arm_rad`),
    occlusion shadows, and the arm itself.

    `held_at` = (base_from_tcp, box in the TCP frame): the object in the hand (or, for the place
    half of a pick-and-place, the object at its grasp), whose points are taken out of the cloud
    (the planner moves it with the gripper instead).
    """
    checker = CollisionChecker(
        config.table_height_m,
        gripper,
        octree_resolution_m=config.octree_resolution_m,
        table_clearance_m=config.table_clearance_m,
        padding_m=config.collision_padding_m,
    )
    points = collision_cloud(
        observation.views,
        config.collision_box_m,
        config.octree_resolution_m,
        robot_mask=lambda points: checker.robot_points_mask(
            points, arm_rad, config.robot_filter_radius_m
        ),
        occlusion_depth_m=config.occlusion_depth_m,
        floor_z_m=config.table_height_m,
        min_neighbours=config.collision_min_neighbours,
    )
    if held_at is not None and len(points):
        base_from_tcp, (lower, upper) = held_at
        local = transform_points(np.linalg.inv(base_from_tcp), points.astype(np.float64))
        grow = 2.0 * config.octree_resolution_m
        inside = np.all((local >= lower - grow) & (local <= upper + grow), axis=1)
        points = points[~inside]
    checker.set_scene_points(points)
    return checker
