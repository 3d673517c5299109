"""A2 mode through /pick in the simulated cell, on CPU, within the node's budget.

The fusion network has the published sizes (random weights, written as .safetensors and loaded
strictly like sl_checkpoint_199); CLIP is a small random model with the published projection
width (768, which the fusion network takes) saved as a local model directory with a letter
tokenizer. Random weights cannot follow the instruction: what is checked is that a2 mode runs
end to end, /select_grasp answers (within its time budget, or it would refuse with TIMEOUT) and
the pick completes.
"""

from __future__ import annotations

import pytest

from a2_grasping.action import Pick
from a2_grasping.core.policy.fusion_config import FusionConfig
from a2_grasping.tools.bench_a2_pick import write_random_weights
from a2_grasping.tools.sim_session import SimSession

pytestmark = [pytest.mark.ros, pytest.mark.sim]
SMALL_CLIP = {
    "vision": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": 336,
        "patch_size": 14,
    },
    "text": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
    },
    "projection_dim": FusionConfig().width,
}


def test_a_pick_in_a2_mode_completes_within_the_budget(tmp_path):
    from domain_coordinator import domain_id

    weights = write_random_weights(tmp_path, SMALL_CLIP, graspnet=False)
    arguments = [f"{name}:={value}" for name, value in weights.items()]
    arguments = [part for value in [*arguments, "clip_tiles:=[1, 2]"] for part in ("-p", value)]
    with (
        domain_id() as reserved,
        SimSession(
            reserved, tmp_path / "logs", node_arguments={"inference_node": arguments}
        ) as session,
    ):
        session.reset(3, "single")
        session.wait_for_fresh_scene()
        result, stages = session.pick(Pick.Goal(instruction="pick up the box"))
        assert result.error_code == Pick.Result.NONE, result.error_message
        assert result.object_held and stages[-1] == "retreating"
        # The server refuses a selection over time_budget_s with TIMEOUT, so the pick's success
        # is the in-budget check; no wall time is asserted here.
        values = session.diagnostic_values("inference_node")
        assert values["mode"] == "a2" and values["answers"] == "NONE=1"
