"""Instructions written from the simulator's ground truth (pure Python: no ROS, no MuJoCo).

The language benchmark's episodes: per seeded scene, one instruction from a template - colour,
shape, colour + shape, size superlative, spatial superlative, relation to another object - that
names its targets unambiguously under grounding's semantics, with margins well above grounding's
own (`plan_episode`). The demo and the selection benchmarks use the same episodes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

TEMPLATES = ("color", "shape", "color_shape", "size", "spatial", "relation")
# Household objects (mugs, bananas) have no shape word grounding knows: they are named by colour,
# size and position only ("the red object", "the biggest object", "the leftmost object").
HOUSEHOLD_TEMPLATES = ("color", "size", "spatial")
# Grounding's shape classes; a scene's other shapes (compound household objects) get no noun.
GROUNDED_SHAPES = ("box", "cylinder", "sphere")
# Ground-truth margins an instruction needs before it is used: well above grounding's own (1.2x,
# 3 cm), so perception noise (a partly seen object's box, a centroid a centimetre off) cannot
# turn a decided superlative into a tie or the other way round.
SIZE_RATIO_MARGIN = 1.4
POSITION_MARGIN_M = 0.05
# Relations by side ("left of the X"): the target at least POSITION_MARGIN_M on that side, every
# other fitting object at most this far onto it (grounding counts an object as on a side beyond
# 2 cm), so exactly one object is on the side under any reading.
SIDE_CLEAR_M = -0.01
# "next to": the nearest fitting object at most this far from the reference (centre to centre).
NEXT_TO_MAX_M = 0.15
VERBS = ("pick", "pick up", "grasp", "grab", "give me", "get")


@dataclass(frozen=True)
class TruthObject:
    """An object as the simulator spawns it (ground truth; the pipeline never sees it)."""

    name: str
    color: str
    shape: str  # grounding's shape class: box, cylinder, sphere
    noun: str  # cube, block, cylinder, ball
    size_m: tuple[float, float, float]
    x_m: float
    y_m: float
    yaw_rad: float = 0.0

    @property
    def volume_m3(self) -> float:
        """Of the bounding box, as grounding measures size."""
        return self.size_m[0] * self.size_m[1] * self.size_m[2]

    @property
    def height_m(self) -> float:
        return self.size_m[2]

    @property
    def distance_m(self) -> float:
        """Horizontal distance from the robot base (grounding's nearest / farthest)."""
        return math.hypot(self.x_m, self.y_m)


def truth_objects(seed: int, scene: str) -> tuple[TruthObject, ...]:
    """The objects of a seeded scene where they spawn (they rest there: spawned on the table)."""
    from a2_grasping.sim.objects import generate_objects

    return tuple(
        TruthObject(
            name=o.name,
            color=o.color,
            shape=o.shape.value,
            noun=o.noun,
            size_m=o.size_m,
            x_m=o.position_m[0],
            y_m=o.position_m[1],
            yaw_rad=o.yaw_rad,
        )
        for o in generate_objects(seed, scene)
    )


@dataclass(frozen=True)
class LanguageEpisode:
    seed: int
    scene: str
    template: str
    instruction: str
    targets: tuple[str, ...]  # lifting any one of them is a success
    reference: str = ""  # the object a relation refers to
    preferred_template: str = ""  # the template the rotation asked for (skipped when different)


_Filter = tuple[str | None, str | None]  # (colour, shape class); None: any
_Option = tuple[str, tuple[TruthObject, ...], str]  # (noun phrase, targets, reference name)


def _members(objects: Sequence[TruthObject], wanted: _Filter) -> list[TruthObject]:
    color, shape = wanted
    return [
        o
        for o in objects
        if (color is None or o.color == color) and (shape is None or o.shape == shape)
    ]


def _phrase(wanted: _Filter, members: Sequence[TruthObject]) -> str:
    """ "red cube", "ball", "object": what a sentence calls the members of a filter."""
    color, shape = wanted
    if shape is None:
        noun = "object"
    elif shape == "box":
        nouns = {o.noun for o in members}
        noun = nouns.pop() if len(nouns) == 1 else "box"
    else:
        noun = {"cylinder": "cylinder", "sphere": "ball"}[shape]
    return f"{color} {noun}" if color else noun


def _filters(objects: Sequence[TruthObject]) -> list[_Filter]:
    colors = sorted({o.color for o in objects})
    shapes = sorted({o.shape for o in objects if o.shape in GROUNDED_SHAPES})
    return [
        (None, None),
        *((c, None) for c in colors),
        *((None, s) for s in shapes),
        *((c, s) for c in colors for s in shapes if _members(objects, (c, s))),
    ]


def _naming_options(
    objects: Sequence[TruthObject], filters: Sequence[_Filter], rng: random.Random
) -> list[_Option]:
    """Colour / shape / colour + shape: "the red cube" when one fits, "a red cube" otherwise."""
    options = []
    for wanted in filters:
        members = _members(objects, wanted)
        if not members:
            continue
        phrase = _phrase(wanted, members)
        if len(members) == 1:
            options += [(f"the {phrase}", tuple(members), "")] * 2  # one object: twice as likely
        else:
            article = rng.choice(("an" if phrase[0] in "aeiou" else "a", "any"))
            options.append((f"{article} {phrase}", tuple(members), ""))
    return options


_SIZE_KEYS: dict[str, tuple[Callable[[TruthObject], float], tuple[str, ...]]] = {
    "largest": (lambda o: o.volume_m3, ("biggest", "largest")),
    "smallest": (lambda o: 1.0 / o.volume_m3, ("smallest",)),
    "tallest": (lambda o: o.height_m, ("tallest",)),
    "shortest": (lambda o: 1.0 / o.height_m, ("shortest",)),
}
# selector -> (key to maximise, phrasings of "the {phrase}")
_SPATIAL_KEYS: dict[str, tuple[Callable[[TruthObject], float], tuple[str, ...]]] = {
    "leftmost": (lambda o: o.y_m, ("the leftmost {}", "the {} on the left")),
    "rightmost": (lambda o: -o.y_m, ("the rightmost {}", "the {} on the right")),
    "frontmost": (lambda o: -o.x_m, ("the front {}", "the {} in front")),
    "backmost": (lambda o: o.x_m, ("the back {}", "the {} at the back")),
    "nearest": (lambda o: -o.distance_m, ("the nearest {}", "the closest {}")),
    "farthest": (lambda o: o.distance_m, ("the farthest {}", "the furthest {}")),
}


def _superlative_options(
    objects: Sequence[TruthObject], kind: str, rng: random.Random
) -> list[_Option]:
    options = []
    for wanted in _filters(objects):
        members = _members(objects, wanted)
        if len(members) < 2:
            continue
        phrase = _phrase(wanted, members)
        if kind == "size":
            for key, words in _SIZE_KEYS.values():
                ranked = sorted(members, key=key, reverse=True)
                if key(ranked[0]) >= SIZE_RATIO_MARGIN * key(ranked[1]):
                    options.append((f"the {rng.choice(words)} {phrase}", (ranked[0],), ""))
        else:
            for key, patterns in _SPATIAL_KEYS.values():
                ranked = sorted(members, key=key, reverse=True)
                if key(ranked[0]) - key(ranked[1]) >= POSITION_MARGIN_M:
                    options.append((rng.choice(patterns).format(phrase), (ranked[0],), ""))
    return options


# relation -> (offset of an object on the relation's side of the reference, phrasings)
_SIDES: dict[str, tuple[Callable[[TruthObject, TruthObject], float], tuple[str, ...]]] = {
    "left of": (lambda o, r: o.y_m - r.y_m, ("to the left of", "left of")),
    "right of": (lambda o, r: r.y_m - o.y_m, ("to the right of", "right of")),
    "in front of": (lambda o, r: r.x_m - o.x_m, ("in front of",)),
    "behind": (lambda o, r: o.x_m - r.x_m, ("behind",)),
}


def _relation_options(objects: Sequence[TruthObject], rng: random.Random) -> list[_Option]:
    options = []
    for reference in objects:
        if len(_members(objects, (reference.color, reference.shape))) != 1:
            continue  # the reference must be named uniquely: "the blue ball"
        reference_phrase = f"the {reference.color} {reference.noun}"
        others = [o for o in objects if o is not reference]
        for wanted in _filters(others):
            members = _members(others, wanted)
            if len(members) < 2:
                continue  # one fitting object needs no relation
            phrase = _phrase(wanted, members)
            by_gap = sorted(
                members, key=lambda o: math.dist((o.x_m, o.y_m), (reference.x_m, reference.y_m))
            )
            gaps = [math.dist((o.x_m, o.y_m), (reference.x_m, reference.y_m)) for o in by_gap]
            if gaps[0] <= NEXT_TO_MAX_M and gaps[1] - gaps[0] >= POSITION_MARGIN_M:
                word = rng.choice(("next to", "beside", "near"))
                options.append(
                    (f"the {phrase} {word} {reference_phrase}", (by_gap[0],), reference.name)
                )
            for offset, words in _SIDES.values():
                on_side = [o for o in members if offset(o, reference) >= POSITION_MARGIN_M]
                unclear = [
                    o for o in members if SIDE_CLEAR_M < offset(o, reference) < POSITION_MARGIN_M
                ]
                if len(on_side) == 1 and not unclear:
                    options.append(
                        (
                            f"the {phrase} {rng.choice(words)} {reference_phrase}",
                            (on_side[0],),
                            reference.name,
                        )
                    )
    return options


def template_options(
    objects: Sequence[TruthObject], template: str, rng: random.Random
) -> list[_Option]:
    """Every instruction (noun phrase, targets, reference) a template can make for a scene."""
    if template == "color":
        return _naming_options(
            objects, [(c, None) for c in sorted({o.color for o in objects})], rng
        )
    if template == "shape":
        return _naming_options(
            objects, [(None, s) for s in sorted({o.shape for o in objects})], rng
        )
    if template == "color_shape":
        filters = sorted({(o.color, o.shape) for o in objects})
        return _naming_options(objects, list(filters), rng)
    if template in ("size", "spatial"):
        return _superlative_options(objects, template, rng)
    if template == "relation":
        return _relation_options(objects, rng)
    raise ValueError(f"unknown template {template!r}; templates: {', '.join(TEMPLATES)}")


def plan_episode(seed: int, scene: str, preferred: str) -> LanguageEpisode | None:
    """The episode of `seed`: an instruction of template `preferred`, or of the next template
    (in TEMPLATES order) when the scene allows none with the margins; None: no template fits.

    Deterministic: the same arguments give the same instruction.
    """
    objects = truth_objects(seed, scene)
    templates = HOUSEHOLD_TEMPLATES if scene == "household" else TEMPLATES
    if preferred not in templates:
        return None
    start = templates.index(preferred)
    for template in templates[start:] + templates[:start]:
        rng = random.Random(f"{seed}/{template}")
        options = template_options(objects, template, rng)
        if not options:
            continue
        phrase, targets, reference = rng.choice(options)
        return LanguageEpisode(
            seed=seed,
            scene=scene,
            template=template,
            instruction=f"{rng.choice(VERBS)} {phrase}",
            targets=tuple(o.name for o in targets),
            reference=reference,
            preferred_template=preferred,
        )
    return None


def plan_episodes(first_seed: int, count: int, scene: str) -> list[LanguageEpisode]:
    """`count` episodes on seeds first_seed, first_seed + 1, ...; templates in rotation."""
    episodes = []
    seed = first_seed
    templates = HOUSEHOLD_TEMPLATES if scene == "household" else TEMPLATES
    while len(episodes) < count:
        episode = plan_episode(seed, scene, templates[len(episodes) % len(templates)])
        if episode is not None:
            episodes.append(episode)
        seed += 1
    return episodes


def truth_scene_objects(objects: Sequence[TruthObject]) -> tuple[Any, ...]:
    """Ground truth as grounding's SceneObjects (true colour name, shape class, box, position):
    `core.selection.grounding.ground` on them says which object an instruction names, free of
    perception."""
    import numpy as np

    from a2_grasping.core.selection.colors import rgb_to_lab
    from a2_grasping.core.selection.objects import SceneObject, ShapeClass
    from a2_grasping.sim.objects import COLORS

    described = []
    for index, o in enumerate(objects):
        length, width = max(o.size_m[:2]), min(o.size_m[:2])
        yaw = o.yaw_rad + (0.0 if o.size_m[0] >= o.size_m[1] else 0.5 * math.pi)
        described.append(
            SceneObject(
                index=index,
                point_indices=np.zeros(0, dtype=np.intp),
                centroid_m=np.array([o.x_m, o.y_m, 0.5 * o.size_m[2]]),
                extents_m=np.array([length, width, o.size_m[2]]),
                yaw_rad=yaw % math.pi,
                color_lab=rgb_to_lab(np.array(COLORS[o.color])),
                color_name=o.color,
                shape=ShapeClass(o.shape),
                shape_residual=0.0,
            )
        )
    return tuple(described)


def named_by_truth(instruction: str, objects: Sequence[TruthObject]) -> tuple[str, ...]:
    """Names of the objects `instruction` names when grounded on ground truth.

    Raises:
        SelectionError: the instruction names nothing, or is ambiguous, on the true scene.
    """
    from a2_grasping.core.selection.grounding import ground, parse_instruction

    described = truth_scene_objects(objects)
    grounding = ground(parse_instruction(instruction), described)
    return tuple(objects[t.index].name for t in grounding.targets)
