"""Configuration of executor_node: controller interfaces, gripper, timeouts and safety limits."""

from __future__ import annotations

from dataclasses import dataclass

from a2_grasping.core.config_fields import config_field, validate_ranges
from a2_grasping.core.kinematics import UR_JOINT_NAMES

CONTROLLER_INTERFACES = ("topic", "action")
# The executor waits for /select_grasp at least the server's time_budget_s plus this (s).
SELECT_TIMEOUT_MARGIN_S = 5.0


def select_timeout_covers(select_timeout_s: float, server_budget_s: float) -> bool:
    """Whether a client waiting select_timeout_s sees every answer a server with this budget
    may give (TIMEOUT included)."""
    return select_timeout_s >= server_budget_s + SELECT_TIMEOUT_MARGIN_S


@dataclass(frozen=True)
class ExecutorConfig:
    action_name: str = config_field("pick", "Name of the Pick action server.")
    place_action_name: str = config_field("place", "Name of the Place action server.")
    pick_and_place_action_name: str = config_field(
        "pick_and_place", "Name of the PickAndPlace action server."
    )
    select_service: str = config_field("select_grasp", "SelectGrasp service to ask for grasps.")
    select_place_service: str = config_field(
        "select_place", "SelectPlace service to ask for release poses."
    )
    scene_topic: str = config_field(
        "a2/scene", "Fused scene; its cloud is the collision environment of planning."
    )
    joint_states_topic: str = config_field("joint_states", "Robot joint states.")
    controller_interface: str = config_field(
        "topic",
        "How the arm and gripper are commanded: 'topic' (JointTrajectory + Float64MultiArray "
        "topics, works everywhere) or 'action' (FollowJointTrajectory + GripperCommand actions; "
        "needs control_msgs).",
    )
    trajectory_action: str = config_field(
        "scaled_joint_trajectory_controller/follow_joint_trajectory",
        "FollowJointTrajectory action of the arm controller (controller_interface: action).",
    )
    gripper_action: str = config_field(
        "robotiq_gripper_controller/gripper_cmd",
        "GripperCommand action of the gripper controller (controller_interface: action).",
    )
    trajectory_topic: str = config_field(
        "scaled_joint_trajectory_controller/joint_trajectory",
        "JointTrajectory topic of the arm controller (UR driver: scaled_joint_trajectory_"
        "controller).",
    )
    gripper_command_topic: str = config_field(
        "robotiq_gripper_controller/commands",
        "Gripper position command (std_msgs/Float64MultiArray, one value: knuckle angle, rad).",
    )
    planned_path_topic: str = config_field(
        "a2/planned_path", "Every plan is published here as a JointTrajectory (dry runs too)."
    )
    autostart: bool = config_field(
        False,
        "Configure and activate right after start-up, without a lifecycle manager (bringup "
        "drives the lifecycle). While not active, goals are rejected; deactivating stops the arm.",
    )
    joint_names: tuple[str, ...] = config_field(
        UR_JOINT_NAMES, "Arm joints in planning order, as the controller names them."
    )
    gripper_joint: str = config_field(
        "robotiq_85_left_knuckle_joint", "Gripper joint reported in joint states."
    )
    gripper_open_rad: float = config_field(
        0.0, "Knuckle angle of the fully open gripper (rad).", min_value=-1.0, max_value=1.0
    )
    gripper_closed_rad: float = config_field(
        0.8, "Knuckle angle of the fully closed gripper (rad).", min_value=0.0, max_value=1.0
    )
    hold_margin_rad: float = config_field(
        0.03,
        "Holding an object: the fingers stopped at least this far before fully closed (rad).",
        min_value=0.0,
        max_value=0.5,
    )
    default_velocity_scaling: float = config_field(
        0.3, "Velocity scaling when a goal leaves it at 0.", min_value=0.01, max_value=1.0
    )
    max_velocity_scaling: float = config_field(
        0.5, "Cap on a goal's velocity scaling.", min_value=0.01, max_value=1.0
    )
    select_timeout_s: float = config_field(
        20.0,
        "Wait for /select_grasp at most this long (s). The selection budget is decided by "
        "inference_node's time_budget_s; this must be at least that plus "
        "SELECT_TIMEOUT_MARGIN_S (5 s: discovery, transport, queueing), or a selection the "
        "server would finish is abandoned.",
        min_value=0.1,
        max_value=660.0,
    )
    execution_margin_s: float = config_field(
        5.0,
        "A segment taking longer than its planned duration plus this (s) is aborted.",
        min_value=0.1,
        max_value=120.0,
    )
    gripper_timeout_s: float = config_field(
        4.0, "Wait for the gripper to settle at most this long (s).", min_value=0.1, max_value=60.0
    )
    stop_timeout_s: float = config_field(
        2.0,
        "After a stop (cancel, abort) the arm must be still within this (s).",
        min_value=0.1,
        max_value=30.0,
    )
    max_joint_state_age_s: float = config_field(
        0.5,
        "Joint states older than this (s) are stale: nothing is planned or moved on them.",
        min_value=0.01,
        max_value=10.0,
    )
    input_wait_s: float = config_field(
        3.0,
        "At the start of a goal, wait up to this long (s) for fresh joint states and a fresh "
        "scene (e.g. right after start-up) before refusing with STALE_STATE.",
        min_value=0.0,
        max_value=60.0,
    )
    table_margin_m: float = config_field(
        0.003,
        "Points less than this above the table count as table (depth noise) when place "
        "verification segments the scene, m; the same value as selection's (config/cell.yaml).",
        min_value=0.0,
        max_value=0.05,
    )
    max_scene_age_s: float = config_field(
        5.0,
        "A scene older than this (s) is not used as the collision environment.",
        min_value=0.01,
        max_value=3600.0,
    )
    start_tolerance_rad: float = config_field(
        0.03,
        "A segment starts only when every joint is this close to the plan's start (rad).",
        min_value=0.001,
        max_value=0.5,
    )
    goal_tolerance_rad: float = config_field(
        0.005, "A segment is done when every joint is this close to its end (rad).", min_value=0.001
    )
    max_grasp_attempts: int = config_field(
        2,
        "Grasps /pick tries for an instruction: after GRASP_FAILED the arm returns to where the "
        "pick started and selects again on a fresh scene, without the failed grasp's "
        "neighbourhood. 1: no retry. A goal with use_candidate is tried once.",
        min_value=1,
        max_value=5,
    )
    retry_exclusion_radius_m: float = config_field(
        0.02,
        "A retry skips candidates whose TCP lies this close to a grasp that failed (m).",
        min_value=0.0,
        max_value=0.2,
    )

    def __post_init__(self) -> None:
        validate_ranges(self)
        if len(self.joint_names) != len(UR_JOINT_NAMES):
            raise ValueError(f"joint_names must name 6 joints, got {list(self.joint_names)}")
        if self.controller_interface not in CONTROLLER_INTERFACES:
            raise ValueError(
                f"controller_interface must be one of {CONTROLLER_INTERFACES}, "
                f"got {self.controller_interface!r}"
            )
        if self.gripper_closed_rad <= self.gripper_open_rad:
            raise ValueError("gripper_closed_rad must be greater than gripper_open_rad")
