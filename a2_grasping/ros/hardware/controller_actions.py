"""Controller adapter over the ros2_control actions (`controller_interface: action`).

The arm goes through `control_msgs/action/FollowJointTrajectory` (the UR driver's
scaled_joint_trajectory_controller), the gripper through `control_msgs/action/GripperCommand`
(the Robotiq driver's GripperActionController). Same contract as the topic backend in
controllers.py: bounded waits, a cancel stops the arm, /joint_states is the truth about where the
robot is. control_msgs is not installable where this package is developed, so it is imported
only when this backend is chosen; without it the node exits at start-up naming the package.
Not exercised against a controller here (see the README, "What was verified where").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.clock import Clock
from rclpy.node import Node

from a2_grasping.core.planning.paths import TimedPath
from a2_grasping.core.task.codes import CanceledError, ExecutionError
from a2_grasping.ros import conversions
from a2_grasping.ros.action_client import ThreadSafeActionClient
from a2_grasping.ros.hardware.controllers import POLL_S, Deadline, JointStateMonitor

SERVER_WAIT_S = 5.0
ACCEPT_TIMEOUT_S = 2.0
# 2F-85 grip force range is 20-235 N; the Robotiq driver's position controller ignores it.
GRIPPER_MAX_EFFORT_N = 100.0
# control_msgs/action/FollowJointTrajectory result codes -> what they mean for an operator.
TRAJECTORY_ERRORS = {
    -1: "INVALID_GOAL",
    -2: "INVALID_JOINTS",
    -3: "OLD_HEADER_TIMESTAMP",
    -4: "PATH_TOLERANCE_VIOLATED",
    -5: "GOAL_TOLERANCE_VIOLATED",
}


def import_control_msgs() -> tuple[Any, Any]:
    """(FollowJointTrajectory, GripperCommand); ValueError (-> exit code 2) when absent."""
    try:
        from control_msgs.action import FollowJointTrajectory, GripperCommand
    except ImportError as error:
        raise ValueError(
            "controller_interface 'action' needs control_msgs (apt: ros-jazzy-control-msgs), "
            f"which cannot be imported here ({error}); use controller_interface: topic"
        ) from None
    return FollowJointTrajectory, GripperCommand


def trajectory_error_text(error_code: int, error_string: str) -> str:
    name = TRAJECTORY_ERRORS.get(error_code, f"error code {error_code}")
    return f"the trajectory controller reported {name}" + (
        f": {error_string}" if error_string else ""
    )


def _wait(
    future: Any,
    timeout_s: float,
    canceled: Callable[[], bool] | None = None,
    motion_clock: Clock | None = None,
) -> bool:
    """Poll until the future is done (True), the timeout passes or cancel is asked (False).

    Waits for a motion pass the node's clock (see Deadline)."""
    deadline = Deadline(timeout_s, motion_clock)
    while not future.done():
        if deadline.expired() or (canceled is not None and canceled()):
            return False
        time.sleep(POLL_S)
    return True


