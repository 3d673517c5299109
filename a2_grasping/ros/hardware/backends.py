"""The one place that chooses the executor's backends from its configuration.

Planner: the embedded planner or moveit_py (planner_backend). Arm and gripper: the topic
adapters or the controllers' actions (controller_interface). Each implements the core's ports
(`core.task.ports`). `check_backends` refuses an unavailable backend at start-up (ValueError naming
what is missing: exit code 2); `make_backends` builds them at configure, `Backends.close` releases
them at cleanup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from rclpy.node import Node

from a2_grasping.core.executor_config import ExecutorConfig
from a2_grasping.core.gripper import GripperGeometry
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.core.planning.pick_planner import EmbeddedPlanner
from a2_grasping.core.task.ports import Arm, Gripper, MotionPlanner
from a2_grasping.ros.hardware.controllers import JointStateMonitor, TopicArmController, TopicGripper


class Connected(Protocol):
    def connected(self) -> bool:
        """Whether the controller behind the adapter is there (for diagnostics)."""
        ...

    def close(self) -> None:
        """Destroy the publishers or action clients the adapter made on the node."""
        ...


class ArmAdapter(Arm, Connected, Protocol): ...


class GripperAdapter(Gripper, Connected, Protocol): ...


@dataclass(frozen=True)
class Backends:
    planner: MotionPlanner
    arm: ArmAdapter
    gripper: GripperAdapter
    # What else goes at cleanup (MoveIt's own node).
    releases: tuple[Callable[[], None], ...] = field(default=())

    def close(self) -> None:
        self.arm.close()
        self.gripper.close()
        for release in self.releases:
            release()


def check_backends(config: ExecutorConfig, planner_config: PlannerConfig) -> None:
    """Refuse at start-up a backend whose Python API this machine lacks (ValueError)."""
    if planner_config.planner_backend == "moveit_py":
        from a2_grasping.ros.hardware.moveit_planner import import_moveit_py

        import_moveit_py()
    if config.controller_interface == "action":
        from a2_grasping.ros.hardware.controller_actions import import_control_msgs

        import_control_msgs()


def make_backends(
    node: Node,
    config: ExecutorConfig,
    planner_config: PlannerConfig,
    monitor: JointStateMonitor,
) -> Backends:
    gripper_geometry = GripperGeometry()
    planner: MotionPlanner
    releases: tuple[Callable[[], None], ...] = ()
    if planner_config.planner_backend == "moveit_py":
        from a2_grasping.ros.hardware.moveit_planner import MoveItPlanner

        moveit = MoveItPlanner(planner_config, gripper_geometry)
        planner, releases = moveit, (moveit.close,)
    else:
        planner = EmbeddedPlanner(planner_config, gripper_geometry)
    arm: ArmAdapter
    gripper: GripperAdapter
    if config.controller_interface == "action":
        from a2_grasping.ros.hardware.controller_actions import ActionArmController, ActionGripper

        arm = ActionArmController(
            node,
            config.trajectory_action,
            config.joint_names,
            monitor,
            config.max_joint_state_age_s,
            stop_timeout_s=config.stop_timeout_s,
        )
        gripper = ActionGripper(node, config.gripper_action, monitor)
    else:
        arm = TopicArmController(
            node,
            config.trajectory_topic,
            config.joint_names,
            monitor,
            config.max_joint_state_age_s,
            stop_timeout_s=config.stop_timeout_s,
        )
        gripper = TopicGripper(node, config.gripper_command_topic, monitor)
    return Backends(planner, arm, gripper, releases)
