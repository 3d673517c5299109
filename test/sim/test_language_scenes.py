"""The language cell (scenes where the words matter), taking objects off the table, and the
benchmark's instructions written from ground truth."""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import time
from collections import Counter

import pytest

from a2_grasping.bench import language_episodes as truth
from a2_grasping.bench import sim_report as bench_sim_report
from a2_grasping.core.selection.grounding import (
    NEXT_TO_MARGIN_M,
    POSITION_MARGIN_M,
    RELATION_SIDE_MARGIN_M,
    SIZE_RATIO_MARGIN,
)
from a2_grasping.sim.objects import (
    CLOSE_HUES,
    CLUTTER_GAP_M,
    COLORS,
    GRASPABLE_WIDTH_M,
    LANGUAGE_COUNT,
    SPAWN_X_M,
    SPAWN_Y_M,
    Shape,
    generate_objects,
)

SEEDS = range(100)
# Largest small-mode and smallest large-mode box volumes (sim/objects.py SIZE_MODES).
SMALL_MAX_M3 = 0.060 * 0.034 * 0.035
LARGE_MIN_M3 = 0.048**3


def _box_volume(obj) -> float:
    return obj.size_m[0] * obj.size_m[1] * obj.size_m[2]


def test_same_seed_same_scene_and_different_seeds_differ():
    assert generate_objects(11, "language") == generate_objects(11, "language")
    assert generate_objects(11, "language") != generate_objects(12, "language")


def test_single_and_clutter_scenes_are_unchanged():
    """The language kind must not change the other kinds (tests and a regression bag use them).
    Digest of seeds 0-199 of both kinds, recorded before the language kind was added."""
    digest = hashlib.sha256()
    for seed in range(200):
        for kind in ("single", "clutter"):
            for o in generate_objects(seed, kind):
                values = (*o.size_m, *o.position_m, o.yaw_rad, o.mass_kg)
                digest.update(f"{o.name}|{o.shape.value}|{values!r};".encode())
    assert digest.hexdigest()[:16] == "abf5481aef157c46"


def test_counts_reach_fifteen_and_objects_do_not_overlap():
    counts = []
    for seed in SEEDS:
        objects = generate_objects(seed, "language")
        counts.append(len(objects))
        # at most two objects of a dense draw find no free spot
        assert LANGUAGE_COUNT[0] - 2 <= len(objects) <= LANGUAGE_COUNT[1]
        for a, b in itertools.combinations(objects, 2):
            gap = math.dist(a.position_m[:2], b.position_m[:2])
            assert gap >= a.footprint_radius_m + b.footprint_radius_m + CLUTTER_GAP_M - 1e-9
    assert max(counts) == LANGUAGE_COUNT[1] and sum(counts) / len(counts) >= 9


def test_objects_are_graspable_and_named_uniquely():
    for seed in SEEDS:
        objects = generate_objects(seed, "language")
        names = [o.name for o in objects]
        assert len(set(names)) == len(names), names
        numbers: Counter[str] = Counter()
        for obj in objects:
            base = f"{obj.color} {obj.noun}"
            numbers[base] += 1
            assert obj.name == (base if numbers[base] == 1 else f"{base} {numbers[base]}")
            assert obj.color in COLORS
            assert SPAWN_X_M[0] <= obj.position_m[0] <= SPAWN_X_M[1]
            assert SPAWN_Y_M[0] <= obj.position_m[1] <= SPAWN_Y_M[1]
            assert obj.position_m[2] == pytest.approx(0.5 * obj.size_m[2])
            assert GRASPABLE_WIDTH_M[0] <= obj.size_m[1] <= GRASPABLE_WIDTH_M[1], obj
            assert obj.size_m[2] >= 0.025 and obj.mass_kg > 0
            if obj.shape is Shape.SPHERE:
                assert obj.size_m[0] >= 0.035  # the finger pads reach below the equator


