"""executor_node refuses a configuration it cannot honour at start-up, naming the cause."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros

WAIT_S = 60.0  # node start-up on a loaded 2-core machine


def _exit_code(process) -> int:
    deadline = time.monotonic() + WAIT_S
    while process.poll() is None:
        assert time.monotonic() < deadline, "executor_node kept running with a bad configuration"
        time.sleep(0.05)
    return process.poll()


def _hide_package(ros_env: dict[str, str], directory: Path, package: str) -> None:
    """Make `package` unimportable in the nodes started after this (a sitecustomize on their
    PYTHONPATH puts a finder first that refuses it), as on a machine without it: the set-up here
    always builds control_msgs, so the refusal could not be tested otherwise."""
    directory.mkdir()
    (directory / "sitecustomize.py").write_text(
        "import sys\n\n\n"
        "class _Hidden:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == {package!r} or name.startswith({package!r} + '.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r} (hidden by the test)')\n"
        "        return None\n\n\n"
        "sys.meta_path.insert(0, _Hidden())\n"
    )
    paths = [str(directory), ros_env.get("PYTHONPATH", "")]
    ros_env["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)


def test_action_controllers_without_control_msgs_exit_naming_the_package(
    start_node, ros_env, tmp_path
):
    _hide_package(ros_env, tmp_path / "without_control_msgs", "control_msgs")
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
    from a2_grasping.ros.conversions import ConversionError, timed_path_from_msg

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
    path = timed_path_from_msg(message, UR_JOINT_NAMES)
    assert path.times_s.tolist() == [0.5, 1.5, 2.5]
    assert path.positions_rad[1].tolist() == [15.0, 14.0, 13.0, 12.0, 11.0, 10.0]
    assert path.velocities_rad_s[0].tolist() == [0.0] * 6
    assert path.velocities_rad_s[2].tolist() == pytest.approx([0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    message.joint_names = [*names[1:], "elbow"]
    with pytest.raises(ConversionError, match=names[0]):
        timed_path_from_msg(message, UR_JOINT_NAMES)
