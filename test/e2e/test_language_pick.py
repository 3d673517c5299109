"""End to end in clutter: the instruction decides what is lifted, and a wrong lift is caught.

The four nodes run as processes with the shipped parameters (attributes mode: no A2 weights);
ground truth (/sim/objects) only scores the outcome. Clutter seed 2001 holds a yellow ball, a
green cube, a pink cylinder, an orange ball and a purple block, 3+ cm apart.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from a2_grasping.action import Pick
from a2_grasping.core.errors import SelectErrorCode
from a2_grasping.srv import SelectGrasp
from a2_grasping.testing.sim_session import SimSession

pytestmark = [pytest.mark.ros, pytest.mark.sim]
SEED = 2001
LIFTED_M = 0.05
UNMOVED_M = 0.01


def _heights(session: SimSession) -> dict[str, float]:
    return {o.name: o.height_gain_m for o in session.objects()}


def _select(session: SimSession, instruction: str) -> SelectGrasp.Response:
    """/select_grasp's answer; STALE_SCENE (perception starved on a loaded machine) is asked
    again once a fresh scene has come, as the executor does."""
    client = session.node.create_client(SelectGrasp, "/select_grasp")
    try:
        deadline = time.monotonic() + 60.0
        while not client.service_is_ready():
            assert time.monotonic() < deadline, "/select_grasp did not appear"
            time.sleep(0.05)
        while True:
            future = client.call_async(SelectGrasp.Request(instruction=instruction))
            executor = session.node.executor
            while not future.done():
                assert time.monotonic() < deadline, "/select_grasp did not answer"
                if executor is not None:
                    executor.spin_once(timeout_sec=0.05)
                else:
                    time.sleep(0.05)
            response = future.result()
            if response.error_code != SelectErrorCode.STALE_SCENE or time.monotonic() > deadline:
                return response
            session.wait_for_fresh_scene(settle_s=0.0)
    finally:
        session.node.destroy_client(client)


@pytest.mark.parametrize(
    ("instruction", "named"),
    [("pick the pink cylinder", "pink cylinder"), ("grasp the purple block", "purple block")],
)
def test_two_instructions_on_one_scene_lift_two_different_named_objects(
    session, instruction, named
):
    objects = session.reset(SEED, "clutter")
    assert {o.name for o in objects} >= {"pink cylinder", "purple block"}
    session.wait_for_fresh_scene()
    result, _stages = session.pick(Pick.Goal(instruction=instruction))
    assert result.error_code == Pick.Result.NONE, result.error_message
    assert result.object_held and result.target_verified
    assert result.target.color == named.split()[0]
    heights = _heights(session)
    assert heights[named] >= LIFTED_M, heights
    assert all(h < UNMOVED_M for name, h in heights.items() if name != named), heights


def test_an_instruction_naming_nothing_on_the_table_moves_nothing(session):
    session.reset(SEED, "clutter")
    session.wait_for_fresh_scene()
    before = session.arm_positions()
    result, stages = session.pick(Pick.Goal(instruction="pick the blue cylinder"))
    assert result.error_code == Pick.Result.SELECTION_FAILED
    assert result.select_error_code == SelectErrorCode.TARGET_NOT_FOUND
    assert "no blue cylinder" in result.error_message and "seen:" in result.error_message
    assert stages == ["selecting"]
    np.testing.assert_allclose(session.arm_positions(), before, atol=1e-3)


def test_a_wrong_object_is_detected_after_the_lift_and_set_back_down(session):
    """use_candidate forces a grasp on the purple block while the target is the pink cylinder:
    the lift succeeds, the cylinder is still standing, so the block goes back down."""
    session.reset(SEED, "clutter")
    session.wait_for_fresh_scene()
    target = _select(session, "pick the pink cylinder")
    other = _select(session, "pick the purple block")
    assert target.error_code == SelectErrorCode.NONE, target.error_message
    assert other.error_code == SelectErrorCode.NONE, other.error_message
    goal = Pick.Goal(use_candidate=True, candidate=other.candidates[0], target=target.target)
    result, stages = session.pick(goal)
    assert result.error_code == Pick.Result.WRONG_OBJECT, result.error_message
    assert "still on the table" in result.error_message
    assert not result.target_verified
    assert stages[-2:] == ["verifying_target", "setting_down"]
    heights = _heights(session)
    assert abs(heights["purple block"]) < UNMOVED_M, heights  # back where it came from
    assert heights["pink cylinder"] < UNMOVED_M, heights
    state = session.objects()
    assert all(abs(o.height_gain_m) < UNMOVED_M for o in state)
