"""`bench a2-pick` wiring: the parameters it gives the nodes (the run itself is a benchmark)."""

from __future__ import annotations

from a2_grasping.bench.a2_pick import _node_arguments
from a2_grasping.cli import build_parser
from a2_grasping.core.executor_config import select_timeout_covers

WEIGHTS = {"clip_model": "/w/clip", "fusion_weights_path": "/w/fusion.safetensors"}


def _values(arguments: list[str]) -> dict[str, str]:
    assert arguments[::2] == ["-p"] * (len(arguments) // 2)
    return dict(value.split(":=", 1) for value in arguments[1::2])


def test_node_defaults_apply_unless_overridden():
    args = build_parser().parse_args(["bench", "a2-pick", "--json", "out.json"])
    inference = _values(_node_arguments(args, WEIGHTS)["inference_node"])
    assert inference == {"clip_model": "/w/clip", "fusion_weights_path": "/w/fusion.safetensors"}
    executor = _values(_node_arguments(args, WEIGHTS)["executor_node"])
    assert executor == {"max_grasp_attempts": "1"}


def test_a_larger_budget_raises_the_executors_wait_with_it():
    args = build_parser().parse_args(
        ["bench", "a2-pick", "--json", "o.json", "--time-budget-s", "60", "--clip-tiles", "1", "2"]
    )
    arguments = _node_arguments(args, WEIGHTS)
    inference = _values(arguments["inference_node"])
    executor = _values(arguments["executor_node"])
    assert inference["time_budget_s"] == "60.0" and inference["clip_tiles"] == "[1, 2]"
    assert select_timeout_covers(float(executor["select_timeout_s"]), 60.0)
