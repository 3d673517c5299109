"""The demo's defaults name what they say on the simulator's ground truth, and its place
verdict is the benchmark's (the demo itself runs the whole pipeline: `./run demo`)."""

from __future__ import annotations

import argparse

import pytest

from a2_grasping.tools import demo


def _args(task: str, instruction: str = "") -> argparse.Namespace:
    scene, seed, default_instruction = demo.DEFAULTS[task]
    return argparse.Namespace(
        task=task,
        scene=scene,
        seed=seed,
        instruction=instruction or default_instruction,
        target="",
    )


def test_default_task_is_pick_and_place_on_a_scene_with_several_objects() -> None:
    assert demo.DEFAULT_TASK == "pick_and_place"
    args = _args("pick_and_place")
    named, by = demo._named_objects(args)
    assert (named, by) == (["red block"], "ground truth")
    assert demo._place_by_truth(args) == ("in", "blue plate")
    others = [o for o in demo.truth_objects(args.seed, args.scene) if o.name != "red block"]
    # Distractors: a second receptacle, a block of a neighbouring hue, several other objects.
    assert {"yellow tray", "orange block"} <= {o.name for o in others}
    assert len(others) >= 5


def test_pick_default_needs_colour_and_shape() -> None:
    args = _args("pick")
    assert demo._named_objects(args)[0] == ["red block"]
    names = {o.name for o in demo.truth_objects(args.seed, args.scene)}
    assert {"red ball", "red cylinder"} <= names


def test_a_sentence_without_a_place_is_refused_before_anything_starts() -> None:
    with pytest.raises(SystemExit, match="not where to put it"):
        demo._named_objects(_args("pick_and_place", "pick the red block"))


def test_relations_map_to_the_benchmark_regions() -> None:
    args = _args("pick_and_place", "put the red block to the left of the orange block")
    assert demo._place_by_truth(args) == ("left of", "orange block")
    args = _args("pick_and_place", "put the red block next to the tray")
    assert demo._place_by_truth(args) == ("next to", "yellow tray")