def test_colours_repeat_close_hues_are_common_and_sizes_come_in_two_modes():
    repeated_colour_shape = close_pairs = 0
    modes: Counter[str] = Counter()
    for seed in SEEDS:
        objects = generate_objects(seed, "language")
        descriptions = Counter((o.color, o.shape) for o in objects)
        repeated_colour_shape += any(n > 1 for n in descriptions.values())
        close_pairs += len({o.color for o in objects} & set(CLOSE_HUES)) >= 2
        for obj in objects:
            volume = _box_volume(obj)
            # never between the modes: "big" and "small" always decide by >= 1.4x across modes
            assert volume <= SMALL_MAX_M3 or volume >= LARGE_MIN_M3, obj
            modes["small" if volume <= SMALL_MAX_M3 else "large"] += 1
    assert LARGE_MIN_M3 / SMALL_MAX_M3 >= 1.4
    assert repeated_colour_shape >= 90  # "the red cube" usually needs more words
    assert close_pairs >= 60
    assert min(modes.values()) >= 0.3 * sum(modes.values())


# ---- the benchmark's instructions ----

EPISODES = truth.plan_episodes(5000, 90, "language")


def test_every_template_is_planned_deterministically():
    templates = Counter(e.template for e in EPISODES)
    assert set(templates) == set(truth.TEMPLATES)
    assert min(templates.values()) >= 10
    assert truth.plan_episodes(5000, 90, "language") == EPISODES


@pytest.mark.parametrize("episode", EPISODES, ids=lambda e: f"{e.seed}-{e.template}")
def test_instruction_names_exactly_its_targets_on_ground_truth(episode):
    objects = truth.truth_objects(episode.seed, episode.scene)
    assert set(truth.named_by_truth(episode.instruction, objects)) == set(episode.targets)
    definite = not re.search(r"\b(a|an|any)\b", episode.instruction)
    assert definite == (len(episode.targets) == 1) or episode.template in ("color", "shape")


def test_superlatives_and_relations_keep_margins_above_groundings():
    assert truth.SIZE_RATIO_MARGIN >= SIZE_RATIO_MARGIN + 0.2
    assert truth.POSITION_MARGIN_M >= POSITION_MARGIN_M + 0.02
    assert truth.POSITION_MARGIN_M >= NEXT_TO_MARGIN_M + 0.02
    assert truth.SIDE_CLEAR_M <= RELATION_SIDE_MARGIN_M - 0.03
    for episode in EPISODES:
        if episode.template not in ("size", "spatial", "relation"):
            continue
        assert len(episode.targets) == 1
        if episode.template == "relation":
            assert episode.reference and episode.reference not in episode.targets


def test_a_scene_without_a_decidable_superlative_gets_another_template():
    two_alike = (
        truth.TruthObject("red cube", "red", "box", "cube", (0.03, 0.03, 0.03), 0.5, 0.0),
        truth.TruthObject("red cube 2", "red", "box", "cube", (0.032, 0.032, 0.032), 0.5, 0.03),
    )
    rng = __import__("random").Random(0)
    assert truth.template_options(two_alike, "size", rng) == []  # 1.2x: below 1.4x
    assert truth.template_options(two_alike, "spatial", rng) == []  # 3 cm: below 5 cm
    assert truth.template_options(two_alike, "relation", rng) == []  # no unique reference
    named = truth.template_options(two_alike, "color_shape", rng)
    assert [(phrase.split()[0], len(targets)) for phrase, targets, _ in named] in (
        [("a", 2)],
        [("any", 2)],
    )


