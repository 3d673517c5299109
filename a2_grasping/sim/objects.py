"""Seeded tabletop scenes: primitives a sentence can name ("red cube", "blue cylinder") and
household objects ("red mug", "blue banana").

Pure numpy, so scene descriptions can be generated, compared and scored without MuJoCo. Every
object fits the Robotiq 2F-85: at least one horizontal width lies in the graspable range
(GRASPABLE_WIDTH_M; a bowl is held by pinching its rim wall instead), and objects stand high
enough for the finger pads to reach below their top.

Scene kinds:
- `single`: one object.
- `clutter`: 5-8 objects, colours unique within a scene (there are as many colours as the
  largest clutter), so "the red one" is never ambiguous.
- `language`: a cell where language matters (issue 14, A2's test cases): 6-15 objects, colours
  drawn from a small per-scene palette so colours repeat ("the red ball" vs "the red cube" needs
  the shape, "the left red cube" needs space), close hues (red, orange, yellow, pink) drawn twice
  as often as the others, and every object in one of two size modes (SIZE_MODES) whose volumes
  differ by at least 1.4x, so "big" and "small" can decide. Repeated descriptions get a number
  in their name ("red cube", "red cube 2"): names stay unique (they name MuJoCo bodies), while
  `color`, `noun` and `shape` keep what a sentence can say about the object.
- `place`: one or two receptacles (a plate, a tray) fixed to the table and 3-6 objects.
- `household`: 4-6 things of a kitchen table, as A2's YCB test scenes hold (sim/household.py):
  mugs, bowls, bottles, tools (screwdriver, spatula) and fruit (banana, apple), each a
  `Shape.COMPOUND` of convex parts (`PartSpec`), since MuJoCo collides every geom as a convex
  shape: concave, thin-walled, with handles, curved. Colours unique within a scene.
Objects of every kind keep CLUTTER_GAP_M between their footprints, so each has a collision-free
grasp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

# Where objects spawn (object centres), in the base frame; the table top is z = 0.
SPAWN_X_M = (0.35, 0.65)
SPAWN_Y_M = (-0.25, 0.25)
# The 2F-85 opens to 85 mm; objects are this wide across at least one grasp direction.
GRASPABLE_WIDTH_M = (0.020, 0.070)
CLUTTER_COUNT = (5, 8)
LANGUAGE_COUNT = (6, 15)
# Free space kept between the footprints of two objects: room for a finger (12 mm) and its
# opening margin, so every object in clutter has at least one collision-free grasp.
CLUTTER_GAP_M = 0.03
DENSITY_KG_M3 = 500.0  # wood / plastic: light enough for the 2F-85's friction grip
PLACEMENT_ATTEMPTS = 200

# Named colours (sRGB 0..1). Saturated and far apart in hue, so a colour word picks one object.
COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.10, 0.10),
    "green": (0.10, 0.65, 0.15),
    "blue": (0.10, 0.25, 0.85),
    "yellow": (0.95, 0.85, 0.10),
    "orange": (0.95, 0.50, 0.05),
    "purple": (0.55, 0.15, 0.70),
    "cyan": (0.10, 0.80, 0.85),
    "pink": (0.95, 0.45, 0.70),
}


class Shape(StrEnum):
    BOX = "box"
    CYLINDER = "cylinder"
    SPHERE = "sphere"
    COMPOUND = "compound"  # several convex parts (ObjectSpec.parts): household objects


# The shapes primitive scenes draw from (in this order: seeded scenes depend on it).
PRIMITIVES = (Shape.BOX, Shape.CYLINDER, Shape.SPHERE)


class SceneKind(StrEnum):
    SINGLE = "single"
    CLUTTER = "clutter"
    LANGUAGE = "language"
    PLACE = "place"
    HOUSEHOLD = "household"


class SizeMode(StrEnum):
    SMALL = "small"
    LARGE = "large"


# Language scenes: size ranges per mode (metres). The smallest large-mode object's box volume is
# at least 1.4x the largest small-mode one's (1.11e-4 vs 7.1e-5 m^3), so "the big one" is decided
# by more than grounding's 20 % margin whenever the modes differ.
SIZE_MODES: dict[SizeMode, dict[str, tuple[float, float]]] = {
    SizeMode.SMALL: {
        "grip": (0.025, 0.034),  # cube side, block and cylinder width
        "block_length": (0.042, 0.060),
        "block_height": (0.025, 0.035),
        "cylinder_height": (0.030, 0.045),
        "ball": (0.035, 0.040),  # smaller balls sit below the finger pads' reach
    },
    SizeMode.LARGE: {
        "grip": (0.048, 0.062),
        "block_length": (0.070, 0.110),
        "block_height": (0.050, 0.080),
        "cylinder_height": (0.060, 0.090),
        "ball": (0.055, 0.065),
    },
}
LANGUAGE_LARGE_SHARE = 0.4
# Close hues, drawn with twice the weight of the others into a language scene's palette.
CLOSE_HUES = ("red", "orange", "yellow", "pink")
LANGUAGE_PALETTE_SIZE = (2, 5)
# Place scenes: receptacles (fixed: a placed object must not push them away) and objects.
PLATE_DIAMETER_M = (0.13, 0.16)
TRAY_SIZE_M = ((0.15, 0.18), (0.11, 0.13))
RECEPTACLE_HEIGHT_M = 0.015
PLACE_OBJECT_COUNT = (3, 6)


# MuJoCo geom types a compound object's parts may use: convex primitives, so each part collides
# exactly as it is drawn (a mesh would collide as its convex hull).
PART_GEOMS = ("box", "capsule", "cylinder", "sphere", "ellipsoid")


@dataclass(frozen=True)
class PartSpec:
    """One convex piece of a compound object, posed in the object frame (its bounding-box centre).

    Attributes:
        geom: MuJoCo geom type name, one of PART_GEOMS.
        size_m: MuJoCo's size parameters of that type (unused ones 0): box half extents;
            capsule and cylinder (radius, half length along the part's z, 0); sphere (radius, 0,
            0); ellipsoid (x, y, z radii).
        position_m: the part's centre in the object frame.
        quat_wxyz: the part's orientation in the object frame (MuJoCo's w, x, y, z order).
    """

    geom: str
    size_m: tuple[float, float, float]
    position_m: tuple[float, float, float]
    quat_wxyz: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if self.geom not in PART_GEOMS:
            raise ValueError(f"part geom {self.geom!r}: expected one of {PART_GEOMS}")

    @property
    def volume_m3(self) -> float:
        """Solid volume: the object's mass is shared over its parts by this."""
        a, b, c = self.size_m
        if self.geom == "box":
            return 8.0 * a * b * c
        if self.geom == "cylinder":
            return math.pi * a * a * 2.0 * b
        if self.geom == "capsule":
            return math.pi * a * a * 2.0 * b + 4.0 / 3.0 * math.pi * a**3
        if self.geom == "sphere":
            return 4.0 / 3.0 * math.pi * a**3
        return 4.0 / 3.0 * math.pi * a * b * c

    def half_extents_m(self) -> NDArray[np.float64]:
        """Half extents of the part's axis-aligned bounding box in the object frame."""
        rotation = quat_to_matrix(self.quat_wxyz)
        a, b, c = self.size_m
        sizes: NDArray[np.float64] = np.array([a, b, c])
        if self.geom == "box":
            box: NDArray[np.float64] = np.abs(rotation) @ sizes
            return box
        if self.geom == "sphere":
            return np.full(3, a)
        if self.geom == "ellipsoid":
            ellipsoid: NDArray[np.float64] = np.sqrt(((rotation * sizes) ** 2).sum(axis=1))
            return ellipsoid
        axis = np.abs(rotation[:, 2])
        if self.geom == "capsule":
            return b * axis + a
        return b * axis + a * np.sqrt(np.clip(1.0 - axis**2, 0.0, 1.0))  # cylinder


