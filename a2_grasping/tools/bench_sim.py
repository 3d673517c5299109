"""Seeded pick episodes through the full pipeline: `a2-grasping bench sim --json OUT`.

Two protocols, both scored with the simulator's ground truth (an object is lifted when its centre
rises at least 5 cm above where it rested):

Any object (default; --scene single|clutter|household): each episode resets the cell (seed =
--seed + episode), waits for a scene of it and sends /pick ("pick an object") up to --attempts
times; an attempt succeeds when any object is lifted. Reported: `success_rate` (= first-attempt
success, also as `first_attempt_success_rate`), success within the attempts, attempts per picked
object, /pick durations split into select + plan and execution, and the real-time factor of the
simulator. Every grasp is one attempt of the protocol: the executor runs with
max_grasp_attempts 1 (its own retry would hide failed grasps inside one /pick).

Named targets (--task grasp --language), like A2's grasp protocol: seeded `language` scenes
(sim/objects.py: repeated colours, two size modes, up to 15 objects). Each episode has one
instruction from a template - colour, shape, colour + shape, size superlative, spatial
superlative, relation to another object - written from the scene's ground truth so that it names
its targets unambiguously under grounding's semantics, with margins well above grounding's own
(size 1.4x, positions 5 cm; `plan_episode`); a template that cannot be written for a scene with
those margins is skipped for the next one. An episode runs up to --steps /pick calls with the
same instruction: a lifted target ends it (success); a wrongly lifted object is counted (and
whether /pick reported WRONG_OBJECT for it), taken off the table (SimReset.removed_objects) and
the episode goes on; a step that lifts nothing restores the scene and goes on. An instruction
refused twice in a row by grounding (TARGET_NOT_FOUND, AMBIGUOUS_TARGET, INVALID_REQUEST: nothing
moved, the scene is restored identical) ends the episode as a failure. The same episodes run in
every --modes entry, one pipeline after the other (geometric: inference_node with
ground_instructions:=false, the instruction is ignored): the baseline in the same run. Reported
per mode and per template: `success_rate` (first attempt, as above), success within the steps,
mean steps of the successful episodes, wrong picks and how many /pick reported as WRONG_OBJECT.

Saves a plot and camera images of outcomes (language: of first-attempt failures, annotated with
the instruction, the targets and what was lifted) next to the JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from a2_grasping.tools.sensor_options import add_sensor_arguments, sensor_settings

LIFT_SUCCESS_M = 0.05
# Benchmarks count every grasp themselves (attempts, steps): the executor must not retry inside
# one goal. Shared with bench_place.
BENCH_EXECUTOR_ARGUMENTS = {"executor_node": ["-p", "max_grasp_attempts:=1"]}

# ---- instructions from ground truth (pure Python: no ROS, no MuJoCo) ----

TEMPLATES = ("color", "shape", "color_shape", "size", "spatial", "relation")
# Household objects (mugs, bananas) have no shape word grounding knows: they are named by colour,
# size and position only ("the red object", "the biggest object", "the leftmost object").
HOUSEHOLD_TEMPLATES = ("color", "size", "spatial")
# Grounding's shape classes; a scene's other shapes (compound household objects) get no noun.
GROUNDED_SHAPES = ("box", "cylinder", "sphere")
MODES = ("attributes", "geometric")
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
# Grounding refusals that depend on the scene only: repeated on an identical scene, they repeat.
_REFUSALS = {1: "INVALID_REQUEST", 11: "TARGET_NOT_FOUND", 12: "AMBIGUOUS_TARGET"}


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


# ---- the command ----


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument(
        "--scene",
        choices=("single", "clutter", "language", "place", "household"),
        default=None,
        help="scene kind (default: single; with --language: language)",
    )
    parser.add_argument("--seed", type=int, default=1000, help="seed of the first episode")
    parser.add_argument(
        "--attempts", type=int, default=2, help="attempts per episode (any-object protocol)"
    )
    parser.add_argument(
        "--task",
        choices=("grasp", "place", "pick_and_place"),
        default="grasp",
        help="A2's tasks: grasp; place and pick_and_place executed in place scenes "
        "(tools/bench_place.py)",
    )
    parser.add_argument(
        "--language",
        action="store_true",
        help="named targets: instructions from templates, scored on the named objects",
    )
    parser.add_argument("--steps", type=int, default=8, help="/pick calls per episode (language)")
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help="selection modes to run on the same episodes, in order (language): "
        "attributes, geometric",
    )
    parser.add_argument(
        "--failure-images", type=int, default=12, help="at most this many images per mode"
    )
    parser.add_argument("--domain-id", type=int, default=0, help="0: reserve a free one")
    add_sensor_arguments(parser, several=True)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = sensor_settings(args)
    if len(settings) == 1:
        args.sensor_setting = settings[0]
        return _run_reserved(args)
    return run_side_by_side(args, settings, _run_reserved)


def run_side_by_side(
    args: argparse.Namespace, settings: Sequence[Any], run_one: Callable[[Any], int]
) -> int:
    """Each sensor setting on the same seeds, one after the other; their JSONs side by side in
    --json (each also in its own file beside it)."""
    import copy

    combined: dict[str, Any] = {"sensor_settings": [s.describe() for s in settings]}
    results: dict[str, Any] = {}
    status = 0
    for setting in settings:
        one = copy.copy(args)
        one.sensor_setting = setting
        one.json = args.json.with_name(f"{args.json.stem}_{setting.profile}{args.json.suffix}")
        status = max(status, run_one(one))
        document = json.loads(one.json.read_text())
        document.pop("episodes", None)
        results[setting.profile] = document
    combined["by_sensor"] = results
    combined["side_by_side"] = {
        profile: {
            key: document.get(key)
            for key in (
                "success_rate",
                "first_attempt_success_rate",
                "success_rate_within_attempts",
                "wrong_reported_success",
                "invalid_reported_success",
            )
            if key in document
        }
        for profile, document in results.items()
    }
    args.json.write_text(json.dumps(combined, indent=2) + "\n")
    print(json.dumps(combined["side_by_side"], indent=2))
    return status


def _run_reserved(args: argparse.Namespace) -> int:
    if args.scene is None:
        args.scene = "language" if args.language else "single"
    if args.scene == "household" and args.task != "grasp":
        # Household scenes have no plate or tray to place on; with --language their objects
        # are named by colour, size and position (HOUSEHOLD_TEMPLATES), not by noun.
        raise SystemExit("--scene household: --task grasp only")
    if args.language:
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        unknown = [m for m in modes if m not in MODES]
        if unknown or not modes:
            raise SystemExit(f"--modes: use {', '.join(MODES)}; got {args.modes!r}")
        args.mode_list = modes
    if args.domain_id:
        return _dispatch(args, args.domain_id)
    from domain_coordinator import domain_id

    with domain_id() as reserved:
        return _dispatch(args, reserved)


def _dispatch(args: argparse.Namespace, domain_id: int) -> int:
    if args.task in ("place", "pick_and_place"):
        from a2_grasping.tools.bench_place import run_place_benchmark

        return run_place_benchmark(args, domain_id)
    return _run_language(args, domain_id) if args.language else _run(args, domain_id)


def _run(args: argparse.Namespace, domain_id: int) -> int:
    from a2_grasping.action import Pick
    from a2_grasping.tools.sim_session import SimSession

    out_dir = args.json.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    episodes: list[dict[str, Any]] = []
    images: dict[str, Any] = {}
    wall_start = time.monotonic()
    with SimSession(
        domain_id,
        out_dir / "bench_sim_logs",
        sim_arguments=args.sensor_setting.sim_arguments(),
        node_arguments=BENCH_EXECUTOR_ARGUMENTS,
    ) as session:
        sim_start = session.sim_time_s()
        for episode in range(args.episodes):
            seed = args.seed + episode
            session.reset(seed, args.scene)
            record: dict[str, Any] = {"seed": seed, "attempts": []}
            for _attempt in range(args.attempts):
                session.wait_for_fresh_scene()
                scene = session.latest_scene()
                started = time.monotonic()
                stage_times: dict[str, float] = {}
                result, stages = session.pick(
                    Pick.Goal(instruction="pick an object"),
                    on_stage=lambda stage, times=stage_times: times.setdefault(
                        stage, time.monotonic()
                    ),
                )
                lifted = [o for o in session.objects() if o.height_gain_m >= LIFT_SUCCESS_M]
                outcome = "success" if lifted else f"code_{result.error_code}"
                moving_at = stage_times.get("moving_to_pregrasp", time.monotonic())
                record["attempts"].append(
                    {
                        "outcome": outcome,
                        "error_code": int(result.error_code),
                        "message": result.error_message,
                        "select_plan_s": moving_at - started,
                        "execute_s": time.monotonic() - moving_at,
                        "stages": stages,
                    }
                )
                images.setdefault(outcome, scene)
                if lifted:
                    break
                session.reset(seed, args.scene)  # the failed attempt may have moved things
            episodes.append(record)
            print(
                f"[bench sim] episode {episode} seed {seed}: "
                f"{[a['outcome'] for a in record['attempts']]}",
                flush=True,
            )
        sim_elapsed = session.sim_time_s() - sim_start
    wall_elapsed = time.monotonic() - wall_start
    results = _summary(episodes, sim_elapsed, wall_elapsed, args)
    args.json.write_text(json.dumps({**results, "episodes": episodes}, indent=2) + "\n")
    _plot(episodes, out_dir / f"bench_sim_{args.scene}.png")
    for outcome, scene in images.items():
        _save_view(scene, out_dir / f"bench_sim_{args.scene}_{outcome}.png")
    print(json.dumps(results, indent=2))
    return 0


def _summary(
    episodes: list[dict[str, Any]], sim_s: float, wall_s: float, args: argparse.Namespace
) -> dict[str, Any]:
    from a2_grasping.core.policy.hardware import read_cpu_info

    first = [e["attempts"][0]["outcome"] == "success" for e in episodes]
    picked = [e for e in episodes if e["attempts"][-1]["outcome"] == "success"]
    attempts = [a for e in episodes for a in e["attempts"]]
    first_rate = sum(first) / max(1, len(first))
    return {
        "scene": args.scene,
        "sensor": args.sensor_setting.describe(),
        "cpu": read_cpu_info().describe(),
        "episode_count": len(episodes),
        "success_rate": first_rate,  # first attempt, as this key has always meant
        "first_attempt_success_rate": first_rate,
        "success_rate_within_attempts": len(picked) / max(1, len(episodes)),
        "attempts_per_picked_object": statistics.mean(len(e["attempts"]) for e in picked)
        if picked
        else None,
        "outcomes": dict(Counter(a["outcome"] for a in attempts)),
        "select_plan_s_median": statistics.median(a["select_plan_s"] for a in attempts),
        "execute_s_median": statistics.median(a["execute_s"] for a in attempts),
        "real_time_factor": sim_s / wall_s if wall_s > 0 else None,
    }


def _plot(episodes: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    attempts = [a for e in episodes for a in e["attempts"]]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.hist([a["select_plan_s"] for a in attempts], bins=15, label="select + plan")
    left.hist([a["execute_s"] for a in attempts], bins=15, alpha=0.6, label="execute")
    left.set_xlabel("seconds (wall)")
    left.legend()
    outcomes = Counter(a["outcome"] for a in attempts)
    right.bar(list(outcomes), list(outcomes.values()))
    right.set_title("attempt outcomes")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _select_latency_ms(session: Any) -> dict[str, float]:
    """/select_grasp's server-side time over the run's calls (the inference node's own rolling
    percentiles in /diagnostics, covering its last 200 calls)."""
    values = session.diagnostic_values("inference_node")
    return {
        "select_grasp_server_ms_p50": float(values["latency_ms_p50"]),
        "select_grasp_server_ms_p95": float(values["latency_ms_p95"]),
    }


def _save_view(scene_msg: Any, path: Path) -> None:
    from PIL import Image

    from a2_grasping.ros import conversions

    if scene_msg is not None:
        Image.fromarray(conversions.color_image_to_rgb(scene_msg.color_images[0])).save(path)


# ---- named targets ----


def _run_language(args: argparse.Namespace, domain_id: int) -> int:
    from a2_grasping.core.policy.hardware import read_cpu_info
    from a2_grasping.tools.sim_session import SimSession

    out_dir = args.json.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    episodes = plan_episodes(args.seed, args.episodes, args.scene)
    for episode in episodes:
        print(
            f"[bench sim] seed {episode.seed} {episode.template}: {episode.instruction!r} "
            f"-> {', '.join(episode.targets)}",
            flush=True,
        )
    records: dict[str, list[dict[str, Any]]] = {}
    timing: dict[str, dict[str, float]] = {}
    for mode in args.mode_list:
        node_arguments = dict(BENCH_EXECUTOR_ARGUMENTS)
        if mode == "geometric":
            node_arguments["inference_node"] = ["-p", "ground_instructions:=false"]
        images_left = [args.failure_images]
        wall_start = time.monotonic()
        with SimSession(
            domain_id,
            out_dir / f"bench_sim_logs_{mode}",
            sim_arguments=args.sensor_setting.sim_arguments(),
            node_arguments=node_arguments,
        ) as session:
            sim_start = session.sim_time_s()
            records[mode] = []
            for episode in episodes:
                record = _language_episode(
                    session, episode, args, mode=mode, out_dir=out_dir, images_left=images_left
                )
                records[mode].append(record)
                print(
                    f"[bench sim] {mode} seed {episode.seed} {episode.template}: "
                    f"{[s['outcome'] for s in record['steps']]}",
                    flush=True,
                )
            sim_s = session.sim_time_s() - sim_start
            select_ms = _select_latency_ms(session)
        wall_s = time.monotonic() - wall_start
        timing[mode] = {"wall_s": wall_s, "real_time_factor": sim_s / wall_s, **select_ms}
    summaries = {
        mode: {**language_summary(records[mode], args.steps), **timing[mode]}
        for mode in args.mode_list
    }
    first = summaries[args.mode_list[0]]
    results = {
        "task": "grasp",
        "language": True,
        "sensor": args.sensor_setting.describe(),
        "cpu": read_cpu_info().describe(),
        "scene": args.scene,
        "first_seed": args.seed,
        "episode_count": len(episodes),
        "steps_per_episode": args.steps,
        "success_rate": first["success_rate"],  # first attempt, of the first mode
        "first_attempt_success_rate": first["first_attempt_success_rate"],
        "wrong_reported_success": first["wrong_reported_success"],
        "modes": summaries,
    }
    detail = [
        {**asdict(episode), "by_mode": {mode: records[mode][i] for mode in args.mode_list}}
        for i, episode in enumerate(episodes)
    ]
    args.json.write_text(json.dumps({**results, "episodes": detail}, indent=2) + "\n")
    _plot_language(summaries, out_dir / f"bench_sim_language_{args.scene}.png")
    print(json.dumps(results, indent=2))
    print(format_table(summaries))
    return 0


def _language_episode(
    session: Any,
    episode: LanguageEpisode,
    args: argparse.Namespace,
    *,
    mode: str,
    out_dir: Path,
    images_left: list[int],
) -> dict[str, Any]:
    from a2_grasping.action import Pick

    objects = session.reset(episode.seed, episode.scene)
    planned = {o.name: o for o in truth_objects(episode.seed, episode.scene)}
    if {o.name for o in objects} != set(planned):
        raise RuntimeError(f"seed {episode.seed}: the simulator's objects differ from the plan")
    drift_m = max(
        math.dist(
            (o.pose.position.x, o.pose.position.y), (planned[o.name].x_m, planned[o.name].y_m)
        )
        for o in objects
    )
    removed: list[str] = []
    steps: list[dict[str, Any]] = []
    success = False
    for step in range(args.steps):
        session.wait_for_fresh_scene()
        scene = session.latest_scene()
        gains: dict[str, float] = {}

        def poll(gains: dict[str, float] = gains) -> None:
            for o in session.objects():
                gains[o.name] = max(gains.get(o.name, 0.0), float(o.height_gain_m))

        started = time.monotonic()
        stage_times: dict[str, float] = {}
        result, stages = session.pick(
            Pick.Goal(instruction=episode.instruction),
            on_stage=lambda stage, times=stage_times: times.setdefault(stage, time.monotonic()),
            on_poll=poll,
        )
        poll()
        moving_at = stage_times.get("moving_to_pregrasp", time.monotonic())
        lifted = sorted(name for name, gain in gains.items() if gain >= LIFT_SUCCESS_M)
        hit = [name for name in lifted if name in episode.targets]
        if hit:
            outcome = "success"
        elif lifted:
            outcome = "wrong_object"
        elif result.error_code == Pick.Result.SELECTION_FAILED:
            outcome = _REFUSALS.get(int(result.select_error_code), "selection_failed")
            if outcome == "selection_failed":
                outcome = f"select_code_{result.select_error_code}"
        else:
            outcome = f"code_{result.error_code}"
        steps.append(
            {
                "outcome": outcome,
                "lifted": lifted,
                "error_code": int(result.error_code),
                "select_error_code": int(result.select_error_code),
                "reported_wrong_object": int(result.error_code) == Pick.Result.WRONG_OBJECT,
                "message": result.error_message,
                "grounded_target": result.target.description,
                "target_verified": bool(result.target_verified),
                "removed_before": list(removed),
                "select_plan_s": moving_at - started,
                "execute_s": time.monotonic() - moving_at,
                "stages": stages,
            }
        )
        if step == 0 and outcome != "success" and images_left[0] > 0:
            images_left[0] -= 1
            _save_annotated(
                scene,
                episode,
                planned,
                lifted=lifted,
                outcome=outcome,
                path=out_dir / f"bench_sim_language_{mode}_seed{episode.seed}_{outcome}.png",
            )
        if hit:
            success = True
            break
        removed += [name for name in lifted if name not in removed]
        if (
            len(steps) >= 2
            and outcome in _REFUSALS.values()
            and steps[-2]["outcome"] == outcome
            and not lifted
        ):
            break  # refused twice on an identical scene: it would be refused again
        if step + 1 < args.steps:
            session.reset(episode.seed, episode.scene, removed_objects=removed)
    return {
        "template": episode.template,
        "success": success,
        "first_attempt": steps[0]["outcome"] == "success",
        "step_count": len(steps),
        "wrong_picks": sum(s["outcome"] == "wrong_object" for s in steps),
        "spawn_drift_m": round(drift_m, 4),
        "steps": steps,
    }


def language_summary(records: Sequence[dict[str, Any]], max_steps: int) -> dict[str, Any]:
    """Rates over episodes (one mode), overall and per template (records carry 'template')."""

    def rates(group: Sequence[dict[str, Any]]) -> dict[str, Any]:
        count = len(group)
        won = [r for r in group if r["success"]]
        steps = [s for r in group for s in r["steps"]]
        wrong = [s for s in steps if s["outcome"] == "wrong_object"]
        first = sum(r["first_attempt"] for r in group) / max(1, count)
        return {
            "episode_count": count,
            "success_rate": first,  # first attempt (bench sim's key)
            "first_attempt_success_rate": first,
            "success_rate_within_steps": len(won) / max(1, count),
            "mean_steps": statistics.mean(r["step_count"] for r in won) if won else None,
            "mean_steps_failures_as_max": statistics.mean(
                r["step_count"] if r["success"] else max_steps for r in group
            )
            if group
            else None,
            "wrong_picks": len(wrong),
            "wrong_picks_reported_wrong_object": sum(s["reported_wrong_object"] for s in wrong),
            # the worst failure: another object lifted and /pick reported success
            "wrong_reported_success": sum(s.get("error_code", 1) == 0 for s in wrong),
            # the target rose >= 5 cm (a success here) but /pick failed, e.g. dropped it later
            "successes_pick_reported_failure": sum(
                s["outcome"] == "success" and s.get("error_code", 0) != 0 for s in steps
            ),
            "outcomes": dict(Counter(s["outcome"] for s in steps)),
        }

    steps = [s for r in records for s in r["steps"]]
    summary = rates(records)
    summary["per_template"] = {
        template: rates([r for r in records if r["template"] == template])
        for template in TEMPLATES
        if any(r["template"] == template for r in records)
    }
    picks = [s for s in steps if s["outcome"] not in _REFUSALS.values()]
    summary["select_plan_s_median"] = statistics.median(s["select_plan_s"] for s in steps)
    summary["execute_s_median_of_motions"] = (
        statistics.median(s["execute_s"] for s in picks) if picks else None
    )
    return summary


def format_table(summaries: dict[str, dict[str, Any]]) -> str:
    """A plain-text table: one row per mode and template."""
    lines = [
        f"{'mode':<11}{'template':<13}{'n':>3}{'first':>7}{'within':>8}{'steps':>7}"
        f"{'wrong':>7}{'reported':>10}"
    ]
    for mode, summary in summaries.items():
        rows = [("all", summary), *summary["per_template"].items()]
        for template, row in rows:
            steps = "-" if row["mean_steps"] is None else f"{row['mean_steps']:.2f}"
            lines.append(
                f"{mode:<11}{template:<13}{row['episode_count']:>3}"
                f"{row['first_attempt_success_rate']:>7.2f}{row['success_rate_within_steps']:>8.2f}"
                f"{steps:>7}{row['wrong_picks']:>7}{row['wrong_picks_reported_wrong_object']:>10}"
            )
    return "\n".join(lines)


def _plot_language(summaries: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    templates = [t for t in TEMPLATES if any(t in s["per_template"] for s in summaries.values())]
    figure, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    width = 0.8 / max(1, len(summaries))
    for axis, key, title in (
        (axes[0], "first_attempt_success_rate", "first-attempt success"),
        (axes[1], "success_rate_within_steps", "success within the steps"),
    ):
        for m, (mode, summary) in enumerate(summaries.items()):
            values = [summary["per_template"].get(t, {}).get(key, 0.0) for t in templates]
            axis.bar([i + m * width for i in range(len(templates))], values, width, label=mode)
        axis.set_xticks([i + 0.4 - width / 2 for i in range(len(templates))], templates)
        axis.set_title(title)
        axis.set_ylim(0, 1.05)
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _save_annotated(
    scene_msg: Any,
    episode: LanguageEpisode,
    planned: dict[str, TruthObject],
    *,
    lifted: Sequence[str],
    outcome: str,
    path: Path,
) -> None:
    """The first camera's image: targets circled green, a wrongly lifted object red."""
    import numpy as np
    from PIL import Image, ImageDraw

    from a2_grasping.ros import conversions

    if scene_msg is None:
        return
    view = conversions.scene_from_msg(scene_msg).views[0]
    image = Image.fromarray(view.color_rgb)
    draw = ImageDraw.Draw(image)
    camera_from_base = view.camera_from_base()
    for name, color in [(n, (40, 255, 60)) for n in episode.targets] + [
        (n, (255, 40, 40)) for n in lifted
    ]:
        o = planned[name]
        camera = camera_from_base @ np.array([o.x_m, o.y_m, 0.5 * o.size_m[2], 1.0])
        u, v, _ = view.intrinsics @ (camera[:3] / camera[2])
        draw.ellipse((u - 18, v - 18, u + 18, v + 18), outline=color, width=3)
    text = [
        f"seed {episode.seed} [{episode.template}] {episode.instruction!r}",
        f"targets: {', '.join(episode.targets)}",
        f"outcome: {outcome}" + (f", lifted {', '.join(lifted)}" if lifted else ""),
    ]
    draw.rectangle((0, 0, image.width, 8 + 14 * len(text)), fill=(255, 255, 255))
    for i, line in enumerate(text):
        draw.text((6, 4 + 14 * i), line, fill=(0, 0, 0))
    image.save(path)