def test_language_summary_counts_first_attempts_steps_and_wrong_picks():
    def step(outcome, reported=False):
        return {
            "outcome": outcome,
            "reported_wrong_object": reported,
            "select_plan_s": 1.0,
            "execute_s": 2.0,
        }

    records = [
        {"template": "color", "success": True, "first_attempt": True, "step_count": 1,
         "steps": [step("success")]},
        {"template": "color", "success": True, "first_attempt": False, "step_count": 2,
         "steps": [step("wrong_object", True), step("success")]},
        {"template": "size", "success": False, "first_attempt": False, "step_count": 2,
         "steps": [step("AMBIGUOUS_TARGET"), step("AMBIGUOUS_TARGET")]},
    ]  # fmt: skip
    summary = bench_sim_report.language_summary(records, max_steps=8)
    assert summary["success_rate"] == summary["first_attempt_success_rate"] == pytest.approx(1 / 3)
    assert summary["success_rate_within_steps"] == pytest.approx(2 / 3)
    assert summary["mean_steps"] == 1.5
    assert summary["mean_steps_failures_as_max"] == pytest.approx((1 + 2 + 8) / 3)
    assert summary["wrong_picks"] == 1 and summary["wrong_picks_reported_wrong_object"] == 1
    assert summary["per_template"]["size"]["success_rate_within_steps"] == 0.0
    assert "color" in bench_sim_report.format_table({"attributes": summary})


# ---- taking objects off the table ----


@pytest.mark.sim
def test_cell_reset_leaves_removed_objects_out_and_refuses_unknown_names():
    from a2_grasping.sim.cell import SimCell
    from a2_grasping.sim.config import SimConfig

    seed = 5002
    everything = generate_objects(seed, "language")
    removed = [everything[0].name, everything[-1].name]
    cell = SimCell(SimConfig(seed=seed, scene="language"))
    try:
        assert [s.spec for s in cell.object_states()] == list(everything)
        cell.reset(seed, "language", removed_objects=removed)
        assert [s.spec for s in cell.object_states()] == list(everything[1:-1])
        for state in cell.object_states():  # the others stay where the seed puts them
            assert math.dist(state.base_from_object[:2, 3], state.spec.position_m[:2]) < 0.005
        with pytest.raises(ValueError, match="green banana"):
            cell.reset(seed, "language", removed_objects=["green banana"])
        assert [s.spec for s in cell.object_states()] == list(everything[1:-1])  # old scene stays
    finally:
        cell.close()


@pytest.mark.ros
@pytest.mark.sim
def test_sim_reset_removes_objects_over_dds(start_node, ros_node):
    from a2_grasping.ros.client import clients
    from a2_grasping.srv import SimObjects, SimReset

    start_node("sim_node", "-p", "camera_rate_hz:=1.0", "-p", "scene:=language", "-p", "seed:=5")
    reset_client = ros_node.create_client(SimReset, "/sim/reset")
    objects_client = ros_node.create_client(SimObjects, "/sim/objects")
    clients.wait_for_service(reset_client, 30.0)
    clients.wait_for_service(objects_client, 30.0)
    everything = [o.name for o in generate_objects(5, "language")]
    deadline = time.monotonic() + 30.0
    truth = clients.call(ros_node, objects_client, SimObjects.Request(), 5.0, attempts=3)
    while not truth.objects and time.monotonic() < deadline:  # the cell is still being built
        time.sleep(0.2)
        truth = clients.call(ros_node, objects_client, SimObjects.Request(), 5.0, attempts=3)
    assert truth.scene == "language" and [o.name for o in truth.objects] == everything
    request = SimReset.Request(seed=5, scene="language", removed_objects=[everything[1]])
    reset = clients.call(ros_node, reset_client, request, 30.0)
    assert reset.success, reset.message
    assert [o.name for o in reset.objects] == everything[:1] + everything[2:]
    truth = clients.call(ros_node, objects_client, SimObjects.Request(), 5.0, attempts=3)
    assert [o.name for o in truth.objects] == everything[:1] + everything[2:]
    request = SimReset.Request(seed=5, removed_objects=["green banana"])
    refused = clients.call(ros_node, reset_client, request, 30.0)
    assert not refused.success and "green banana" in refused.message
    refused = clients.call(ros_node, reset_client, SimReset.Request(scene="shelf"), 5.0)
    assert not refused.success and "'language'" in refused.message
