"""executor_node refuses a configuration it cannot honour at start-up, naming the cause."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.ros

WAIT_S = 20.0


def _exit_code(process) -> int:
    deadline = time.monotonic() + WAIT_S
    while process.poll() is None:
        assert time.monotonic() < deadline, "executor_node kept running with a bad configuration"
        time.sleep(0.05)
    return process.poll()


def test_action_controllers_without_control_msgs_exit_naming_the_package(start_node):
    try:
        import control_msgs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("control_msgs is installed: the action backend starts")
    process = start_node("executor_node", "-p", "controller_interface:=action")
    assert _exit_code(process) == 2
    assert "needs control_msgs" in process.output()


def test_unknown_controller_interface_is_refused(start_node):
    process = start_node("executor_node", "-p", "controller_interface:=serial")
    assert _exit_code(process) == 2
    assert "controller_interface must be one of ('topic', 'action')" in process.output()


def test_moveit_backend_without_moveit_py_exits_naming_it(start_node):
    try:
        import moveit  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("moveit_py is installed")
    process = start_node("executor_node", "-p", "planner_backend:=moveit_py")
    assert _exit_code(process) == 2
    assert "needs MoveIt 2's Python API" in process.output()


def test_moveit_trajectories_are_reordered_to_the_ur_joint_order():
    from builtin_interfaces.msg import Duration
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

    from a2_grasping.core.kinematics import UR_JOINT_NAMES
    from a2_grasping.ros.hardware.moveit_planner import _timed_path

    names = list(reversed(UR_JOINT_NAMES))
    message = JointTrajectory(joint_names=names)
    for i in range(3):
        message.points.append(
            JointTrajectoryPoint(
                positions=[float(10 * i + j) for j in range(6)],
                velocities=[] if i == 0 else [0.1 * j for j in range(6)],
                time_from_start=Duration(sec=i, nanosec=500_000_000),
            )
        )
    path = _timed_path(message)
    assert path.times_s.tolist() == [0.5, 1.5, 2.5]
    assert path.positions_rad[1].tolist() == [15.0, 14.0, 13.0, 12.0, 11.0, 10.0]
    assert path.velocities_rad_s[0].tolist() == [0.0] * 6
    assert path.velocities_rad_s[2].tolist() == pytest.approx([0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
