"""The simulated cell is ROS-free: importing it loads neither rclpy nor message types."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys

import a2_grasping.sim

ROS_ROOTS = {"rclpy", "rcl_interfaces", "std_msgs", "sensor_msgs", "geometry_msgs", "rosgraph_msgs"}


def test_sim_imports_no_ros_and_selects_egl():
    modules = [m.name for m in pkgutil.walk_packages(a2_grasping.sim.__path__, "a2_grasping.sim.")]
    assert "a2_grasping.sim.cell" in modules
    script = (
        "import importlib, os, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {ROS_ROOTS!r}"
        " or m.startswith(('a2_grasping.ros', 'a2_grasping.msg', 'a2_grasping.srv'))))\n"
        "print(os.environ['MUJOCO_GL'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MUJOCO_GL"}
    result = subprocess.run(
        [sys.executable, "-P", "-c", script], capture_output=True, text=True, check=True, env=env
    )
    assert result.stdout.split() == ["[]", "egl"], result.stdout