def quat_to_matrix(quat_wxyz: tuple[float, float, float, float]) -> NDArray[np.float64]:
    """Rotation matrix of a unit quaternion in MuJoCo's (w, x, y, z) order."""
    w, x, y, z = quat_wxyz
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


@dataclass(frozen=True)
class ObjectSpec:
    """One object as spawned. Sizes are full extents in the object frame (metres).

    Attributes:
        name: what a sentence calls it, "<colour> <noun>", unique in its scene.
        shape: the MuJoCo primitive, or COMPOUND for an object made of `parts`.
        noun: "cube", "block" (elongated box), "cylinder" or "ball"; household objects: "mug",
            "bowl", "bottle", "screwdriver", "spatula", "banana" or "apple".
        color: colour name, a key of COLORS.
        size_m: (x, y, z) extents: box sides; cylinder (diameter, diameter, height); sphere
            (diameter,) * 3; compound: the parts' axis-aligned bounding box in the object frame.
        position_m: centre at spawn, base frame (resting on the table: z = half height); for a
            compound object the centre of its bounding box, which is the object frame's origin.
        yaw_rad: rotation about the base z axis at spawn.
        mass_kg: from the volume at a fixed density (compound: the parts' volumes summed).
        receptacle: a plate or tray fixed to the table: things are placed on it.
        parts: a compound object's convex pieces (empty for primitives).
    """

    name: str
    shape: Shape
    noun: str
    color: str
    size_m: tuple[float, float, float]
    position_m: tuple[float, float, float]
    yaw_rad: float
    mass_kg: float
    receptacle: bool = False
    parts: tuple[PartSpec, ...] = ()

    @property
    def rgba(self) -> tuple[float, float, float, float]:
        return (*COLORS[self.color], 1.0)

    @property
    def footprint_radius_m(self) -> float:
        """Radius of the circle around the centre that covers the object seen from above."""
        return 0.5 * math.hypot(self.size_m[0], self.size_m[1])


