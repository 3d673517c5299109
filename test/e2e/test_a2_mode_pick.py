"""A2 mode through /pick and /pick_and_place in the simulated cell, on CPU, within the node's
budget.

The fusion network has the published sizes (random weights, written as .safetensors and loaded
strictly like sl_checkpoint_199); CLIP is a small random model with the published projection
width (768, which the fusion network takes) saved as a local model directory with a letter
tokenizer. Random weights cannot follow the instruction: what is checked is that a2 mode runs
end to end, /select_grasp answers (within its time budget, or it would refuse with TIMEOUT) and
the pick completes; and that the guard holds both halves of a pick-and-place to what the
sentence names, so it completes on the right object and plate however the head ranks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import pytest

from a2_grasping.action import Pick, PickAndPlace
from a2_grasping.bench.a2_pick import write_random_weights
from a2_grasping.testing.offline_clip import SMALL_CLIP
from a2_grasping.testing.sim_session import SimSession

pytestmark = [pytest.mark.ros, pytest.mark.sim]
PLACE_SEED = 3002  # a red plate, a green ball, an orange and a yellow cylinder
UPRIGHT_M = 0.01  # the centre at its resting height within this: standing


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Iterator[SimSession]:
    from domain_coordinator import domain_id

    tmp_path = tmp_path_factory.mktemp("a2_mode")
    weights = write_random_weights(tmp_path, SMALL_CLIP, graspnet=False)
    arguments = [f"{name}:={value}" for name, value in weights.items()]
    arguments = [part for value in [*arguments, "clip_tiles:=[1, 2]"] for part in ("-p", value)]
    with (
        domain_id() as reserved,
        SimSession(
            reserved, tmp_path / "logs", node_arguments={"inference_node": arguments}
        ) as running,
    ):
        yield running


def _texts_encoded(session: SimSession) -> int:
    """Instructions CLIP has encoded since configure (the inference node's clip_cache)."""
    summary = session.diagnostic_values("inference_node")["clip_cache"]
    found = re.search(r"texts encoded=(\d+)", summary)
    assert found is not None, summary
    return int(found.group(1))


def test_a_pick_in_a2_mode_completes_within_the_budget(session):
    session.reset(3, "single")
    session.wait_for_fresh_scene()
    result, stages = session.pick(Pick.Goal(instruction="pick up the box"))
    assert result.error_code == Pick.Result.NONE, result.error_message
    assert result.object_held and stages[-1] == "retreating"
    # The server refuses a selection over time_budget_s with TIMEOUT, so the pick's success
    # is the in-budget check; no wall time is asserted here.
    values = session.diagnostic_values("inference_node")
    assert values["mode"] == "a2" and values["answers"] == "NONE=1"


def test_pick_and_place_in_a2_mode_puts_the_named_object_on_the_named_plate(session):
    """Both halves scored by the fusion network (the place on A2's §2.7 candidates), both held
    by the guard to what the sentence names; scored on ground truth as in attributes mode."""
    session.reset(PLACE_SEED, "place")
    session.wait_for_fresh_scene()
    encoded_before = _texts_encoded(session)
    goal = PickAndPlace.Goal(instruction="put the yellow cylinder on the red plate")
    result, stages = session.run_task("/pick_and_place", goal)
    assert result.error_code == PickAndPlace.Result.NONE, result.error_message
    assert result.target_verified and result.released and result.placement_verified
    assert stages[-1] == "verifying_place"
    # The pick's and the place's instructions both went through CLIP: the place ran in a2 mode.
    assert _texts_encoded(session) == encoded_before + 2
    objects = {o.name: o for o in session.objects()}
    cylinder, plate = objects["yellow cylinder"], objects["red plate"]
    offset = math.dist(
        (cylinder.pose.position.x, cylinder.pose.position.y),
        (plate.pose.position.x, plate.pose.position.y),
    )
    assert offset <= 0.5 * min(plate.size_m[:2]), offset  # on the plate
    resting_z = plate.size_m[2] + 0.5 * cylinder.size_m[2]
    assert abs(cylinder.pose.position.z - resting_z) < UPRIGHT_M  # standing on it
