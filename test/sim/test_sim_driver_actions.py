"""sim_node's driver actions over real DDS, with the control_msgs types a real install has.

The test is the driver's client, as executor_node's action backend is: goals the real
controllers refuse are refused here, a path-tolerance violation aborts and stops the arm.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import JointState

from a2_grasping.ros import conversions
from a2_grasping.sim.config import ARM_JOINTS, GRIPPER_JOINT

control_msgs_action = pytest.importorskip("control_msgs.action")
JointTolerance = pytest.importorskip("control_msgs.msg").JointTolerance
FollowJointTrajectory = control_msgs_action.FollowJointTrajectory
GripperCommand = control_msgs_action.GripperCommand

pytestmark = [pytest.mark.ros, pytest.mark.sim]
STARTUP_TIMEOUT_S = 30.0
TRAJECTORY_ACTION = "/scaled_joint_trajectory_controller/follow_joint_trajectory"
GRIPPER_ACTION = "/robotiq_gripper_controller/gripper_cmd"
SUCCEEDED, ABORTED = GoalStatus.STATUS_SUCCEEDED, GoalStatus.STATUS_ABORTED


class _Driver:
    """Action clients plus the latest joint state, spun on the test's node."""

    def __init__(self, node) -> None:
        self.node = node
        self.joints: JointState | None = None
        node.create_subscription(JointState, "/joint_states", self._on_joints, 10)
        self.arm = ActionClient(node, FollowJointTrajectory, TRAJECTORY_ACTION)
        self.gripper = ActionClient(node, GripperCommand, GRIPPER_ACTION)
        self.executor = SingleThreadedExecutor(context=node.context)
        self.executor.add_node(node)

    def _on_joints(self, msg: JointState) -> None:
        self.joints = msg

    def spin_until(self, done, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not within {timeout_s} s")
            self.executor.spin_once(timeout_sec=0.05)

    def ready(self) -> None:
        self.spin_until(
            lambda: (
                self.joints is not None
                and self.arm.server_is_ready()
                and self.gripper.server_is_ready()
            ),
            STARTUP_TIMEOUT_S,
            "joint states and both action servers",
        )

    def arm_rad(self) -> np.ndarray:
        self.joints = None
        self.spin_until(lambda: self.joints is not None, 2.0, "a joint state")
        assert self.joints is not None
        names = list(self.joints.name)
        return np.array([self.joints.position[names.index(j)] for j in ARM_JOINTS])

    def gripper_rad(self) -> float:
        self.arm_rad()
        assert self.joints is not None
        return float(self.joints.position[list(self.joints.name).index(GRIPPER_JOINT)])

    def send(self, client: ActionClient, goal, timeout_s: float = 20.0):
        """(accepted, result or None)."""
        sent = client.send_goal_async(goal)
        self.spin_until(sent.done, 5.0, "the goal response")
        handle = sent.result()
        if not handle.accepted:
            return False, None
        result = handle.get_result_async()
        self.spin_until(result.done, timeout_s, "the result")
        return True, result.result()

    def close(self) -> None:
        self.arm.destroy()
        self.gripper.destroy()
        self.executor.remove_node(self.node)
        self.executor.shutdown(timeout_sec=1.0)


def _trajectory(start: np.ndarray, goal: np.ndarray, duration_s: float, names=ARM_JOINTS):
    message = FollowJointTrajectory.Goal()
    message.trajectory = conversions.trajectory_to_msg(
        tuple(names), np.array([0.0, duration_s]), np.stack([start, goal])
    )
    return message


@pytest.fixture
def driver(ros_node):
    client = _Driver(ros_node)
    yield client
    client.close()


def test_trajectory_and_gripper_goals_run_like_the_drivers(start_node, driver):
    start_node("sim_node", "-p", "camera_rate_hz:=0.5")
    driver.ready()
    start = driver.arm_rad()

    goal = start + np.array([0.3, -0.1, 0.1, 0.0, 0.2, -0.4])
    accepted, outcome = driver.send(driver.arm, _trajectory(start, goal, 1.5))
    assert accepted and outcome.status == SUCCEEDED
    assert outcome.result.error_code == FollowJointTrajectory.Result.SUCCESSFUL
    np.testing.assert_allclose(driver.arm_rad(), goal, atol=5e-3)

    # refused as the joint_trajectory_controller refuses: other joints, a start far away
    here = driver.arm_rad()
    wrong_names = (*ARM_JOINTS[:5], "wrist_9_joint")
    assert not driver.send(driver.arm, _trajectory(here, here, 1.0, wrong_names))[0]
    assert not driver.send(driver.arm, _trajectory(here + 0.5, here, 1.0))[0]
    np.testing.assert_allclose(driver.arm_rad(), here, atol=2e-3)

    # a path tolerance the servo's tracking error exceeds: aborted, and the arm stops
    strict = _trajectory(here, start, 2.0)
    strict.path_tolerance = [JointTolerance(name=ARM_JOINTS[0], position=1e-7)]
    accepted, outcome = driver.send(driver.arm, strict)
    assert accepted and outcome.status == ABORTED
    assert outcome.result.error_code == FollowJointTrajectory.Result.PATH_TOLERANCE_VIOLATED
    assert ARM_JOINTS[0] in outcome.result.error_string
    time.sleep(1.0)  # the arm brakes to a stop at the acceleration limit (slower under load)
    stopped = driver.arm_rad()
    time.sleep(1.0)
    np.testing.assert_allclose(driver.arm_rad(), stopped, atol=2e-3)
    assert np.max(np.abs(stopped - start)) > 0.1, "it stopped on the way, not at the goal"

    # the gripper reaches a target it can reach; closing on nothing, it stops at its end stop
    command = GripperCommand.Goal()
    command.command.position, command.command.max_effort = 0.4, 100.0
    accepted, outcome = driver.send(driver.gripper, command)
    assert accepted and outcome.status == SUCCEEDED
    assert outcome.result.reached_goal and not outcome.result.stalled
    assert driver.gripper_rad() == pytest.approx(0.4, abs=0.01)
    command.command.position = 0.8
    accepted, outcome = driver.send(driver.gripper, command)
    assert accepted and outcome.status == SUCCEEDED and outcome.result.position > 0.75


def test_inactive_controllers_reject_every_goal(start_node, driver):
    start_node("sim_node", "-p", "camera_rate_hz:=0.5", "-p", "controllers_active:=false")
    driver.ready()
    here = driver.arm_rad()
    assert not driver.send(driver.arm, _trajectory(here, here + 0.1, 1.0))[0]
    command = GripperCommand.Goal()
    command.command.position = 0.5
    assert not driver.send(driver.gripper, command)[0]
    np.testing.assert_allclose(driver.arm_rad(), here, atol=2e-3)