@dataclass(frozen=True)
class ObjectState:
    """Ground truth of one object during an episode (scoring only, never the pipeline)."""

    spec: ObjectSpec
    base_from_object: NDArray[np.float64]  # 4x4, the object's centre
    height_gain_m: float  # centre height above its resting height at the episode start


def generate_objects(seed: int, kind: SceneKind | str) -> tuple[ObjectSpec, ...]:
    """The objects of scene `kind` for `seed`; the same arguments always give the same scene.

    Raises:
        ValueError: for an unknown scene kind.
    """
    kind = SceneKind(kind)
    if kind is SceneKind.HOUSEHOLD:
        from a2_grasping.sim.household import household_objects  # it builds on this module

        return household_objects(seed)
    if kind is SceneKind.LANGUAGE:
        return _language_objects(seed)
    if kind is SceneKind.PLACE:
        return _place_objects(seed)
    rng = np.random.default_rng(seed)
    count = 1 if kind is SceneKind.SINGLE else int(rng.integers(*CLUTTER_COUNT, endpoint=True))
    colors = [str(c) for c in rng.permutation(list(COLORS))[:count]]
    placed: list[ObjectSpec] = []
    for color in colors:
        for _ in range(PLACEMENT_ATTEMPTS):
            candidate = _random_object(rng, color)
            if all(apart(candidate, other) for other in placed):
                placed.append(candidate)
                break
        # An object that finds no free spot after many attempts is left out: clutter keeps at
        # least CLUTTER_COUNT[0] objects in practice, and the result stays deterministic.
    return tuple(placed)


def _random_object(rng: np.random.Generator, color: str) -> ObjectSpec:
    low_w, high_w = GRASPABLE_WIDTH_M
    grip_w = float(rng.uniform(low_w + 0.005, high_w - 0.005))
    shape = Shape(str(rng.choice([s.value for s in PRIMITIVES], p=[0.5, 0.35, 0.15])))
    if shape is Shape.BOX:
        if rng.random() < 0.5:
            noun, size = "cube", (grip_w, grip_w, grip_w)
        else:
            long_w = float(rng.uniform(grip_w + 0.02, 0.11))
            size = (long_w, grip_w, float(rng.uniform(0.03, 0.08)))
            noun = "block"
        volume = size[0] * size[1] * size[2]
    elif shape is Shape.CYLINDER:
        noun, size = "cylinder", (grip_w, grip_w, float(rng.uniform(0.03, 0.09)))
        volume = math.pi * (0.5 * grip_w) ** 2 * size[2]
    else:
        diameter = max(grip_w, 0.035)  # smaller balls sit below the finger pads' reach
        noun, size = "ball", (diameter, diameter, diameter)
        volume = math.pi * diameter**3 / 6.0
    x = float(rng.uniform(*SPAWN_X_M))
    y = float(rng.uniform(*SPAWN_Y_M))
    yaw = float(rng.uniform(-math.pi, math.pi)) if shape is Shape.BOX else 0.0
    return ObjectSpec(
        name=f"{color} {noun}",
        shape=shape,
        noun=noun,
        color=color,
        size_m=(size[0], size[1], size[2]),
        position_m=(x, y, 0.5 * size[2]),
        yaw_rad=yaw,
        mass_kg=DENSITY_KG_M3 * volume,
    )


