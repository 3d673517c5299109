"""Planner and pick-sequence parameters (the executor node declares them as ROS parameters)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from a2_grasping.core.config_fields import config_field, validate_ranges

PLANNER_BACKENDS = ("embedded", "moveit_py")


@dataclass(frozen=True)
class PlannerConfig:
    planner_backend: str = config_field(
        "embedded",
        "'embedded' (analytic IK, pinocchio/coal, OMPL RRTConnect, TOPP-RA; runs anywhere) or "
        "'moveit_py' (MoveIt 2 with the ompl and Pilz pipelines; needs moveit_py and a MoveIt "
        "config in the node's parameters).",
    )
    moveit_group: str = config_field(
        "ur_manipulator", "MoveIt planning group of the arm (planner_backend: moveit_py)."
    )
    base_frame: str = config_field(
        "base_link",
        "The robot's base frame: goal poses handed to MoveIt are in it (the scene's frame).",
    )
    table_height_m: float = config_field(
        0.0, "Table top height in the base frame (m).", min_value=-2.0, max_value=2.0
    )
    table_clearance_m: float = config_field(
        0.005, "The robot must stay this far above the table (m).", min_value=0.0, max_value=0.1
    )
    collision_padding_m: float = config_field(
        0.0,
        "The arm, gripper and held object must stay this far from obstacles and the collision "
        "cloud (m): room for depth noise and camera calibration error (MoveIt's padding). The "
        "table has table_clearance_m; the object being grasped is exempt near the grasp.",
        min_value=0.0,
        max_value=0.05,
    )
    safety_box_m: tuple[float, ...] = config_field(
        (-0.4, 1.0, -0.8, 0.8, -0.05, 1.2),
        "Box in the base frame [x_min, x_max, y_min, y_max, z_min, z_max] (m) the tool flange "
        "may not leave at any point of a plan.",
    )
    pregrasp_distance_m: float = config_field(
        0.10,
        "The straight-line approach starts this far back along the approach axis (m).",
        min_value=0.02,
        max_value=0.3,
    )
    lift_height_m: float = config_field(
        0.10, "Straight-up lift after closing (m).", min_value=0.0, max_value=0.4
    )
    place_approach_m: float = config_field(
        0.10,
        "A place descends straight down this far to the release pose, and ascends as far after "
        "opening (m).",
        min_value=0.01,
        max_value=0.4,
    )
    object_clearance_radius_m: float = config_field(
        0.08,
        "Cloud points this close to the grasp point are the object: ignored on approach and lift.",
        min_value=0.0,
        max_value=0.5,
    )
    collision_box_m: tuple[float, ...] = config_field(
        (-0.6, 1.2, -1.0, 1.0, -0.05, 1.4),
        "Box in the base frame [x_min, x_max, y_min, y_max, z_min, z_max] (m) whose camera points "
        "are obstacles for planning: all the arm can reach, not only the grasp workspace the "
        "scene cloud is cropped to (a shelf or a camera stand above it must not be invisible).",
    )
    robot_filter_radius_m: float = config_field(
        0.05,
        "Camera points within this distance of the robot's collision surfaces (arm meshes and "
        "gripper boxes at the current joints) are the robot itself, not obstacles (m); covers "
        "calibration error and the real gripper's parts outside its collision boxes.",
        min_value=0.0,
        max_value=0.3,
    )
    collision_min_neighbours: int = config_field(
        2,
        "A collision-cloud point (one per octree voxel) with fewer other points than this within "
        "1.5 voxels is a stray depth reading (a flying pixel between two surfaces), not an "
        "obstacle, and is dropped before the occlusion shadows are cast (open3d radius outlier "
        "removal). A real surface or a thin cable still has 2 neighbours; 0 keeps every point.",
        min_value=0,
        max_value=26,
    )
    occlusion_depth_m: float = config_field(
        0.15,
        "The unobserved space up to this far behind every obstacle point, along its camera's ray, "
        "is an obstacle too (m): the unseen back of a box or a wall. Space another camera sees "
        "as free is not; 0 plans through everything unseen.",
        min_value=0.0,
        max_value=0.5,
    )
    octree_resolution_m: float = config_field(
        0.01,
        "Resolution of the scene cloud's collision octree (m).",
        min_value=0.002,
        max_value=0.1,
    )
    cartesian_step_m: float = config_field(
        0.005, "Step of straight-line segments (m).", min_value=0.001, max_value=0.05
    )
    max_joint_step_rad: float = config_field(
        0.15,
        "Largest joint change between two steps of a straight-line segment; larger means the "
        "IK branch flipped and the segment is refused.",
        min_value=0.01,
        max_value=1.0,
    )
    planning_timeout_s: float = config_field(
        2.0, "Time budget of one joint-space query (RRTConnect), s.", min_value=0.05, max_value=60.0
    )
    max_grasps_tried: int = config_field(
        10, "Ranked grasps tried before giving up as unreachable.", min_value=1, max_value=200
    )
    max_joint_velocity_rad_s: float = config_field(
        math.pi, "UR5e joint speed limit (rad/s), scaled by velocity scaling.", min_value=0.1
    )
    max_joint_acceleration_rad_s2: float = config_field(
        4.0, "Joint acceleration limit (rad/s^2), scaled by velocity scaling.", min_value=0.1
    )
    collision_check_step_rad: float = config_field(
        0.02, "Joint-space resolution of collision checks along motions (rad).", min_value=0.001
    )

    def __post_init__(self) -> None:
        validate_ranges(self)
        if self.planner_backend not in PLANNER_BACKENDS:
            raise ValueError(
                f"planner_backend must be one of {PLANNER_BACKENDS}, got {self.planner_backend!r}"
            )
        for name in ("safety_box_m", "collision_box_m"):
            box = getattr(self, name)
            if len(box) != 6 or any(box[2 * i] >= box[2 * i + 1] for i in range(3)):
                raise ValueError(f"{name} must be 6 bounds with min < max, got {list(box)}")
