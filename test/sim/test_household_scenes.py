"""Household scenes (issue 24 item 6): seeded compound objects - mugs, bowls, bottles, tools,
fruit - their geometry as MuJoCo compiles it, their rest on the table and scripted lifts."""

from __future__ import annotations

import argparse
import itertools
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pytest

from a2_grasping.bench import sim as bench_sim
from a2_grasping.sim.cell import SimCell
from a2_grasping.sim.config import GRIPPER_CLOSED_RAD, SimConfig
from a2_grasping.sim.household import BANANA_SEGMENTS, HOUSEHOLD_COUNT
from a2_grasping.sim.objects import (
    CLUTTER_GAP_M,
    COLORS,
    DENSITY_KG_M3,
    GRASPABLE_WIDTH_M,
    SPAWN_X_M,
    SPAWN_Y_M,
    ObjectSpec,
    PartSpec,
    SceneKind,
    Shape,
    generate_objects,
    quat_to_matrix,
)
from a2_grasping.sim.scripted_pick import pick_at
from a2_grasping.tools import demo

SEEDS = range(50)
NOUNS = {"mug", "bowl", "bottle", "screwdriver", "spatula", "banana", "apple"}
SIM_SEEDS = range(12)  # every noun occurs in these (checked below)
SETTLE_CHECK_S = 1.0
MAX_REST_MOTION_M = 0.005
MAX_REST_TILT_DEG = 5.0
PINCH_KNUCKLE_RAD = 0.65  # knuckle beyond this: the fingers hold less than ~15 mm


# ---- scene descriptions (numpy only) ----


def test_same_seed_same_scene_and_different_seeds_differ():
    assert generate_objects(7, "household") == generate_objects(7, SceneKind.HOUSEHOLD)
    assert generate_objects(7, "household") != generate_objects(8, "household")


def test_every_kind_occurs_and_scenes_hold_four_to_six_objects():
    nouns: Counter[str] = Counter()
    for seed in SEEDS:
        objects = generate_objects(seed, "household")
        assert HOUSEHOLD_COUNT[0] <= len(objects) <= HOUSEHOLD_COUNT[1], seed
        nouns.update(o.noun for o in objects)
    assert set(nouns) == NOUNS, nouns
    assert min(nouns.values()) >= 10, nouns
    assert {o.noun for seed in SIM_SEEDS for o in generate_objects(seed, "household")} == NOUNS


def test_objects_are_named_coloured_uniquely_apart_and_inside_the_spawn_area():
    for seed in SEEDS:
        objects = generate_objects(seed, "household")
        assert len({o.color for o in objects}) == len(objects), "colours unique per scene"
        for obj in objects:
            assert obj.name == f"{obj.color} {obj.noun}" and obj.color in COLORS
            assert obj.shape is Shape.COMPOUND and obj.parts and not obj.receptacle
            assert SPAWN_X_M[0] <= obj.position_m[0] <= SPAWN_X_M[1]
            assert SPAWN_Y_M[0] <= obj.position_m[1] <= SPAWN_Y_M[1]
            assert obj.position_m[2] == pytest.approx(0.5 * obj.size_m[2])
            # lying tools and bananas are the lowest; fingers reach 25 mm below a top
            assert obj.size_m[2] >= 0.025, obj.name
            volume_m3 = sum(p.volume_m3 for p in obj.parts)
            assert obj.mass_kg == pytest.approx(DENSITY_KG_M3 * volume_m3)
            assert 0.005 < obj.mass_kg < 0.3, (obj.name, obj.mass_kg)
        for a, b in itertools.combinations(objects, 2):
            gap = math.dist(a.position_m[:2], b.position_m[:2])
            assert gap >= a.footprint_radius_m + b.footprint_radius_m + CLUTTER_GAP_M - 1e-9


def test_size_is_the_parts_bounding_box_centred_on_the_object_frame():
    for seed in range(10):
        for obj in generate_objects(seed, "household"):
            low = np.min([np.asarray(p.position_m) - p.half_extents_m() for p in obj.parts], 0)
            high = np.max([np.asarray(p.position_m) + p.half_extents_m() for p in obj.parts], 0)
            np.testing.assert_allclose(high - low, obj.size_m, atol=1e-9)
            np.testing.assert_allclose(high + low, 0.0, atol=1e-9)


def test_a_part_refuses_unknown_geoms_and_primitives_have_no_parts():
    with pytest.raises(ValueError, match="mesh"):
        PartSpec("mesh", (0.01, 0.01, 0.01), (0.0, 0.0, 0.0))
    assert all(o.parts == () for o in generate_objects(3, "clutter"))