def _language_objects(seed: int) -> tuple[ObjectSpec, ...]:
    """A language scene: repeated colours from a per-scene palette, small and large objects.

    Large objects are placed first (they need the most room); one that finds no free spot is
    tried again in the small mode, and one that still finds none is left out (dense scenes keep
    fewer than drawn; deterministic either way).
    """
    rng = np.random.default_rng(seed)
    count = int(rng.integers(*LANGUAGE_COUNT, endpoint=True))
    names = list(COLORS)
    weights = np.array([2.0 if c in CLOSE_HUES else 1.0 for c in names])
    palette_size = int(rng.integers(*LANGUAGE_PALETTE_SIZE, endpoint=True))
    palette = [
        str(c) for c in rng.choice(names, palette_size, replace=False, p=weights / weights.sum())
    ]
    drawn = [
        (
            str(rng.choice(palette)),
            SizeMode.LARGE if rng.random() < LANGUAGE_LARGE_SHARE else SizeMode.SMALL,
        )
        for _ in range(count)
    ]
    drawn.sort(key=lambda item: item[1] is not SizeMode.LARGE)  # stable: large ones first
    placed: list[ObjectSpec] = []
    for color, mode in drawn:
        for try_mode in dict.fromkeys((mode, SizeMode.SMALL)):
            candidate = next(
                (
                    c
                    for c in (
                        _sized_object(rng, color, try_mode) for _ in range(PLACEMENT_ATTEMPTS)
                    )
                    if all(apart(c, other) for other in placed)
                ),
                None,
            )
            if candidate is not None:
                placed.append(candidate)
                break
    return _numbered(placed)


def _sized_object(rng: np.random.Generator, color: str, mode: SizeMode) -> ObjectSpec:
    ranges = SIZE_MODES[mode]
    shape = Shape(str(rng.choice([s.value for s in PRIMITIVES], p=[0.45, 0.35, 0.20])))
    grip_w = float(rng.uniform(*ranges["grip"]))
    if shape is Shape.BOX:
        if rng.random() < 0.5:
            noun, size = "cube", (grip_w, grip_w, grip_w)
        else:
            length = max(float(rng.uniform(*ranges["block_length"])), grip_w + 0.02)
            noun, size = "block", (length, grip_w, float(rng.uniform(*ranges["block_height"])))
        volume = size[0] * size[1] * size[2]
    elif shape is Shape.CYLINDER:
        noun, size = "cylinder", (grip_w, grip_w, float(rng.uniform(*ranges["cylinder_height"])))
        volume = math.pi * (0.5 * grip_w) ** 2 * size[2]
    else:
        diameter = float(rng.uniform(*ranges["ball"]))
        noun, size = "ball", (diameter, diameter, diameter)
        volume = math.pi * diameter**3 / 6.0
    x = float(rng.uniform(*SPAWN_X_M))
    y = float(rng.uniform(*SPAWN_Y_M))
    yaw = float(rng.uniform(-math.pi, math.pi)) if shape is Shape.BOX else 0.0
    return ObjectSpec(
        name=f"{color} {noun}",
        shape=shape,
        noun=noun,
        color=color,
        size_m=(size[0], size[1], size[2]),
        position_m=(x, y, 0.5 * size[2]),
        yaw_rad=yaw,
        mass_kg=DENSITY_KG_M3 * volume,
    )


