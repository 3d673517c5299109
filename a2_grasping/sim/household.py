"""Household objects for `household` scenes: mugs, bowls, bottles, tools and fruit.

A real table holds these rather than boxes and balls (A2's YCB test scenes), and they are what
segmentation, grasp generation and the after-lift checks get wrong: concave, thin-walled, with
handles, curved. MuJoCo collides every geom as a convex shape (a mesh as its convex hull: a mug
mesh would be a solid cylinder to the fingers), so each object here is a rigid compound of
convex primitives (`PartSpec`): a mug's wall is a ring of thin boxes, a bowl's wall two rings of
tilted boxes, a handle and a banana chains of capsules along an arc.

Each object is built in a frame with the table at z = 0, then shifted so the object frame is
the centre of the parts' bounding box (ObjectSpec's convention for every shape): `size_m` is
that box, `mass_kg` DENSITY_KG_M3 times the parts' summed volumes (overlaps counted twice: an
upper bound, still light enough for the 2F-85's friction grip).

What the 2F-85 closes on (graspable width, drawn per object from the ranges below):
- mug: across the body beside the handle (outer diameter 55-68 mm), or a pinch of the 3-5 mm
  wall; 70-95 mm high, open top, a 6 mm bottom, a handle loop on the object's +x side;
- bowl: a pinch of the rim wall (5-7 mm, the upper band 15 deg off vertical); 100-130 mm across,
  40-55 mm high: no other width fits the gripper;
- bottle: the body (45-65 mm) or the neck and cap (22-30 mm); 110-160 mm high;
- screwdriver: across its hexagonal handle (lying on a flat, 26-30 mm high: a round handle
  would roll; 30-35 mm across the corners a top-down grasp closes on), a round shaft in the
  air; spatula: across its round handle (25-30 mm), kept from rolling by the flat blade lying
  on the table;
- banana: across its 30-38 mm thickness, anywhere along the arc; apple: 60-70 mm across.
Tools and bananas lie flat, so they stand 25-38 mm high (the other kinds: at least 40 mm).

Part order, for scripted grasps on ground truth (tests): parts[0] is a mug's or bowl's bottom
disk (on its axis), a bottle's body, a tool's handle (a screwdriver's first handle box), an
apple's ellipsoid; a mug's parts[1] is the wall box on the handle side (object +x); a banana's
first BANANA_SEGMENTS parts are the capsules along its arc.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from a2_grasping.sim.objects import (
    COLORS,
    DENSITY_KG_M3,
    PLACEMENT_ATTEMPTS,
    SPAWN_X_M,
    SPAWN_Y_M,
    ObjectSpec,
    PartSpec,
    Shape,
    apart,
)

HOUSEHOLD_COUNT = (4, 6)
# Kinds drawn with equal weight; listed roomiest first, the order in which a scene places them.
HOUSEHOLD_KINDS = ("bowl", "banana", "tool", "mug", "bottle", "apple")

MUG_DIAMETER_M = (0.055, 0.068)
MUG_WALL_M = (0.003, 0.005)
MUG_HEIGHT_M = (0.070, 0.095)
MUG_BOTTOM_M = 0.006
MUG_FOOT_M = 0.001  # the wall stops this far above the table: the mug stands on its bottom disk
MUG_SEGMENTS = 20  # boxes around the wall
MUG_HANDLE_REACH_M = (0.018, 0.026)  # how far the loop stands out from the wall
MUG_HANDLE_RADIUS_M = (0.004, 0.0055)

BOWL_DIAMETER_M = (0.100, 0.130)
BOWL_HEIGHT_M = (0.040, 0.055)
BOWL_WALL_M = (0.005, 0.007)
BOWL_FOOT_SHARE = (0.40, 0.50)  # bottom disk radius / bowl radius
BOWL_RIM_SHARE = 0.45  # the near-vertical rim band's share of the height
BOWL_RIM_TILT_RAD = math.radians(15.0)
BOWL_SEGMENTS = 20  # boxes around each band

BOTTLE_DIAMETER_M = (0.045, 0.065)
BOTTLE_HEIGHT_M = (0.110, 0.160)
BOTTLE_CAP_RADIUS_M = (0.0125, 0.015)
BOTTLE_CAP_HEIGHT_M = (0.012, 0.018)
BOTTLE_NECK_HEIGHT_M = (0.015, 0.025)
BOTTLE_SHOULDER_HEIGHT_M = (0.018, 0.028)

SCREWDRIVER_FLATS_M = (0.026, 0.030)  # hexagonal handle, across flats
SCREWDRIVER_HANDLE_M = (0.080, 0.105)
SCREWDRIVER_SHAFT_RADIUS_M = (0.0025, 0.0035)
SCREWDRIVER_SHAFT_M = (0.060, 0.090)
SPATULA_HANDLE_DIAMETER_M = (0.025, 0.030)
SPATULA_HANDLE_M = (0.090, 0.120)
SPATULA_BLADE_M = ((0.050, 0.070), (0.045, 0.060))  # length, width
SPATULA_BLADE_THICKNESS_M = 0.003

BANANA_THICKNESS_M = (0.030, 0.038)
BANANA_LENGTH_M = (0.140, 0.180)  # along the arc
BANANA_ARC_RADIUS_M = (0.100, 0.130)
BANANA_SEGMENTS = 5

APPLE_DIAMETER_M = (0.060, 0.070)
APPLE_FLATTENING = (0.85, 0.95)  # height / diameter
APPLE_FOOT_M = (0.011, 0.003)  # radius, height of the flat bottom it stands on

_Vec = tuple[float, float, float]
_Quat = tuple[float, float, float, float]


def household_objects(seed: int) -> tuple[ObjectSpec, ...]:
    """A household scene: 4-6 objects of HOUSEHOLD_KINDS, every colour once.

    The roomiest kinds are placed first; an object that finds no free spot in the spawn area is
    left out (deterministic either way).
    """
    rng = np.random.default_rng(seed)
    count = int(rng.integers(*HOUSEHOLD_COUNT, endpoint=True))
    colors = [str(c) for c in rng.permutation(list(COLORS))[:count]]
    kinds = sorted((str(k) for k in rng.choice(HOUSEHOLD_KINDS, count)), key=HOUSEHOLD_KINDS.index)
    placed: list[ObjectSpec] = []
    for kind, color in zip(kinds, colors, strict=True):
        shaped = household_object(rng, kind, color)
        for _ in range(PLACEMENT_ATTEMPTS):
            candidate = replace(
                shaped,
                position_m=(
                    float(rng.uniform(*SPAWN_X_M)),
                    float(rng.uniform(*SPAWN_Y_M)),
                    shaped.position_m[2],
                ),
            )
            if all(apart(candidate, other) for other in placed):
                placed.append(candidate)
                break
    return tuple(placed)


def household_object(rng: np.random.Generator, kind: str, color: str) -> ObjectSpec:
    """One object of `kind` (HOUSEHOLD_KINDS) at the base origin, resting on the table.

    Raises:
        ValueError: for an unknown kind.
    """
    builders = {
        "mug": _mug,
        "bowl": _bowl,
        "bottle": _bottle,
        "tool": _tool,
        "banana": _banana,
        "apple": _apple,
    }
    if kind not in builders:
        raise ValueError(f"household kind {kind!r}: expected one of {HOUSEHOLD_KINDS}")
    noun, parts = builders[kind](rng)
    low = np.min([np.asarray(p.position_m) - p.half_extents_m() for p in parts], axis=0)
    high = np.max([np.asarray(p.position_m) + p.half_extents_m() for p in parts], axis=0)
    centre = 0.5 * (low + high)
    size = high - low
    return ObjectSpec(
        name=f"{color} {noun}",
        shape=Shape.COMPOUND,
        noun=noun,
        color=color,
        size_m=(float(size[0]), float(size[1]), float(size[2])),
        position_m=(0.0, 0.0, float(centre[2] - low[2])),
        yaw_rad=float(rng.uniform(-math.pi, math.pi)),
        mass_kg=DENSITY_KG_M3 * sum(p.volume_m3 for p in parts),
        parts=tuple(replace(p, position_m=_vec(np.asarray(p.position_m) - centre)) for p in parts),
    )


# ---- the kinds (each in a frame with the table at z = 0) ----


def _mug(rng: np.random.Generator) -> tuple[str, list[PartSpec]]:
    """Bottom disk, a ring of wall boxes closed on the outside, a handle loop towards +x.

    The mug stands on its bottom disk (a few contacts, as a real mug's foot ring) rather than on
    every wall box (four contacts each)."""
    radius = 0.5 * float(rng.uniform(*MUG_DIAMETER_M))
    wall = float(rng.uniform(*MUG_WALL_M))
    height = float(rng.uniform(*MUG_HEIGHT_M))
    mid = radius - 0.5 * wall  # the wall's middle surface
    parts = [PartSpec("cylinder", (mid, 0.5 * MUG_BOTTOM_M, 0.0), (0.0, 0.0, 0.5 * MUG_BOTTOM_M))]
    half_chord = radius * math.tan(math.pi / MUG_SEGMENTS)
    parts += _ring(mid, 0.5 * wall, half_chord, height - MUG_FOOT_M, MUG_FOOT_M)
    # Handle: half an ellipse from 80 % down to 30 % of the height, leaving the wall level; its
    # ends sit in the wall, their round caps 0.5 mm short of the inner surface.
    reach = float(rng.uniform(*MUG_HANDLE_REACH_M))
    thickness = float(rng.uniform(*MUG_HANDLE_RADIUS_M))
    base = radius - wall + thickness + 0.0005
    top, bottom = 0.8 * height, 0.3 * height
    angles = np.linspace(0.5 * math.pi, -0.5 * math.pi, 7)
    loop = [
        (base + reach * math.cos(a), 0.0, 0.5 * (top + bottom) + 0.5 * (top - bottom) * math.sin(a))
        for a in angles
    ]
    parts += [_segment("capsule", p, q, thickness) for p, q in itertools.pairwise(loop)]
    return "mug", parts


def _ring(
    mid_radius_m: float, half_wall_m: float, half_chord_m: float, height_m: float, z_m: float
) -> list[PartSpec]:
    """A vertical cylindrical wall of MUG_SEGMENTS boxes whose outer corners meet."""
    parts = []
    for k in range(MUG_SEGMENTS):
        angle = 2.0 * math.pi * k / MUG_SEGMENTS
        parts.append(
            PartSpec(
                "box",
                (half_wall_m, half_chord_m, 0.5 * height_m),
                (
                    mid_radius_m * math.cos(angle),
                    mid_radius_m * math.sin(angle),
                    z_m + 0.5 * height_m,
                ),
                _about("z", angle),
            )
        )
    return parts


def _bowl(rng: np.random.Generator) -> tuple[str, list[PartSpec]]:
    """Bottom disk and two conical bands of tilted boxes: a wide lower one and a steep rim."""
    radius = 0.5 * float(rng.uniform(*BOWL_DIAMETER_M))
    height = float(rng.uniform(*BOWL_HEIGHT_M))
    wall = float(rng.uniform(*BOWL_WALL_M))
    foot = radius * float(rng.uniform(*BOWL_FOOT_SHARE))
    parts = [PartSpec("cylinder", (foot + 0.5 * wall, 0.5 * wall, 0.0), (0.0, 0.0, 0.5 * wall))]
    rim_height = BOWL_RIM_SHARE * height
    top = (radius - 0.5 * wall, height)  # (radius, z) of the wall's middle surface
    knee = (top[0] - rim_height * math.tan(BOWL_RIM_TILT_RAD), height - rim_height)
    parts += _band((foot, wall), knee, wall, extend=(0.5 * wall, 0.5 * wall))
    parts += _band(knee, top, wall, extend=(0.5 * wall, 0.0))
    return "bowl", parts


def _band(
    low: tuple[float, float], high: tuple[float, float], wall_m: float, extend: tuple[float, float]
) -> list[PartSpec]:
    """A conical wall between two (radius, z) points of its middle surface, BOWL_SEGMENTS boxes.

    Each box runs up the slant (its z), its thickness across the wall (x), its width around the
    axis (y) wide enough that neighbours meet on the outside; `extend` lengthens the boxes
    below and above so that bands overlap at their joint.
    """
    d_r, d_z = high[0] - low[0], high[1] - low[1]
    length = math.hypot(d_r, d_z)
    tilt = math.atan2(d_r, d_z)  # from vertical, outwards
    half_chord = (max(low[0], high[0]) + 0.5 * wall_m) * math.tan(math.pi / BOWL_SEGMENTS)
    half_length = 0.5 * (length + extend[0] + extend[1])
    along = 0.5 * (length + extend[1] - extend[0])  # box centre from `low`, along the slant
    centre_r = low[0] + along * math.sin(tilt)
    centre_z = low[1] + along * math.cos(tilt)
    parts = []
    for k in range(BOWL_SEGMENTS):
        angle = 2.0 * math.pi * k / BOWL_SEGMENTS
        parts.append(
            PartSpec(
                "box",
                (0.5 * wall_m, half_chord, half_length),
                (centre_r * math.cos(angle), centre_r * math.sin(angle), centre_z),
                _multiply(_about("z", angle), _about("y", tilt)),
            )
        )
    return parts


def _bottle(rng: np.random.Generator) -> tuple[str, list[PartSpec]]:
    """Body cylinder, a half-ellipsoid shoulder, a narrow neck and a slightly wider cap."""
    radius = 0.5 * float(rng.uniform(*BOTTLE_DIAMETER_M))
    height = float(rng.uniform(*BOTTLE_HEIGHT_M))
    cap_radius = float(rng.uniform(*BOTTLE_CAP_RADIUS_M))
    cap_height = float(rng.uniform(*BOTTLE_CAP_HEIGHT_M))
    neck_height = float(rng.uniform(*BOTTLE_NECK_HEIGHT_M))
    shoulder = float(rng.uniform(*BOTTLE_SHOULDER_HEIGHT_M))
    body = height - cap_height - neck_height - shoulder
    neck_top = height - cap_height
    return "bottle", [
        PartSpec("cylinder", (radius, 0.5 * body, 0.0), (0.0, 0.0, 0.5 * body)),
        PartSpec("ellipsoid", (radius, radius, shoulder), (0.0, 0.0, body)),
        _segment("cylinder", (0.0, 0.0, body), (0.0, 0.0, neck_top), cap_radius - 0.0015),
        _segment("cylinder", (0.0, 0.0, neck_top), (0.0, 0.0, height), cap_radius),
    ]


def _tool(rng: np.random.Generator) -> tuple[str, list[PartSpec]]:
    return _screwdriver(rng) if rng.random() < 0.5 else _spatula(rng)


def _screwdriver(rng: np.random.Generator) -> tuple[str, list[PartSpec]]:
    """Hexagonal handle along +x lying on a flat (three boxes 60 deg apart), a round shaft."""
    flats = float(rng.uniform(*SCREWDRIVER_FLATS_M))
    handle = float(rng.uniform(*SCREWDRIVER_HANDLE_M))
    shaft_radius = float(rng.uniform(*SCREWDRIVER_SHAFT_RADIUS_M))
    shaft = float(rng.uniform(*SCREWDRIVER_SHAFT_M))
    side = flats / math.sqrt(3.0)  # the hexagon's side (and corner radius)
    axis_z = 0.5 * flats
    parts = [
        PartSpec(
            "box",
            (0.5 * handle, 0.5 * side, 0.5 * flats),
            (0.5 * handle, 0.0, axis_z),
            _about("x", math.radians(60.0 * k)),
        )
        for k in range(3)
    ]
    ferrule_end = handle + 0.01
    tip_start = ferrule_end + shaft
    parts += [
        _segment("cylinder", (handle, 0.0, axis_z), (ferrule_end, 0.0, axis_z), 0.3 * flats),
        _segment("cylinder", (ferrule_end, 0.0, axis_z), (tip_start, 0.0, axis_z), shaft_radius),
        PartSpec(
            "box",
            (0.005, 1.5 * shaft_radius, 0.4 * shaft_radius),
            (tip_start + 0.005, 0.0, axis_z),
        ),
    ]
    return "screwdriver", parts


def _spatula(rng: np.random.Generator) -> tuple[str, list[PartSpec]]:
    """Round handle along +x on the table, a sloping neck and a flat blade on the table."""
    radius = 0.5 * float(rng.uniform(*SPATULA_HANDLE_DIAMETER_M))
    handle = float(rng.uniform(*SPATULA_HANDLE_M))
    blade_length, blade_width = (float(rng.uniform(*r)) for r in SPATULA_BLADE_M)
    half_t = 0.5 * SPATULA_BLADE_THICKNESS_M
    neck_end = handle + 0.025
    return "spatula", [
        _segment("cylinder", (0.0, 0.0, radius), (handle, 0.0, radius), radius),
        _segment("box", (handle - 0.005, 0.0, radius), (neck_end, 0.0, half_t), half_t, 0.006),
        PartSpec(
            "box",
            (0.5 * blade_length, 0.5 * blade_width, half_t),
            (neck_end - 0.003 + 0.5 * blade_length, 0.0, half_t),
        ),
    ]


def _banana(rng: np.random.Generator) -> tuple[str, list[PartSpec]]:
    """Capsules along an arc in the table plane (all touching it), a stem and a tip."""
    radius = 0.5 * float(rng.uniform(*BANANA_THICKNESS_M))
    arc_radius = float(rng.uniform(*BANANA_ARC_RADIUS_M))
    span = float(rng.uniform(*BANANA_LENGTH_M)) / arc_radius
    angles = np.linspace(-0.5 * span, 0.5 * span, BANANA_SEGMENTS + 1)
    arc = [(arc_radius * math.cos(a), arc_radius * math.sin(a), radius) for a in angles]
    parts = [_segment("capsule", p, q, radius) for p, q in itertools.pairwise(arc)]

    def beyond(angle_rad: float, sign: float, distance_m: float, rise_m: float) -> _Vec:
        """A point `distance_m` past an end of the arc along its tangent, `rise_m` higher."""
        tangent = (-math.sin(angle_rad) * sign, math.cos(angle_rad) * sign)
        end = (arc_radius * math.cos(angle_rad), arc_radius * math.sin(angle_rad))
        return (end[0] + distance_m * tangent[0], end[1] + distance_m * tangent[1], radius + rise_m)

    stem, tip = float(angles[-1]), float(angles[0])
    parts += [
        _segment("capsule", arc[-1], beyond(stem, 1.0, 0.018, 0.4 * radius), 0.3 * radius),
        _segment("capsule", arc[0], beyond(tip, -1.0, 0.006, 0.2 * radius), 0.5 * radius),
    ]
    return "banana", parts


def _apple(rng: np.random.Generator) -> tuple[str, list[PartSpec]]:
    """A flattened ellipsoid on a small flat bottom, and a short stem.

    On its pole alone (one contact point, no rolling friction) the ellipsoid rocks for seconds
    after it spawns; the flat bottom damps that as a real apple's base does."""
    radius = 0.5 * float(rng.uniform(*APPLE_DIAMETER_M))
    half_height = radius * float(rng.uniform(*APPLE_FLATTENING))
    foot_radius, foot_height = APPLE_FOOT_M
    lift = 0.001  # the ellipsoid's pole above the table: the foot's rim carries the apple
    top = lift + 2.0 * half_height
    return "apple", [
        PartSpec("ellipsoid", (radius, radius, half_height), (0.0, 0.0, lift + half_height)),
        PartSpec("cylinder", (foot_radius, 0.5 * foot_height, 0.0), (0.0, 0.0, 0.5 * foot_height)),
        _segment("capsule", (0.0, 0.0, top - 0.004), (0.0, 0.0, top + 0.008), 0.002),
    ]


# ---- geometry ----


def _segment(
    geom: str, start: _Vec, end: _Vec, radius_m: float, half_width_m: float = 0.0
) -> PartSpec:
    """A capsule or cylinder of `radius_m` from `start` to `end` (its z axis); a box: half
    extents (radius_m, half_width_m, half the length), its y axis kept horizontal."""
    start_a, end_a = np.asarray(start), np.asarray(end)
    direction = end_a - start_a
    length = float(np.linalg.norm(direction))
    return PartSpec(
        geom,
        (radius_m, half_width_m, 0.5 * length) if geom == "box" else (radius_m, 0.5 * length, 0.0),
        _vec(0.5 * (start_a + end_a)),
        _z_towards(direction / length),
    )


def _z_towards(direction: NDArray[np.float64]) -> _Quat:
    """The rotation turning +z onto the unit vector `direction`, about their common normal."""
    axis = np.array([-direction[1], direction[0], 0.0])  # z x direction
    norm = float(np.linalg.norm(axis))
    if norm < 1e-12:
        return (1.0, 0.0, 0.0, 0.0) if direction[2] > 0 else (0.0, 1.0, 0.0, 0.0)
    half = 0.5 * math.atan2(norm, float(direction[2]))
    x, y, _ = axis / norm * math.sin(half)
    return (math.cos(half), float(x), float(y), 0.0)


def _about(axis: str, angle_rad: float) -> _Quat:
    """Rotation by `angle_rad` about the x, y or z axis."""
    c, s = math.cos(0.5 * angle_rad), math.sin(0.5 * angle_rad)
    return {"x": (c, s, 0.0, 0.0), "y": (c, 0.0, s, 0.0), "z": (c, 0.0, 0.0, s)}[axis]


def _multiply(a: _Quat, b: _Quat) -> _Quat:
    """Hamilton product a * b: rotate by b, then by a."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    )


def _vec(values: NDArray[np.float64]) -> _Vec:
    return (float(values[0]), float(values[1]), float(values[2]))