def test_the_demo_and_the_benchmark_take_household_scenes_only_where_they_can_score_them():
    """Ground truth names objects through grounding (box, cylinder, ball): a household pick in
    the demo needs --target; household scenes have nothing to place on."""
    demo_parser = argparse.ArgumentParser()
    demo.add_arguments(demo_parser)
    for extra in ([], ["--task", "pick_and_place", "--target", "red mug"]):
        args = demo_parser.parse_args(["--scene", "household", "--task", "pick", *extra])
        with pytest.raises(SystemExit, match="household"):
            demo.run(args)
    bench_parser = argparse.ArgumentParser()
    bench_sim.add_arguments(bench_parser)
    for task in ("place", "pick_and_place"):
        args = bench_parser.parse_args(["--json", "x.json", "--scene", "household", "--task", task])
        with pytest.raises(SystemExit, match="household"):
            bench_sim.run(args)


# ---- in MuJoCo ----


@dataclass
class Measured:
    """What a settled household cell shows, per object."""

    nouns: list[str] = field(default_factory=list)
    rest_motion_m: dict[str, float] = field(default_factory=dict)
    rest_tilt_deg: dict[str, float] = field(default_factory=dict)
    spawn_offset_m: dict[str, float] = field(default_factory=dict)
    upright_tilt_deg: dict[str, float] = field(default_factory=dict)
    box_error_m: dict[str, float] = field(default_factory=dict)
    widths_m: dict[str, dict[str, float]] = field(default_factory=dict)
    hollow_m: dict[str, tuple[float, float]] = field(default_factory=dict)  # bottom, rim heights
    touching: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture(scope="module")
def measured() -> Measured:
    result = Measured()
    cell = SimCell(SimConfig(seed=SIM_SEEDS[0], scene="household"))
    for seed in SIM_SEEDS:
        cell.reset(seed, "household")
        settled = {s.spec.name: s.base_from_object.copy() for s in cell.object_states()}
        cell.step(SETTLE_CHECK_S)
        for state in cell.object_states():
            spec, pose = state.spec, state.base_from_object
            key = f"{seed}:{spec.name}"
            result.nouns.append(spec.noun)
            before = settled[spec.name]
            result.rest_motion_m[key] = float(np.linalg.norm(pose[:3, 3] - before[:3, 3]))
            result.rest_tilt_deg[key] = _angle_deg(before[:3, :3].T @ pose[:3, :3])
            result.spawn_offset_m[key] = float(np.linalg.norm(pose[:3, 3] - spec.position_m))
            result.upright_tilt_deg[key] = math.degrees(math.acos(min(1.0, pose[2, 2])))
            result.box_error_m[key] = _box_error_m(cell, spec)
            result.widths_m[key] = _widths_m(cell, spec, pose)
            if spec.noun in ("mug", "bowl"):
                result.hollow_m[key] = _bottom_and_rim_m(cell, spec, pose)
        result.touching += [(f"{seed}:{a}", b) for a, b in _objects_touching(cell)]
    cell.close()
    return result


@pytest.mark.sim
def test_every_object_rests_where_it_spawned_and_stays(measured):
    assert set(measured.nouns) == NOUNS
    assert max(measured.rest_motion_m.values()) < MAX_REST_MOTION_M, measured.rest_motion_m
    assert max(measured.rest_tilt_deg.values()) < MAX_REST_TILT_DEG, measured.rest_tilt_deg
    # spawned resting: the 0.3 s settle at reset moved nothing either
    assert max(measured.spawn_offset_m.values()) < 0.002, measured.spawn_offset_m
    # upright, and bananas and tools lie flat (their frame's z stays vertical)
    assert max(measured.upright_tilt_deg.values()) < MAX_REST_TILT_DEG, measured.upright_tilt_deg


@pytest.mark.sim
def test_objects_do_not_touch_each_other(measured):
    assert measured.touching == []


@pytest.mark.sim
def test_size_matches_the_compiled_geoms(measured):
    assert max(measured.box_error_m.values()) < 0.002, measured.box_error_m


@pytest.mark.sim
def test_mugs_and_bowls_are_hollow(measured):
    """A ray straight down the axis meets the bottom, far below the rim."""
    assert len(measured.hollow_m) >= 2
    for key, (bottom_m, rim_m) in measured.hollow_m.items():
        assert bottom_m < 0.010, key
        assert rim_m > 0.035, key


@pytest.mark.sim
def test_every_object_has_a_graspable_width(measured):
    """Measured with rays across the section the 2F-85 closes on (per kind, see household.py):
    20-70 mm, except the bowl's rim wall, a pinch the gripper closes on (antipodal sampling
    accepts widths from 4 mm)."""
    low, high = GRASPABLE_WIDTH_M
    for key, widths in measured.widths_m.items():
        assert widths, key
        for where, width_m in widths.items():
            if where == "rim wall":
                assert 0.004 <= width_m <= 0.009, (key, width_m)
            else:
                assert low <= width_m <= high, (key, where, width_m)


