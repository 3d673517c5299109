"""The drivers' action servers in the simulated cell: what a real cell's controllers offer.

`FollowJointTrajectory` as the UR driver's scaled_joint_trajectory_controller (ros2_control's
joint_trajectory_controller) and `GripperCommand` as a GripperActionController, with their real
names and control_msgs types, and their behaviour where a client can tell: a controller that is
not active rejects goals; a trajectory for other joints, or whose first point (at time 0) is far
from where the arm is, is rejected; a path-tolerance violation stops the arm and aborts with
PATH_TOLERANCE_VIOLATED; a cancel stops the arm; the gripper succeeds when it reaches the target
or stalls on an object (allow_stalling), reporting which.

The servers never touch the cell: they queue commands for the physics thread (as the topic
subscriptions do) and read the state the physics thread publishes after every tick.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from a2_grasping.ros import conversions
from a2_grasping.sim.config import ARM_JOINTS, SimConfig

FloatArray = NDArray[np.float64]
# Wall-clock period of the servers' checks and feedback.
_POLL_S = 0.02
_FEEDBACK_PERIOD_S = 0.1
# The gripper has settled when its knuckle moved less than this over _GRIPPER_SETTLE_S.
_GRIPPER_STILL_RAD = 1e-3
_GRIPPER_SETTLE_S = 0.2
_GRIPPER_REACHED_RAD = 0.01
_GRIPPER_TIMEOUT_S = 5.0
# After the trajectory's last point the arm has this long (simulated) to come to rest when the
# goal gives no goal_time_tolerance.
_DEFAULT_GOAL_TIME_S = 1.0


@dataclass(frozen=True)
class ArmState:
    """What the physics thread last published about the arm and the gripper."""

    stamp_s: float  # simulated time
    arm_rad: FloatArray  # (6,), ARM_JOINTS order
    setpoint_rad: FloatArray  # (6,), the trajectory follower's command
    executing: bool
    gripper_rad: float


Queue = Callable[[Callable[[Any], None]], None]


class DriverActionServers:
    """FollowJointTrajectory and GripperCommand servers over the cell (needs control_msgs)."""

    def __init__(
        self, node: Node, config: SimConfig, queue: Queue, state: Callable[[], ArmState | None]
    ) -> None:
        from control_msgs.action import FollowJointTrajectory, GripperCommand

        self._node = node
        self._config = config
        self._queue = queue
        self._state = state
        self._follow = FollowJointTrajectory
        self._gripper_action = GripperCommand
        group = ReentrantCallbackGroup()  # goals wait on the physics thread; cancels get through
        self._trajectory_server = ActionServer(
            node,
            FollowJointTrajectory,
            config.trajectory_action,
            execute_callback=self._execute_trajectory,
            goal_callback=self._accept_trajectory,
            cancel_callback=lambda _goal: CancelResponse.ACCEPT,
            callback_group=group,
        )
        self._gripper_server = ActionServer(
            node,
            GripperCommand,
            config.gripper_action,
            execute_callback=self._execute_gripper,
            goal_callback=self._accept_gripper,
            cancel_callback=lambda _goal: CancelResponse.ACCEPT,
            callback_group=group,
        )

    def destroy(self) -> None:
        self._trajectory_server.destroy()
        self._gripper_server.destroy()

    # ---- FollowJointTrajectory ----

    def _accept_trajectory(self, goal: Any) -> GoalResponse:
        reason = self._trajectory_refusal(goal)
        if reason:
            self._node.get_logger().warning(f"trajectory goal rejected: {reason}")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _trajectory_refusal(self, goal: Any) -> str:
        if not self._config.controllers_active:
            return "the trajectory controller is not active"
        names = list(goal.trajectory.joint_names)
        if sorted(names) != sorted(ARM_JOINTS):
            return f"joints {names} are not the controller's {list(ARM_JOINTS)}"
        points = goal.trajectory.points
        if not points:
            return "the trajectory has no points"
        state = self._state()
        if state is None:
            return "no robot state yet"
        first = points[0]
        if conversions.duration_to_seconds(first.time_from_start) == 0.0:
            order = [names.index(j) for j in ARM_JOINTS]
            start = np.asarray(first.positions, dtype=np.float64)[order]
            offset = float(np.max(np.abs(start - state.arm_rad)))
            if offset > self._config.max_start_offset_rad:
                return (
                    f"its first point (time 0) is {offset:.3f} rad from the current state "
                    f"(tolerance {self._config.max_start_offset_rad} rad)"
                )
        return ""

    def _execute_trajectory(self, goal_handle: ServerGoalHandle) -> Any:
        goal = goal_handle.request
        result = self._follow.Result()
        command = conversions.trajectory_from_msg(goal.trajectory)
        order = [list(command.joint_names).index(j) for j in ARM_JOINTS]
        path_tolerance = _tolerances(goal.path_tolerance)
        goal_tolerance = _tolerances(goal.goal_tolerance)
        end_s = float(command.times_s[-1])
        goal_time_s = conversions.duration_to_seconds(goal.goal_time_tolerance)
        rejected: list[str] = []

        def run(cell: Any) -> None:
            from a2_grasping.sim.trajectory import TrajectoryError

            try:
                cell.command_trajectory(
                    command.joint_names,
                    command.times_s,
                    command.positions_rad,
                    command.velocities_rad_s,
                )
            except TrajectoryError as error:
                rejected.append(str(error))

        started = self._wait_for_state()
        self._queue(run)
        started_s = started.stamp_s if started else 0.0
        final = np.asarray(command.positions_rad[-1], dtype=np.float64)[order]
        last_feedback = 0.0
        while True:
            time.sleep(_POLL_S)
            if rejected:
                return self._abort(goal_handle, result, -1, f"invalid trajectory: {rejected[0]}")
            state = self._state()
            if state is None:
                continue
            if goal_handle.is_cancel_requested:
                self._queue(lambda cell: cell.stop_arm())
                goal_handle.canceled()
                result.error_string = "canceled: the arm was stopped"
                return result
            deviation = np.abs(state.arm_rad - state.setpoint_rad)
            violated = _violation(deviation, path_tolerance)
            if violated is not None:
                self._queue(lambda cell: cell.stop_arm())
                joint, value, limit = violated
                return self._abort(
                    goal_handle,
                    result,
                    -4,
                    f"{joint} is {value:.4f} rad off its trajectory (path tolerance {limit})",
                )
            if time.monotonic() - last_feedback >= _FEEDBACK_PERIOD_S:
                goal_handle.publish_feedback(self._feedback(state))
                last_feedback = time.monotonic()
            elapsed_s = state.stamp_s - started_s
            if elapsed_s >= end_s and not state.executing:
                violated = _violation(np.abs(state.arm_rad - final), goal_tolerance)
                if violated is not None:
                    joint, value, limit = violated
                    return self._abort(
                        goal_handle,
                        result,
                        -5,
                        f"{joint} ended {value:.4f} rad from its goal (goal tolerance {limit})",
                    )
                goal_handle.succeed()
                return result
            if elapsed_s > end_s + max(goal_time_s, _DEFAULT_GOAL_TIME_S):
                self._queue(lambda cell: cell.stop_arm())
                return self._abort(
                    goal_handle,
                    result,
                    -5,
                    f"the arm did not reach the goal within {max(goal_time_s, 1.0):.1f} s after "
                    "the trajectory's end",
                )

    def _feedback(self, state: ArmState) -> Any:
        feedback = self._follow.Feedback()
        feedback.header.stamp = conversions.seconds_to_time(state.stamp_s)
        feedback.joint_names = list(ARM_JOINTS)
        feedback.desired.positions = state.setpoint_rad.tolist()
        feedback.actual.positions = state.arm_rad.tolist()
        feedback.error.positions = (state.setpoint_rad - state.arm_rad).tolist()
        return feedback

    def _abort(self, goal_handle: ServerGoalHandle, result: Any, code: int, text: str) -> Any:
        self._node.get_logger().warning(f"trajectory aborted: {text}")
        result.error_code, result.error_string = code, text
        goal_handle.abort()
        return result

    def _wait_for_state(self) -> ArmState | None:
        deadline = time.monotonic() + 1.0
        while (state := self._state()) is None and time.monotonic() < deadline:
            time.sleep(_POLL_S)
        return state

    # ---- GripperCommand ----

    def _accept_gripper(self, goal: Any) -> GoalResponse:
        if not self._config.controllers_active:
            self._node.get_logger().warning(
                "gripper goal rejected: the gripper controller is not active"
            )
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _execute_gripper(self, goal_handle: ServerGoalHandle) -> Any:
        target = float(goal_handle.request.command.position)
        result = self._gripper_action.Result()
        refused: list[str] = []

        def run(cell: Any) -> None:
            try:
                cell.command_gripper(target)
            except ValueError as error:
                refused.append(str(error))

        self._queue(run)
        history: list[tuple[float, float]] = []  # (simulated s, knuckle rad)
        deadline = time.monotonic() + _GRIPPER_TIMEOUT_S
        while time.monotonic() < deadline:
            time.sleep(_POLL_S)
            if refused:
                self._node.get_logger().warning(f"gripper goal aborted: {refused[0]}")
                goal_handle.abort()
                return result
            if goal_handle.is_cancel_requested:
                goal_handle.canceled()
                return result
            state = self._state()
            if state is None:
                continue
            history.append((state.stamp_s, state.gripper_rad))
            result.position = state.gripper_rad
            result.reached_goal = abs(state.gripper_rad - target) < _GRIPPER_REACHED_RAD
            window = [q for t, q in history if t >= state.stamp_s - _GRIPPER_SETTLE_S]
            settled = (
                history[0][0] <= state.stamp_s - _GRIPPER_SETTLE_S
                and max(window) - min(window) < _GRIPPER_STILL_RAD
            )
            if result.reached_goal or settled:
                result.stalled = not result.reached_goal
                goal_handle.succeed()  # a stall on an object counts (allow_stalling)
                return result
        self._node.get_logger().warning("gripper goal aborted: the fingers never settled")
        goal_handle.abort()
        return result


def _tolerances(entries: Any) -> dict[str, float]:
    """Joint -> position tolerance (rad); 0 means the default (none here), negative none."""
    return {str(e.name): float(e.position) for e in entries if e.position > 0.0}


def _violation(
    deviation: FloatArray, tolerance: dict[str, float]
) -> tuple[str, float, float] | None:
    for index, joint in enumerate(ARM_JOINTS):
        limit = tolerance.get(joint)
        if limit is not None and deviation[index] > limit:
            return joint, float(deviation[index]), limit
    return None