class ActionArmController:
    def __init__(
        self,
        node: Node,
        action_name: str,
        joint_names: tuple[str, ...],
        monitor: JointStateMonitor,
        max_state_age_s: float,
        *,
        stop_timeout_s: float,
    ) -> None:
        # How long a stop after a failed or canceled motion may take (executor stop_timeout_s).
        self._stop_timeout_s = stop_timeout_s
        follow_joint_trajectory, _ = import_control_msgs()
        self._goal_type = follow_joint_trajectory.Goal
        # Result and feedback callbacks complete futures a running pick waits on: never starve.
        self._client = ThreadSafeActionClient(
            node, follow_joint_trajectory, action_name, callback_group=ReentrantCallbackGroup()
        )
        self._action_name = action_name
        self._clock = node.get_clock()
        self._joint_names = joint_names
        self._monitor = monitor
        self._max_state_age_s = max_state_age_s
        self._active_goal: Any = None

    def execute(
        self,
        path: TimedPath,
        goal_tolerance_rad: float,
        timeout_s: float,
        canceled: Callable[[], bool],
    ) -> None:
        """Send the trajectory goal and wait for its result and for the arm to rest at its end."""
        if not self._client.wait_for_server(timeout_sec=SERVER_WAIT_S):
            raise ExecutionError(f"action server {self._action_name} is not available")
        goal = self._goal_type()
        goal.trajectory = conversions.trajectory_to_msg(
            self._joint_names, path.times_s, path.positions_rad, path.velocities_rad_s
        )
        sent = self._client.send_goal_async(goal)
        if not _wait(sent, ACCEPT_TIMEOUT_S) or not sent.result().accepted:
            raise ExecutionError(
                f"{self._action_name} rejected the trajectory: the controller is not active, or "
                "it refused the joints or the start state (see the driver's log)"
            )
        self._active_goal = sent.result()
        result_future = self._active_goal.get_result_async()
        if not _wait(result_future, timeout_s, canceled, motion_clock=self._clock):
            self.stop(timeout_s=self._stop_timeout_s)
            if canceled():
                raise CanceledError("canceled during motion")
            raise ExecutionError(f"{self._action_name} did not finish within {timeout_s:.1f} s")
        self._active_goal = None
        result = result_future.result().result
        if result.error_code != 0:
            raise ExecutionError(trajectory_error_text(result.error_code, result.error_string))
        state = self._monitor.latest(self._max_state_age_s)
        if state is None:
            raise ExecutionError("joint states stopped arriving during motion")
        error = float(np.max(np.abs(state.arm_rad - path.positions_rad[-1])))
        if error > goal_tolerance_rad:
            raise ExecutionError(
                f"the controller reported success but the arm is {error:.3f} rad from the goal"
            )

    def connected(self) -> bool:
        """The controller's action server is up."""
        return bool(self._client.server_is_ready())

    def close(self) -> None:
        self._client.destroy()

    def stop(self, timeout_s: float) -> bool:
        """Cancel the running goal (the controller holds position); True once the arm is still."""
        if self._active_goal is not None:
            _wait(self._active_goal.cancel_goal_async(), timeout_s)
            self._active_goal = None
        return self._monitor.wait_until_still(timeout_s, self._max_state_age_s)


class ActionGripper:
    def __init__(self, node: Node, action_name: str, monitor: JointStateMonitor) -> None:
        _, gripper_command = import_control_msgs()
        self._goal_type = gripper_command.Goal
        self._client = ThreadSafeActionClient(
            node, gripper_command, action_name, callback_group=ReentrantCallbackGroup()
        )
        self._action_name = action_name
        self._clock = node.get_clock()
        self._monitor = monitor

    def connected(self) -> bool:
        """The controller's action server is up."""
        return bool(self._client.server_is_ready())

    def close(self) -> None:
        self._client.destroy()

    def move(self, position_rad: float, timeout_s: float, max_state_age_s: float) -> float:
        """Command a knuckle angle; return where the fingers settled (they stop on an object).

        A stall on an object ends the goal as succeeded or aborted depending on the
        controller's `allow_stalling`; either way /joint_states says where the fingers are.
        """
        if not self._client.wait_for_server(timeout_sec=min(SERVER_WAIT_S, timeout_s)):
            raise ExecutionError(f"action server {self._action_name} is not available")
        goal = self._goal_type()
        goal.command.position = float(position_rad)
        goal.command.max_effort = GRIPPER_MAX_EFFORT_N
        sent = self._client.send_goal_async(goal)
        if not _wait(sent, ACCEPT_TIMEOUT_S) or not sent.result().accepted:
            raise ExecutionError(
                f"{self._action_name} rejected the gripper command: is the gripper controller "
                "active?"
            )
        if not _wait(sent.result().get_result_async(), timeout_s, motion_clock=self._clock):
            _wait(sent.result().cancel_goal_async(), 1.0)
            raise ExecutionError(f"the gripper did not settle within {timeout_s:.1f} s")
        state = self._monitor.latest(max_state_age_s)
        if state is None:
            raise ExecutionError("joint states stopped arriving while the gripper moved")
        return state.gripper_rad