# ---- scripted lifts ----


def _first(noun: str) -> tuple[int, ObjectSpec]:
    for seed in SEEDS:
        for obj in generate_objects(seed, "household"):
            if obj.noun == noun:
                return seed, obj
    raise AssertionError(noun)


@pytest.mark.sim
@pytest.mark.parametrize(
    ("noun", "where"),
    [
        ("mug", "body"),
        ("mug", "wall"),
        ("bowl", "rim wall"),
        ("bottle", "cap"),
        ("screwdriver", "handle"),
        ("spatula", "handle"),
        ("banana", "middle"),
        ("apple", "middle"),
    ],
)
def test_scripted_top_down_pick_lifts_household_objects(noun, where):
    seed, target = _first(noun)
    cell = SimCell(SimConfig(seed=seed, scene="household"))
    pose = next(s.base_from_object for s in cell.object_states() if s.spec.name == target.name)
    position_m, closing = _grasp(target, pose, where)
    pick_at(cell, position_m, closing)
    assert cell.lifted(target.name, min_rise_m=0.05), cell.object_height_gain_m(target.name)
    knuckle_rad = cell.joint_positions()[6]
    assert 0.05 < knuckle_rad < GRIPPER_CLOSED_RAD - 0.03, "holding, not closed"
    # on the section meant: a 3-7 mm wall closes the fingers far more than a 25-70 mm body
    assert (knuckle_rad > PINCH_KNUCKLE_RAD) == where.endswith("wall"), knuckle_rad
    others = [o.name for o in cell.objects if o.name != target.name]
    assert all(abs(cell.object_height_gain_m(name)) < 0.002 for name in others)
    cell.close()


# ---- helpers ----


def _angle_deg(rotation: np.ndarray) -> float:
    return math.degrees(math.acos(np.clip(0.5 * (np.trace(rotation) - 1.0), -1.0, 1.0)))


def _object_geoms(cell: SimCell, spec: ObjectSpec) -> tuple[int, list[int]]:
    body = cell.model.body("object/" + spec.name.replace(" ", "_")).id
    return body, [g for g in range(cell.model.ngeom) if cell.model.geom_bodyid[g] == body]


def _box_error_m(cell: SimCell, spec: ObjectSpec) -> float:
    """Largest gap between size_m/2 and the compiled geoms' extent, in the body frame."""
    import mujoco  # here: a2_grasping.sim must set MUJOCO_GL before mujoco is first imported

    body, geoms = _object_geoms(cell, spec)
    model, data = cell.model, cell.data
    body_r, body_t = data.xmat[body].reshape(3, 3), data.xpos[body]
    low, high = np.full(3, np.inf), np.full(3, -np.inf)
    for g in geoms:
        rotation = body_r.T @ data.geom_xmat[g].reshape(3, 3)
        centre = body_r.T @ (data.geom_xpos[g] - body_t)
        size = model.geom_size[g]
        kind = model.geom_type[g]
        axis = np.abs(rotation[:, 2])
        if kind == mujoco.mjtGeom.mjGEOM_BOX:
            half = np.abs(rotation) @ size
        elif kind == mujoco.mjtGeom.mjGEOM_SPHERE:
            half = np.full(3, size[0])
        elif kind == mujoco.mjtGeom.mjGEOM_ELLIPSOID:
            half = np.sqrt(((rotation * size) ** 2).sum(axis=1))
        elif kind == mujoco.mjtGeom.mjGEOM_CAPSULE:
            half = size[1] * axis + size[0]
        else:
            assert kind == mujoco.mjtGeom.mjGEOM_CYLINDER
            half = size[1] * axis + size[0] * np.sqrt(np.clip(1.0 - axis**2, 0.0, 1.0))
        low, high = np.minimum(low, centre - half), np.maximum(high, centre + half)
    half_size = 0.5 * np.asarray(spec.size_m)
    return float(max(np.abs(high - half_size).max(), np.abs(low + half_size).max()))


def _hit_m(cell: SimCell, body: int, start: np.ndarray, direction: np.ndarray) -> float:
    """Distance along a ray to the first surface of `body`, passing other bodies' geoms."""
    import mujoco

    geom = np.zeros(1, dtype=np.int32)
    travelled = 0.0
    while True:
        distance = mujoco.mj_ray(
            cell.model, cell.data, start + travelled * direction, direction, None, 1, -1, geom
        )
        assert distance >= 0.0, "the ray missed the object"
        if cell.model.geom_bodyid[geom[0]] == body:
            return travelled + distance
        travelled += distance + 1e-4


