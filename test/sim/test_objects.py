"""Seeded scene descriptions (numpy only, no MuJoCo)."""

from __future__ import annotations

import itertools
import math

import pytest

from a2_grasping.sim.objects import (
    CLUTTER_COUNT,
    CLUTTER_GAP_M,
    COLORS,
    GRASPABLE_WIDTH_M,
    SPAWN_X_M,
    SPAWN_Y_M,
    SceneKind,
    generate_objects,
)

SEEDS = range(40)


def test_same_seed_same_scene_and_different_seeds_differ():
    assert generate_objects(7, "clutter") == generate_objects(7, "clutter")
    assert generate_objects(7, "clutter") != generate_objects(8, "clutter")
    assert generate_objects(7, SceneKind.SINGLE) == generate_objects(7, "single")


@pytest.mark.parametrize("kind", ["single", "clutter"])
def test_objects_are_graspable_named_and_inside_the_spawn_area(kind):
    for seed in SEEDS:
        objects = generate_objects(seed, kind)
        for obj in objects:
            assert obj.name == f"{obj.color} {obj.noun}" and obj.color in COLORS
            assert SPAWN_X_M[0] <= obj.position_m[0] <= SPAWN_X_M[1]
            assert SPAWN_Y_M[0] <= obj.position_m[1] <= SPAWN_Y_M[1]
            assert obj.position_m[2] == pytest.approx(0.5 * obj.size_m[2])
            # object y is the narrow grasp width of every shape
            assert GRASPABLE_WIDTH_M[0] <= obj.size_m[1] <= GRASPABLE_WIDTH_M[1], obj
            assert obj.size_m[2] >= 0.025 and obj.mass_kg > 0
        assert len({o.color for o in objects}) == len(objects), "colours unique per scene"


def test_clutter_counts_and_no_overlap():
    counts = set()
    for seed in SEEDS:
        objects = generate_objects(seed, "clutter")
        counts.add(len(objects))
        assert CLUTTER_COUNT[0] <= len(objects) <= CLUTTER_COUNT[1]
        for a, b in itertools.combinations(objects, 2):
            gap = math.dist(a.position_m[:2], b.position_m[:2])
            assert gap >= a.footprint_radius_m + b.footprint_radius_m + CLUTTER_GAP_M - 1e-9
    assert len(counts) > 1
    assert all(len(generate_objects(seed, "single")) == 1 for seed in SEEDS)


def test_all_shapes_occur():
    nouns = {o.noun for seed in SEEDS for o in generate_objects(seed, "clutter")}
    assert nouns == {"cube", "block", "cylinder", "ball"}


def test_unknown_scene_kind_is_refused():
    with pytest.raises(ValueError, match="shelf"):
        generate_objects(0, "shelf")
