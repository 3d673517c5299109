"""End to end through the simulated cell's fault hook (/sim/fault, sim-only): what a real cell
does to a task mid-way (a grasp that misses, a camera that stops, an object taken away) ends with
the right code, and ground truth agrees with what the executor reported.

The four nodes run as processes with the shipped parameters. Faults are injected as feedback first
reports a stage (SimSession.run_task's `faults`). Camera freezes last 8 simulated seconds: longer
than the executor's input_wait_s (3 s) for a fresh scene, whatever the machine's load.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from a2_grasping.action import Pick, PickAndPlace
from a2_grasping.srv import SimFault
from a2_grasping.testing.sim_session import SimSession

pytestmark = [pytest.mark.ros, pytest.mark.sim]
PLACE_SEED = 3002  # a red plate, a green ball, an orange and a yellow cylinder
FREEZE_S = 8.0
RESTING_M = 0.01  # an object's centre within this of its resting height: on the table
OPEN_KNUCKLE_RAD = 0.1  # the gripper's knuckle below this: open (closed on an object: > 0.3)


def _single_box(session: SimSession):
    for seed in range(40):
        (obj,) = session.reset(seed, "single")
        if obj.shape == "box":
            session.wait_for_fresh_scene()
            return obj
    raise AssertionError("no box among the first 40 seeds")


def _object(session: SimSession, name: str):
    return next(o for o in session.objects() if o.name == name)


def _gripper_knuckle_rad(session: SimSession) -> float:
    session.arm_positions()  # waits for a fresh joint state
    msg = session._joint_state
    assert msg is not None
    return float(msg.position[list(msg.name).index("robotiq_85_left_knuckle_joint")])


def test_a_grasp_that_closes_on_nothing_is_retried_on_a_fresh_scene(session):
    """The box is knocked 15 cm aside while the arm waits above it: the gripper closes on
    nothing (GRASP_FAILED), the arm returns, and the second grasp, selected on a scene taken
    after the return, lifts the box where it now is."""
    box = _single_box(session)
    away_y = -0.15 if box.pose.position.y > 0.0 else 0.15
    nudge = SimFault.Request(
        kind=SimFault.Request.MOVE_OBJECT,
        object_name=box.name,
        position_m=[0.0, away_y, 0.0],
        relative=True,
    )
    result, stages = session.pick(
        Pick.Goal(instruction="pick up the box"), faults=[("opening", nudge)]
    )
    assert result.error_code == Pick.Result.NONE, result.error_message
    assert result.grasp_attempts == 2
    assert "returning" in stages and stages.count("closing") == 2
    assert _object(session, box.name).height_gain_m >= 0.05
    grasped_y = result.executed_grasp.pose.pose.position.y  # the second grasp, where it now is
    assert abs(grasped_y - (box.pose.position.y + away_y)) < 0.03


def test_no_scene_after_the_lift_sets_the_object_down(session):
    """Every camera stops as the lift starts: nothing can verify what was lifted, so the
    executor sets it back down and answers STALE_STATE, with nothing left in the air."""
    box = _single_box(session)
    freeze = SimFault.Request(kind=SimFault.Request.FREEZE_CAMERAS, duration_s=FREEZE_S)
    result, stages = session.pick(
        Pick.Goal(instruction="pick up the box"), faults=[("lifting", freeze)]
    )
    assert result.error_code == Pick.Result.STALE_STATE, result.error_message
    assert "no scene newer than the lift" in result.error_message
    assert "setting_down" in stages and not result.target_verified
    assert abs(_object(session, box.name).height_gain_m) < RESTING_M
    assert _gripper_knuckle_rad(session) < OPEN_KNUCKLE_RAD


def test_a_camera_that_drops_out_and_comes_back_does_not_fail_the_pick(session):
    box = _single_box(session)
    freeze = SimFault.Request(
        kind=SimFault.Request.FREEZE_CAMERAS, camera_name="front_left", duration_s=3.0
    )
    result, _stages = session.pick(
        Pick.Goal(instruction="pick up the box"), faults=[("moving_to_pregrasp", freeze)]
    )
    assert result.error_code == Pick.Result.NONE, result.error_message
    assert result.target_verified
    assert _object(session, box.name).height_gain_m >= 0.05


def test_joint_states_that_stop_mid_motion_abort_it(session):
    """The driver's joint states stop for 2 s while the arm moves: the executor cannot follow
    the motion, aborts it (EXECUTION_FAILED naming the joint states) and lifts nothing."""
    box = _single_box(session)
    freeze = SimFault.Request(kind=SimFault.Request.FREEZE_JOINT_STATES, duration_s=2.0)
    result, _stages = session.pick(
        Pick.Goal(instruction="pick up the box"), faults=[("moving_to_pregrasp", freeze)]
    )
    assert result.error_code == Pick.Result.EXECUTION_FAILED, result.error_message
    assert "joint state" in result.error_message
    assert abs(_object(session, box.name).height_gain_m) < RESTING_M


def test_no_scene_after_the_release_is_stale_state_with_the_object_set_down(session):
    session.reset(PLACE_SEED, "place")
    session.wait_for_fresh_scene()
    # From the retreat on: the freeze must outlast the retreat and then input_wait_s, measured
    # from the verification's start (a freeze from the release also spanned the gripper's
    # opening and the ascent, and once ran out before the wait did).
    freeze = SimFault.Request(kind=SimFault.Request.FREEZE_CAMERAS, duration_s=2 * FREEZE_S)
    goal = PickAndPlace.Goal(instruction="put the yellow cylinder on the red plate")
    result, _stages = session.run_task("/pick_and_place", goal, faults=[("retreating", freeze)])
    assert result.error_code == PickAndPlace.Result.STALE_STATE, result.error_message
    assert "no scene after the release" in result.error_message
    assert result.released and not result.placement_verified
    cylinder, plate = _object(session, "yellow cylinder"), _object(session, "red plate")
    resting_z = plate.size_m[2] + 0.5 * cylinder.size_m[2]
    assert abs(cylinder.pose.position.z - resting_z) < RESTING_M  # on the plate, not in the air
    assert _gripper_knuckle_rad(session) < OPEN_KNUCKLE_RAD


def test_an_object_taken_away_after_the_release_is_place_failed(session):
    """Someone takes the cylinder off the plate as the arm rises: the place is not verified
    (PLACE_FAILED), although the release itself went as planned."""
    session.reset(PLACE_SEED, "place")
    session.wait_for_fresh_scene()
    take = SimFault.Request(kind=SimFault.Request.REMOVE_OBJECT, object_name="yellow cylinder")
    goal = PickAndPlace.Goal(instruction="put the yellow cylinder on the red plate")
    result, stages = session.run_task("/pick_and_place", goal, faults=[("ascending", take)])
    assert result.error_code == PickAndPlace.Result.PLACE_FAILED, result.error_message
    assert result.released and not result.placement_verified
    assert stages[-1] == "verifying_place"
    cylinder = _object(session, "yellow cylinder")
    assert math.hypot(cylinder.pose.position.x, cylinder.pose.position.y) > 10.0  # parked away


def test_a_fault_the_cell_cannot_apply_is_refused_with_the_reason(session):
    session.reset(PLACE_SEED, "place")
    refusals = {
        "no object named": SimFault.Request(
            kind=SimFault.Request.MOVE_OBJECT, object_name="purple unicorn"
        ),
        "fixed to the table": SimFault.Request(
            kind=SimFault.Request.SLIP, object_name="red plate", duration_s=1.0
        ),
        "duration_s > 0": SimFault.Request(kind=SimFault.Request.FREEZE_CAMERAS),
        "no camera": SimFault.Request(
            kind=SimFault.Request.FREEZE_CAMERAS, camera_name="ceiling", duration_s=1.0
        ),
        "unknown fault kind": SimFault.Request(kind=42),
    }
    for reason, request in refusals.items():
        with pytest.raises(RuntimeError, match=reason):
            session.fault(request)


def test_deactivating_the_executor_mid_motion_stops_the_arm_and_refuses_goals(session):
    """Deactivate is the lifecycle's stop: the arm halts where it is, the running goal ends
    with a code, new goals are refused until the executor is active again."""
    from lifecycle_msgs.msg import Transition

    box = _single_box(session)
    deactivated: list[bool] = []

    def on_poll() -> None:
        if not deactivated and "moving_to_pregrasp" in seen:
            deactivated.append(
                session.change_state("executor_node", Transition.TRANSITION_DEACTIVATE)
            )

    seen: list[str] = []
    try:
        result, _stages = session.pick(
            Pick.Goal(instruction="pick up the box"), on_stage=seen.append, on_poll=on_poll
        )
        assert deactivated == [True]
        assert result.error_code in (Pick.Result.CANCELED, Pick.Result.EXECUTION_FAILED), (
            result.error_message
        )
        first = session.arm_positions()
        session.spin_for(0.5)
        assert np.allclose(session.arm_positions(), first, atol=2e-3), "the arm kept moving"
        assert abs(_object(session, box.name).height_gain_m) < RESTING_M
        with pytest.raises(RuntimeError, match="rejected the goal"):
            session.pick(Pick.Goal(instruction="pick up the box"))
    finally:
        assert session.change_state("executor_node", Transition.TRANSITION_ACTIVATE)
    session.wait_for_fresh_scene()
    result, _stages = session.pick(Pick.Goal(instruction="pick up the box"))
    assert result.error_code == Pick.Result.NONE, result.error_message