def _span_m(
    cell: SimCell, body: int, centre: np.ndarray, direction: np.ndarray, reach: float = 0.2
) -> float:
    """Outer width of the body along a line: what fingers closing along it from `reach` either
    side of `centre` would touch."""
    direction = direction / np.linalg.norm(direction)
    a = _hit_m(cell, body, centre - reach * direction, direction)
    b = _hit_m(cell, body, centre + reach * direction, -direction)
    return 2.0 * reach - a - b


def _grasp(spec: ObjectSpec, pose: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Pinch point and horizontal closing axis (base frame) of a kind's graspable section.

    household.py's part order: parts[0] is the bottom disk (mug, bowl: on the axis), the body
    (bottle), the handle (tools), the apple's ellipsoid; a mug's parts[1] is the wall box on the
    handle side; a banana's first BANANA_SEGMENTS capsules run along its arc.
    """
    rotation, origin = pose[:3, :3], pose[:3, 3]
    top = 0.5 * spec.size_m[2]
    axis = np.array(spec.parts[0].position_m)
    y = rotation[:, 1]
    if spec.noun == "mug":
        if where == "body":  # across the body, beside the handle, 2 cm below the rim
            return origin + rotation @ np.r_[axis[:2], top - 0.02], y
        wall = np.linalg.norm(np.array(spec.parts[1].position_m[:2]) - axis[:2])
        return origin + rotation @ np.r_[axis[0], axis[1] - wall, top - 0.012], y
    if spec.noun == "bowl":  # the rim's middle surface, 8 mm below its top
        rim = 0.5 * spec.size_m[0] - 0.0045
        return origin + rotation @ np.r_[axis[0], axis[1] - rim, top - 0.008], y
    if spec.noun == "bottle":
        return origin + rotation @ np.r_[axis[:2], top - 0.010], y
    if spec.noun == "banana":
        middle = spec.parts[BANANA_SEGMENTS // 2]
        along = quat_to_matrix(middle.quat_wxyz)[:, 2]
        point = origin + rotation @ np.asarray(middle.position_m)
        point[2] = max(point[2], 0.022)  # fingertips reach below the pinch as they close
        return point, rotation @ np.cross([0.0, 0.0, 1.0], along)
    point = origin + rotation @ axis  # tools' handles, the apple's middle
    point[2] = max(point[2], 0.022)
    return point, y


def _widths_m(cell: SimCell, spec: ObjectSpec, pose: np.ndarray) -> dict[str, float]:
    """Graspable widths measured with rays (metres), by where the fingers close."""
    body, _ = _object_geoms(cell, spec)
    if spec.noun == "bowl":
        point, closing = _grasp(spec, pose, "rim wall")
        return {"rim wall": _span_m(cell, body, point, closing, reach=0.02)}  # from inside
    if spec.noun == "mug":
        point, closing = _grasp(spec, pose, "body")
        return {"body": _span_m(cell, body, point, closing)}
    if spec.noun == "bottle":
        cap, closing = _grasp(spec, pose, "cap")
        body_point = cap.copy()
        body_point[2] = 0.3 * spec.size_m[2]
        return {
            "body": _span_m(cell, body, body_point, closing),
            "cap": _span_m(cell, body, cap, closing),
        }
    # across a tool's handle, the banana's middle, the apple's widest section
    _, closing = _grasp(spec, pose, "middle")
    part = spec.parts[BANANA_SEGMENTS // 2 if spec.noun == "banana" else 0]
    point = pose[:3, :3] @ np.asarray(part.position_m) + pose[:3, 3]
    where = "handle" if spec.noun in ("screwdriver", "spatula") else "middle"
    return {where: _span_m(cell, body, point, closing)}


def _bottom_and_rim_m(cell: SimCell, spec: ObjectSpec, pose: np.ndarray) -> tuple[float, float]:
    """Heights above the table where rays straight down meet the object: on the axis (the
    bottom) and through the wall's middle surface (the rim)."""
    body, _ = _object_geoms(cell, spec)
    down = np.array([0.0, 0.0, -1.0])
    above = 0.3
    axis = pose[:3, :3] @ np.asarray(spec.parts[0].position_m) + pose[:3, 3]
    bottom = above - _hit_m(cell, body, np.r_[axis[:2], above], down)
    rim_point, _ = _grasp(spec, pose, "wall" if spec.noun == "mug" else "rim wall")
    rim = above - _hit_m(cell, body, np.r_[rim_point[:2], above], down)
    return bottom, rim


def _objects_touching(cell: SimCell) -> list[tuple[str, str]]:
    """Pairs of objects in contact (compound parts of one object never collide)."""
    model, data = cell.model, cell.data
    pairs = []
    for contact in data.contact[: data.ncon]:
        bodies = sorted(
            model.body(int(model.geom_bodyid[g])).name for g in (contact.geom1, contact.geom2)
        )
        if all(b.startswith("object/") for b in bodies):
            pairs.append((bodies[0], bodies[1]))
    return pairs