def _place_objects(seed: int) -> tuple[ObjectSpec, ...]:
    """A place scene: one or two receptacles (a plate, a tray) and 3-6 graspable objects, every
    colour once, so "on the plate", "next to the blue ball" each name one object."""
    rng = np.random.default_rng(seed)
    colors = [str(c) for c in rng.permutation(list(COLORS))]
    kinds = ["plate", "tray"][: int(rng.integers(1, 2, endpoint=True))]
    rng.shuffle(kinds)
    placed: list[ObjectSpec] = []
    for noun in kinds:
        color = colors.pop()
        for _ in range(PLACEMENT_ATTEMPTS):
            candidate = _receptacle(rng, color, noun)
            if all(apart(candidate, other) for other in placed):
                placed.append(candidate)
                break
    for _ in range(int(rng.integers(*PLACE_OBJECT_COUNT, endpoint=True))):
        color = colors.pop()
        for _ in range(PLACEMENT_ATTEMPTS):
            candidate = _random_object(rng, color)
            if all(apart(candidate, other) for other in placed):
                placed.append(candidate)
                break
    return tuple(placed)


def _receptacle(rng: np.random.Generator, color: str, noun: str) -> ObjectSpec:
    """A flat plate (cylinder) or tray (box), RECEPTACLE_HEIGHT_M high, fixed to the table."""
    if noun == "plate":
        diameter = float(rng.uniform(*PLATE_DIAMETER_M))
        shape, size = Shape.CYLINDER, (diameter, diameter, RECEPTACLE_HEIGHT_M)
        yaw = 0.0
    else:
        length, width = (float(rng.uniform(*r)) for r in TRAY_SIZE_M)
        shape, size = Shape.BOX, (length, width, RECEPTACLE_HEIGHT_M)
        yaw = float(rng.uniform(-math.pi, math.pi))
    return ObjectSpec(
        name=f"{color} {noun}",
        shape=shape,
        noun=noun,
        color=color,
        size_m=size,
        position_m=(
            float(rng.uniform(*SPAWN_X_M)),
            float(rng.uniform(*SPAWN_Y_M)),
            0.5 * RECEPTACLE_HEIGHT_M,
        ),
        yaw_rad=yaw,
        mass_kg=1.0,
        receptacle=True,
    )


def _numbered(objects: list[ObjectSpec]) -> tuple[ObjectSpec, ...]:
    """Unique names: the second "red cube" becomes "red cube 2" (spawn order)."""
    seen: dict[str, int] = {}
    result = []
    for obj in objects:
        seen[obj.name] = seen.get(obj.name, 0) + 1
        number = seen[obj.name]
        result.append(replace(obj, name=f"{obj.name} {number}") if number > 1 else obj)
    return tuple(result)


def apart(a: ObjectSpec, b: ObjectSpec) -> bool:
    """The footprints of `a` and `b` keep CLUTTER_GAP_M between them."""
    distance = math.hypot(a.position_m[0] - b.position_m[0], a.position_m[1] - b.position_m[1])
    return distance >= a.footprint_radius_m + b.footprint_radius_m + CLUTTER_GAP_M


@dataclass(frozen=True)
class ObstacleSpec:
    """A static box fixed in the cell, axis-aligned in the base frame (planning tests).

    The pipeline learns about it only the way it would on a real cell: the cameras see it.
    """

    name: str
    center_m: tuple[float, float, float]
    size_m: tuple[float, float, float]  # full edge lengths along base x, y, z

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("obstacle name: must not be empty")
        for label, values in (("center_m", self.center_m), ("size_m", self.size_m)):
            if len(values) != 3 or not all(math.isfinite(v) for v in values):
                raise ValueError(f"obstacle '{self.name}' {label}: expected 3 finite numbers")
        if min(self.size_m) <= 0.0:
            raise ValueError(f"obstacle '{self.name}' size_m: every edge must be > 0")

    def overlaps_footprint(self, obj: ObjectSpec) -> bool:
        """True when the object's footprint circle (plus the clutter gap) touches the box."""
        nearest_x = min(
            max(obj.position_m[0], self.center_m[0] - 0.5 * self.size_m[0]),
            self.center_m[0] + 0.5 * self.size_m[0],
        )
        nearest_y = min(
            max(obj.position_m[1], self.center_m[1] - 0.5 * self.size_m[1]),
            self.center_m[1] + 0.5 * self.size_m[1],
        )
        distance = math.hypot(obj.position_m[0] - nearest_x, obj.position_m[1] - nearest_y)
        return distance < obj.footprint_radius_m + CLUTTER_GAP_M
