"""The example behaviour tree (select -> pick -> report) picks an object in the simulated cell.

All four nodes run as processes (SimSession, as in test_pick_in_sim.py); the tree talks to them
only through GraspClient on the same private domain. Ground truth (/sim/objects) scores the lift.
The tree must stay responsive while the arm moves: counted in RUNNING ticks, not timed.
"""

from __future__ import annotations

import time

import py_trees
import pytest
from py_trees.common import Status

from a2_grasping.bt import behaviours
from a2_grasping.ros.client.grasp_client import GraspClient
from a2_grasping.testing.sim_session import SimSession
from a2_grasping.tools.bt_example import create_tree, failure_reason, tick_until_done

pytestmark = [pytest.mark.ros, pytest.mark.sim]

SEED = 37  # a single-object scene: one red block
# Ticks every 0.1 s through a pick of several seconds: a behaviour that blocked on its call would
# end in a few ticks. A count, not a time bound: it holds however loaded the machine is.
MIN_RUNNING_TICKS = 10
STILL_RAD = 2e-3  # joint motion over a second below which the arm is at rest
WAIT_S = 60.0  # a deadline on conditions, not a bound on how long they took


def test_example_tree_picks_and_lifts_the_block(cell):
    session, domain = cell
    py_trees.blackboard.Blackboard.clear()
    (block,) = session.reset(SEED, "single")
    with GraspClient(domain_id=domain) as client:
        client.wait_for_servers(timeout_s=WAIT_S)
        session.wait_for_fresh_scene()
        tree = create_tree(client, "pick the red block", pick_timeout_s=60.0)
        run = tick_until_done(tree, period_s=0.1, timeout_s=60.0)
    print(
        f"\nbehaviour tree in the cell: {run.status.value} in {run.duration_s:.1f} s, "
        f"{run.ticks} ticks, longest tick {run.max_tick_s * 1e3:.2f} ms"
    )
    assert run.status == Status.SUCCESS, failure_reason(tree)
    assert run.ticks >= MIN_RUNNING_TICKS, run

    (after,) = session.objects()
    assert after.name == block.name
    assert after.height_gain_m >= 0.05

    report = py_trees.blackboard.Blackboard.get(f"/{behaviours.NAMESPACE}/{behaviours.REPORT_KEY}")
    assert report["instruction"] == "pick the red block"
    assert report["outcome"] == "succeeded" and report["error_name"] == "NONE"
    assert report["object_held"] and 0.0 < report["gripper_width_m"] < 0.085
    assert report["stages"][0] == "planning"  # an explicit candidate: no selection by /pick
    assert report["stages"][-1] == "retreating"
    assert report["grasp_frame"] == "base_link" and len(report["grasp_position_m"]) == 3
    assert report["selection"]["outcome"] == "succeeded"
    assert report["selection"]["mode"] == "attributes"
    assert report["selection"]["target"].startswith("red box")
    assert report["target"] == report["selection"]["target"] and report["target_verified"]
    assert report["selection"]["candidates"] >= 1
    py_trees.blackboard.Blackboard.clear()


def test_stopping_the_tree_mid_pick_stops_the_arm(cell):
    session, domain = cell
    py_trees.blackboard.Blackboard.clear()
    session.reset(SEED, "single")
    with GraspClient(domain_id=domain) as client:
        client.wait_for_servers(timeout_s=WAIT_S)
        session.wait_for_fresh_scene()
        tree = create_tree(client, "pick the red block", pick_timeout_s=60.0)
        pick = tree.root.children[1]
        deadline = time.monotonic() + WAIT_S
        while pick.feedback_message != "stage: moving_to_pregrasp":
            assert time.monotonic() < deadline, failure_reason(tree) or pick.feedback_message
            tree.tick()
            assert tree.root.status == Status.RUNNING, failure_reason(tree)
            time.sleep(0.05)
        tree.root.stop(Status.INVALID)  # Pick.terminate(INVALID) sends the cancel
        # Still inside the client: the stop comes from terminate, not from close(). The arm
        # comes to rest (however long a loaded machine takes to stop it) and stays there.
        stopped = _wait_until_still(session)
        time.sleep(1.0)
        assert abs(session.arm_positions() - stopped).max() < STILL_RAD
    assert session.objects()[0].height_gain_m < 0.005
    py_trees.blackboard.Blackboard.clear()


def _wait_until_still(session: SimSession):
    """The arm's joint positions once two readings a second apart agree within STILL_RAD."""
    deadline = time.monotonic() + WAIT_S
    previous = session.arm_positions()
    while True:
        time.sleep(1.0)
        current = session.arm_positions()
        if abs(current - previous).max() < STILL_RAD:
            return current
        assert time.monotonic() < deadline, "the arm kept moving after the tree was stopped"
        previous = current
