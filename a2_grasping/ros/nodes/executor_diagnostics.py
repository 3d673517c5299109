"""executor_node's /diagnostics: is the robot there, fresh and ready, and how did the last task end.

Two entries: "executor_node: robot" (controllers connected, every joint's state age, the gripper)
and "executor_node: tasks" (lifecycle state, the running task, the last result).
"""

from __future__ import annotations

from dataclasses import dataclass

from diagnostic_msgs.msg import DiagnosticStatus

from a2_grasping.core.executor_config import ExecutorConfig
from a2_grasping.ros import diagnostics
from a2_grasping.ros.ports.executor_ports import ExecutorPorts


@dataclass
class TaskRecord:
    """The last task's outcome, kept by the node for its diagnostics."""

    what: str = ""
    code_name: str = ""
    message: str = ""
    finished: int = 0
    failed: int = 0


def robot_status(config: ExecutorConfig, ports: ExecutorPorts | None) -> DiagnosticStatus:
    """The controllers, each joint's state age and the gripper, as the configured ports see
    them."""
    if ports is None:
        return _unconfigured_status(config)
    arm_connected = ports.backends.arm.connected()
    gripper_connected = ports.backends.gripper.connected()
    ages_s = ports.monitor.joint_ages_s()
    state = ports.monitor.latest(config.max_joint_state_age_s)
    gripper_rad = None if state is None else state.gripper_rad
    holding = None if state is None else ports.runner.reading.holding(state.gripper_rad)
    missing = [name for name, age in ages_s.items() if age is None]
    stale = [
        name
        for name, age in ages_s.items()
        if age is not None and age > config.max_joint_state_age_s
    ]
    problems = []
    if not arm_connected:
        problems.append("arm controller not connected")
    if not gripper_connected:
        problems.append("gripper controller not connected")
    if missing:
        problems.append(f"no joint state for {', '.join(missing)}")
    if stale:
        problems.append(f"stale joint state for {', '.join(stale)}")
    known = [age for age in ages_s.values() if age is not None]
    values: dict[str, object] = {
        "controller_interface": config.controller_interface,
        "arm_controller": _target(config, arm=True),
        "arm_connected": arm_connected,
        "gripper_controller": _target(config, arm=False),
        "gripper_connected": gripper_connected,
        "joint_state_age_s_max": max(known) if known else "none",
        "max_joint_state_age_s": config.max_joint_state_age_s,
        "gripper_rad": "unknown" if gripper_rad is None else gripper_rad,
        "holding": "unknown" if holding is None else holding,
    }
    return diagnostics.status(
        "executor_node: robot",
        "executor_node",
        diagnostics.ERROR if problems else diagnostics.OK,
        "; ".join(problems) if problems else "controllers connected, joint states fresh",
        values,
    )


def _unconfigured_status(config: ExecutorConfig) -> DiagnosticStatus:
    """The robot entry before configure: no adapters exist yet, nothing is connected."""
    values: dict[str, object] = {
        "controller_interface": config.controller_interface,
        "arm_controller": _target(config, arm=True),
        "gripper_controller": _target(config, arm=False),
    }
    return diagnostics.status(
        "executor_node: robot",
        "executor_node",
        diagnostics.WARN,
        "not configured: the controller adapters and joint-state monitor are built at configure",
        values,
    )


def task_status(active: bool, running: str, last: TaskRecord) -> DiagnosticStatus:
    message = (
        f"running {running}"
        if running
        else (f"idle; last {last.what}: {last.code_name}" if last.what else "idle")
    )
    values: dict[str, object] = {
        "state": "active" if active else "inactive",
        "running": running or "none",
        "last_task": last.what or "none",
        "last_result": last.code_name or "none",
        "last_message": last.message,
        "tasks_finished": last.finished,
        "tasks_failed": last.failed,
    }
    level = diagnostics.OK if active else diagnostics.WARN
    return diagnostics.status("executor_node: tasks", "executor_node", level, message, values)


def _target(config: ExecutorConfig, arm: bool) -> str:
    if config.controller_interface == "action":
        return config.trajectory_action if arm else config.gripper_action
    return config.trajectory_topic if arm else config.gripper_command_topic
