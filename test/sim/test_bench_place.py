"""The place benchmark's ground truth: which tasks are posed and which rests count as valid."""

from __future__ import annotations

import random

import pytest

from a2_grasping.bench.sim_place import (
    MIN_FREE_REGION_SHARE,
    free_region_share,
    placement_valid,
    plan_episode,
)
from a2_grasping.sim.objects import ObjectSpec, Shape, generate_objects


def _box(name: str, x: float, y: float, side: float = 0.04, height: float = 0.05) -> ObjectSpec:
    return ObjectSpec(
        name=name,
        shape=Shape.BOX,
        noun=name.split()[1],
        color=name.split(maxsplit=1)[0],
        size_m=(side, side, height),
        position_m=(x, y, 0.5 * height),
        yaw_rad=0.0,
        mass_kg=0.08,
    )


HELD = _box("red cube", 0.35, -0.2)
REFERENCE = _box("blue cube", 0.5, 0.0)


def test_an_empty_region_is_free_and_a_covering_object_takes_its_share():
    assert free_region_share("next to", HELD, REFERENCE, []) == pytest.approx(1.0)
    # a 4 cm cube 10 cm left of the reference: its keep-out disc (r_held + r_other = 5.7 cm)
    # covers the middle of the "left of" sector (a quarter annulus of 5-15 cm, 0.0157 m^2):
    # the lens inside the annulus is a bit under pi 0.057^2 = 0.0102 m^2.
    share = free_region_share("left of", HELD, REFERENCE, [_box("green cube", 0.5, 0.1)])
    assert 0.3 < share < 0.5
    # the same object behind the reference leaves "left of" almost untouched
    assert free_region_share("left of", HELD, REFERENCE, [_box("green cube", 0.65, 0.0)]) > 0.9


def test_a_region_outside_the_workspace_is_not_free():
    # the perception workspace ends at x = 0.8: "behind" a reference at x = 0.76 has no room
    at_the_edge = _box("blue cube", 0.76, 0.0)
    assert free_region_share("behind", HELD, at_the_edge, []) < MIN_FREE_REGION_SHARE


@pytest.mark.parametrize(
    ("relation", "xyz", "valid"),
    [
        ("left of", (0.5, 0.09, 0.025), True),
        ("left of", (0.5, -0.09, 0.025), False),  # right of it
        ("next to", (0.5, 0.02, 0.025), False),  # inside the annulus' hole
        ("next to", (0.5, 0.30, 0.025), False),  # beyond 15 cm
        ("behind", (0.6, 0.0, 0.10), False),  # not resting on the table
    ],
)
def test_placement_validity_follows_the_spec_regions(relation, xyz, valid):
    assert placement_valid(relation, HELD, REFERENCE, xyz)[0] is valid


def test_posed_tasks_are_seeded_and_have_a_free_region():
    first = [plan_episode(seed, random.Random(seed)) for seed in range(9000, 9010)]
    again = [plan_episode(seed, random.Random(seed)) for seed in range(9000, 9010)]
    assert first == again and all(first)
    for plan in first:
        if plan["relation"] == "in":
            continue
        objects = {o.name: o for o in generate_objects(plan["seed"], "place")}
        held, reference = objects[plan["object"]], objects[plan["reference"]]
        others = [o for o in objects.values() if o is not held and o is not reference]
        assert free_region_share(plan["relation"], held, reference, others) > MIN_FREE_REGION_SHARE
