"""Talking to the arm and gripper controllers, and watching the robot state.

Topic backend (works everywhere, tested against the simulator): JointTrajectory on the arm
controller's topic, a Float64MultiArray position command for the gripper, progress observed in
/joint_states. Labs with `control_msgs` use the controllers' actions instead
(controller_actions.py); both implement the core's Arm and Gripper ports.
All waits are bounded and poll a cancel predicate, so a cancel stops the arm promptly. Motion
deadlines run on the node's clock (simulated time under use_sim_time: a simulator slower than real
time must not make a correct motion time out); staleness of /joint_states is judged in wall time,
so a stopped clock or driver is still noticed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
from rclpy.clock import Clock
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from a2_grasping.core.planning.paths import TimedPath
from a2_grasping.core.task.codes import CanceledError, ExecutionError
from a2_grasping.core.task.joint_states import JointStateMerger
from a2_grasping.core.task.ports import RobotState
from a2_grasping.ros import conversions

POLL_S = 0.01
STILL_VELOCITY_RAD_S = 0.01
GRIPPER_AT_TARGET_RAD = 0.01
GRIPPER_MOVED_RAD = 0.02  # knuckle travel that shows the fingers have started moving
GRIPPER_SETTLE_S = 0.3  # still for this long after moving: stopped (on an object, or at the end)
GRIPPER_STILL_RAD = 0.002  # knuckle range within the settle window that counts as still


# A node clock slower than this fraction of real time counts as stopped (use_sim_time without a
# /clock publisher): motion deadlines then expire in wall time instead of never.
MIN_CLOCK_RATE = 0.1


class Deadline:
    """`timeout_s` from now. A motion's deadline runs on the node's clock, so a simulator slower
    than real time does not time out a correct motion (bounded in wall time by MIN_CLOCK_RATE);
    without a clock it runs in wall time (waiting for an answer)."""

    def __init__(self, timeout_s: float, motion_clock: Clock | None = None) -> None:
        self._clock = motion_clock
        if motion_clock is None:
            self._clock_deadline_s = math.inf
            self._wall_deadline_s = time.monotonic() + timeout_s
        else:
            self._clock_deadline_s = conversions.clock_seconds(motion_clock) + timeout_s
            self._wall_deadline_s = time.monotonic() + timeout_s / MIN_CLOCK_RATE

    def expired(self) -> bool:
        if time.monotonic() > self._wall_deadline_s:
            return True
        return (
            self._clock is not None
            and conversions.clock_seconds(self._clock) > self._clock_deadline_s
        )


class JointStateMonitor:
    """The robot state from /joint_states, merged by joint name (core.task.joint_states): the
    arm and the gripper may come from different publishers, in any order."""

    def __init__(self, joint_names: tuple[str, ...], gripper_joint: str) -> None:
        self._merger = JointStateMerger(joint_names, gripper_joint)

    def on_joint_state(self, msg: JointState) -> None:
        names, positions, velocities, stamp_s = conversions.joint_state_fields(msg)
        self._merger.update(names, positions, velocities, stamp_s, time.monotonic())

    def joint_ages_s(self) -> dict[str, float | None]:
        """Per joint, seconds since its newest sample arrived (None: never), for diagnostics."""
        return self._merger.ages(time.monotonic())

    def missing_joints(self, max_age_s: float) -> list[str]:
        """Joints not heard from within `max_age_s` (wall time), for error messages."""
        return self._merger.missing(time.monotonic(), max_age_s)

    def wait_until_still(self, timeout_s: float, max_age_s: float) -> bool:
        """True once a fresh state shows the arm still (after a stop), False on timeout."""
        deadline = Deadline(timeout_s)
        while not deadline.expired():
            state = self.latest(max_age_s)
            if (
                state is not None
                and np.max(np.abs(state.arm_velocity_rad_s)) < STILL_VELOCITY_RAD_S
            ):
                return True
            time.sleep(POLL_S)
        return False

    def settled_gripper_rad(self, deadline: Deadline, max_age_s: float) -> float:
        """The knuckle angle once the fingers have been still for GRIPPER_SETTLE_S (robot time).

        An object that slips out lets the closed fingers close on; read at once after a motion,
        the knuckle can still show the object's width.
        Raises ExecutionError: no fresh joint state, or the fingers kept moving until `deadline`.
        """
        history: list[tuple[float, float]] = []
        while not deadline.expired():
            state = self.latest(max_age_s)
            if state is None:
                raise ExecutionError("joint states stopped arriving while reading the gripper")
            history.append((state.stamp_s, state.gripper_rad))
            if _settled(history):
                return state.gripper_rad
            time.sleep(POLL_S)
        raise ExecutionError("the gripper fingers did not come to rest")

    def latest(self, max_age_s: float) -> RobotState | None:
        """The newest state, or None unless every joint arrived within `max_age_s` (wall)."""
        return self._merger.state(time.monotonic(), max_age_s)


class TopicArmController:
    def __init__(
        self,
        node: Node,
        topic: str,
        joint_names: tuple[str, ...],
        monitor: JointStateMonitor,
        max_state_age_s: float,
        *,
        stop_timeout_s: float,
    ) -> None:
        # How long a stop after a failed or canceled motion may take (executor stop_timeout_s).
        self._stop_timeout_s = stop_timeout_s
        self._node = node
        self._publisher = node.create_publisher(JointTrajectory, topic, 10)
        self._clock = node.get_clock()
        self._joint_names = joint_names
        self._monitor = monitor
        self._max_state_age_s = max_state_age_s

    def execute(
        self,
        path: TimedPath,
        goal_tolerance_rad: float,
        timeout_s: float,
        canceled: Callable[[], bool],
    ) -> None:
        """Send the trajectory and wait until the arm rests at its end.

        Raises ExecutionError (no state, timeout) or CanceledError; both stop the arm first.
        """
        self._publisher.publish(
            conversions.trajectory_to_msg(
                self._joint_names, path.times_s, path.positions_rad, path.velocities_rad_s
            )
        )
        deadline = Deadline(timeout_s, self._clock)
        goal = path.positions_rad[-1]
        while True:
            if canceled():
                self.stop(timeout_s=self._stop_timeout_s)
                raise CanceledError("canceled during motion")
            state = self._monitor.latest(self._max_state_age_s)
            if state is None:
                self.stop(timeout_s=self._stop_timeout_s)
                raise ExecutionError("joint states stopped arriving during motion")
            at_goal = np.max(np.abs(state.arm_rad - goal)) <= goal_tolerance_rad
            if at_goal and np.max(np.abs(state.arm_velocity_rad_s)) < 5 * STILL_VELOCITY_RAD_S:
                return
            if deadline.expired():
                self.stop(timeout_s=self._stop_timeout_s)
                error = np.max(np.abs(state.arm_rad - goal))
                raise ExecutionError(
                    f"the arm did not reach the segment's end within {timeout_s:.1f} s "
                    f"(largest joint error {error:.3f} rad)"
                )
            time.sleep(POLL_S)

    def connected(self) -> bool:
        """A controller subscribes to the command topic."""
        return self._publisher.get_subscription_count() > 0

    def close(self) -> None:
        self._node.destroy_publisher(self._publisher)

    def stop(self, timeout_s: float) -> bool:
        """Empty trajectory = stop (joint trajectory controller semantics); True once still."""
        self._publisher.publish(conversions.stop_trajectory_msg(self._joint_names))
        return self._monitor.wait_until_still(timeout_s, self._max_state_age_s)


class TopicGripper:
    def __init__(self, node: Node, topic: str, monitor: JointStateMonitor) -> None:
        self._node = node
        self._publisher = node.create_publisher(Float64MultiArray, topic, 10)
        self._clock = node.get_clock()
        self._monitor = monitor

    def connected(self) -> bool:
        """A controller subscribes to the command topic."""
        return self._publisher.get_subscription_count() > 0

    def close(self) -> None:
        self._node.destroy_publisher(self._publisher)

    def move(self, position_rad: float, timeout_s: float, max_state_age_s: float) -> float:
        """Command a knuckle angle; return where the fingers settled (they stop on an object).

        "Settled" needs the fingers to have started moving first: a loaded machine or a slow
        driver can leave them still for a while after the command, and that must not read as
        "stopped on an object" at the open position. Stillness is judged over the joint states'
        own stamps: the fingers' time, whatever the real-time factor.
        """
        self._publisher.publish(conversions.gripper_command_msg(position_rad))
        deadline = Deadline(timeout_s, self._clock)
        history: list[tuple[float, float]] = []
        start_rad: float | None = None
        while not deadline.expired():
            state = self._monitor.latest(max_state_age_s)
            if state is None:
                raise ExecutionError("joint states stopped arriving while the gripper moved")
            now = state.stamp_s
            if start_rad is None:
                start_rad = state.gripper_rad
            if abs(state.gripper_rad - position_rad) < GRIPPER_AT_TARGET_RAD:
                return state.gripper_rad
            history.append((now, state.gripper_rad))
            moved = abs(state.gripper_rad - start_rad) >= GRIPPER_MOVED_RAD
            if moved and _settled(history):
                return state.gripper_rad
            time.sleep(POLL_S)
        raise ExecutionError(f"the gripper did not settle within {timeout_s:.1f} s")


def _settled(history: list[tuple[float, float]]) -> bool:
    """(stamp_s, knuckle_rad) samples cover GRIPPER_SETTLE_S and the newest of them are still."""
    now_s = history[-1][0]
    recent = [rad for stamp_s, rad in history if now_s - stamp_s <= GRIPPER_SETTLE_S]
    return (
        now_s - history[0][0] > GRIPPER_SETTLE_S and max(recent) - min(recent) < GRIPPER_STILL_RAD
    )
