"""End to end with the real cell's controller settings: /pick through the drivers' actions.

executor_node runs with config/real/'s controller interface (FollowJointTrajectory to the UR
driver's scaled_joint_trajectory_controller, GripperCommand to the gripper controller); sim_node
serves both actions with the control_msgs types (the released package, or interfaces/'s
stand-in with the same type hashes). The rest of the pipeline is the simulated cell's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from a2_grasping.action import Pick
from a2_grasping.bringup import node_parameters
from a2_grasping.testing.sim_session import SimSession

pytest.importorskip("control_msgs.action")
pytestmark = [pytest.mark.ros, pytest.mark.sim]
REPO_ROOT = Path(__file__).resolve().parents[2]
CONTROLLER_KEYS = ("controller_interface", "trajectory_action", "gripper_action", "gripper_joint")


def _real_controller_arguments() -> list[str]:
    real = yaml.safe_load((REPO_ROOT / "config" / "real" / "executor_node.yaml").read_text())
    values = node_parameters(real, "executor_node")
    arguments: list[str] = []
    for key in CONTROLLER_KEYS:
        arguments += ["-p", f"{key}:={values[key]}"]
    return arguments


def test_a_pick_runs_through_the_drivers_actions(tmp_path):
    from domain_coordinator import domain_id

    arguments = _real_controller_arguments()
    assert "controller_interface:=action" in arguments
    with (
        domain_id() as reserved,
        SimSession(reserved, tmp_path, node_arguments={"executor_node": arguments}) as session,
    ):
        assert session.node_parameters("executor_node", ["controller_interface"]) == {
            "controller_interface": "action"
        }
        session.reset(0, "single")
        session.wait_for_fresh_scene()
        result, stages = session.pick(Pick.Goal(instruction="pick it up"))
        assert result.error_code == Pick.Result.NONE, result.error_message
        assert result.object_held and stages[-1] == "retreating"
        (lifted,) = session.objects()
        assert lifted.height_gain_m >= 0.05
