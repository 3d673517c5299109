"""End to end in the simulated cell: place and pick-and-place, scored by ground truth.

The four nodes run as processes with the shipped parameters. Place scene seed 3002: a red plate
(fixed to the table), a green ball, an orange cylinder and a yellow cylinder. Ground truth
(/sim/objects) only scores: where the object rests, and whether it stands upright.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from a2_grasping.action import Pick, PickAndPlace, Place
from a2_grasping.core.errors import SelectErrorCode
from a2_grasping.testing.sim_session import SimSession

pytestmark = [pytest.mark.ros, pytest.mark.sim]
SEED = 3002
UPRIGHT_M = 0.01  # the centre back at its resting height within this: standing, on the table


def _by_name(session: SimSession) -> dict[str, object]:
    return {o.name: o for o in session.objects()}


def _xy(sim_object) -> np.ndarray:
    return np.array([sim_object.pose.position.x, sim_object.pose.position.y])


def test_a_picked_object_is_placed_next_to_another(session):
    """/pick then /place (the executor remembers what it holds): the OUT relation's annulus."""
    session.reset(SEED, "place")
    session.wait_for_fresh_scene()
    picked, _ = session.pick(Pick.Goal(instruction="pick the orange cylinder"))
    assert picked.error_code == Pick.Result.NONE, picked.error_message
    session.wait_for_fresh_scene()
    result, stages = session.run_task("/place", Place.Goal(instruction="next to the green ball"))
    assert result.error_code == Place.Result.NONE, result.error_message
    assert result.released and result.placement_verified
    assert result.reference.color == "green" and result.reference.shape == "sphere"
    assert stages[:2] == ["selecting_place", "planning"] and stages[-1] == "verifying_place"
    objects = _by_name(session)
    cylinder, ball = objects["orange cylinder"], objects["green ball"]
    distance = math.dist(_xy(cylinder), _xy(ball))
    # spec §2.7 annulus: r_min = max(5 cm, r_ball + r_cylinder), r_max = max(15 cm, ... + 10 cm)
    assert 0.05 - 0.01 <= distance <= 0.15 + 0.01 + 0.05, distance
    assert abs(cylinder.height_gain_m) < UPRIGHT_M, cylinder.height_gain_m  # upright, on the table
    placed = np.array([result.placed_at_m.x, result.placed_at_m.y])
    assert np.linalg.norm(placed - _xy(cylinder)) < 0.01  # what the executor saw is the truth


def test_pick_and_place_puts_a_cylinder_on_the_plate(session):
    """One sentence, both halves planned before anything moves; the IN relation's disc."""
    session.reset(SEED, "place")
    session.wait_for_fresh_scene()
    goal = PickAndPlace.Goal(instruction="put the yellow cylinder on the red plate")
    result, stages = session.run_task("/pick_and_place", goal)
    assert result.error_code == PickAndPlace.Result.NONE, result.error_message
    assert (result.pick_instruction, result.place_instruction) == (
        "put the yellow cylinder",
        "on the red plate",
    )
    assert result.target_verified and result.released and result.placement_verified
    assert "verifying_target" in stages and stages[-1] == "verifying_place"
    objects = _by_name(session)
    cylinder, plate = objects["yellow cylinder"], objects["red plate"]
    offset = math.dist(_xy(cylinder), _xy(plate))
    assert offset <= 0.5 * plate.size_m[0] / 2, offset  # the disc of radius min(size)/2... halved
    resting_z = plate.size_m[2] + 0.5 * cylinder.size_m[2]
    assert abs(cylinder.pose.position.z - resting_z) < UPRIGHT_M  # standing on the plate


def test_a_place_naming_nothing_on_the_table_moves_nothing(session):
    session.reset(SEED, "place")
    session.wait_for_fresh_scene()
    before = session.arm_positions()
    heights = {o.name: o.pose.position.z for o in session.objects()}
    goal = PickAndPlace.Goal(instruction="put the green ball in the tray")  # there is no tray
    result, stages = session.run_task("/pick_and_place", goal)
    assert result.error_code == PickAndPlace.Result.SELECTION_FAILED, result.error_message
    assert result.select_error_code == SelectErrorCode.TARGET_NOT_FOUND
    assert "selecting_place" in stages and "moving_to_pregrasp" not in stages
    np.testing.assert_allclose(session.arm_positions(), before, atol=1e-3)
    after = {o.name: o.pose.position.z for o in session.objects()}
    assert all(abs(after[name] - z) < 1e-3 for name, z in heights.items())


def test_cancel_during_place_stops_the_arm(session):
    session.reset(SEED, "place")
    session.wait_for_fresh_scene()
    goal = PickAndPlace.Goal(instruction="put the orange cylinder next to the green ball")
    result, stages = session.run_task(
        "/pick_and_place", goal, cancel_at_stage="moving_to_place", cancel_after_s=0.3
    )
    assert result.error_code == PickAndPlace.Result.CANCELED, result.error_message
    assert stages[-1] == "moving_to_place"
    first = session.arm_positions()
    time.sleep(0.5)
    np.testing.assert_allclose(session.arm_positions(), first, atol=2e-3)  # stopped, not moving


def test_the_sorting_tree_puts_every_red_object_on_the_plate(cell):
    """The example tree (bt_example.create_sorting_tree) over the client library: seed 3003 has
    one red object (a cylinder) beside a yellow plate; the loop places it and then ends SUCCESS
    because no red object is left off the plate."""
    import py_trees
    from py_trees.common import Status

    from a2_grasping.ros.client.grasp_client import GraspClient
    from a2_grasping.tools.bt_example import create_sorting_tree, tick_until_done

    session, domain = cell
    py_trees.blackboard.Blackboard.clear()
    session.reset(3003, "place")
    with GraspClient(domain_id=domain) as client:
        client.wait_for_servers(timeout_s=15.0, with_place=True)
        session.wait_for_fresh_scene()
        tree = create_sorting_tree(client, "red", "plate", max_objects=3)
        run = tick_until_done(tree, period_s=0.1, timeout_s=400.0)
    py_trees.blackboard.Blackboard.clear()
    assert run.status == Status.SUCCESS
    objects = _by_name(session)
    cylinder, plate = objects["red cylinder"], objects["yellow plate"]
    assert math.dist(_xy(cylinder), _xy(plate)) <= 0.25 * plate.size_m[0]
