"""Executed place and pick-and-place episodes: `a2-grasping bench sim --task place|pick_and_place`.

Seeded `place` scenes (sim/objects.py: a plate and/or a tray fixed to the table, 3-6 objects of
unique colours). Each episode names one graspable object (not a ball: it would roll away from
any place) and a relation from the templates - IN: "on the <plate|tray>"; OUT: "next to / left
of / right of / in front of / behind the <reference>" - written from ground truth, and posed
only when more than 2/3 of the OUT region is free and inside the workspace (spec §2.7's rule
for a valid region).

- place: /pick "pick the <object>" (up to two attempts; an episode whose pick fails is not a
  place trial and is reported apart), then /place "<relation> the <reference>".
- pick_and_place: /pick_and_place "put the <object> <relation> the <reference>"; success needs
  the named object picked on the first try and placed validly.

A place is valid (simulator ground truth, after the release, spec §2.7 regions with the true
sizes): IN: the object's centre within min(footprint)/2 of the receptacle's centre, resting on
it upright (centre at the receptacle's top + half its height, within 1 cm); OUT: its centre in
the annulus max(5 cm, r_ref + r_obj) .. max(15 cm, r_ref + r_obj + 10 cm) around the
reference's centre (+-1 cm), within 45 degrees of the direction (+-5 degrees) when there is one,
upright on the table. Reported per relation: success rate, places reported successful whose
object is not in the region (must be 0), durations; a plot and failure images next to the JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from a2_grasping.core.perception_config import PerceptionConfig
from a2_grasping.sim.objects import ObjectSpec, Shape, generate_objects

RELATIONS = ("in", "next to", "left of", "right of", "in front of", "behind")
_DIRECTION_YAW_RAD = {
    "left of": 0.5 * math.pi,
    "right of": -0.5 * math.pi,
    "in front of": math.pi,
    "behind": 0.0,
}
REGION_TOLERANCE_M = 0.01
SECTOR_TOLERANCE_RAD = math.radians(5.0)
UPRIGHT_TOLERANCE_M = 0.01


# Spec §2.7: a reference's region counts only when more than 2/3 of it is free. A task whose
# region (in ground truth) is mostly covered by other objects or outside the workspace has no
# right answer, and is not posed.
MIN_FREE_REGION_SHARE = 2.0 / 3.0
_REGION_GRID_M = 0.005


def plan_episode(seed: int, rng: random.Random) -> dict[str, Any] | None:
    """Object, relation and reference for a place scene (a task with a free region in ground
    truth, in a seeded-random order), or None when the scene offers none."""
    objects = generate_objects(seed, "place")
    movable = [o for o in objects if not o.receptacle and o.shape is not Shape.SPHERE]
    tasks = []
    for held in movable:
        for relation in RELATIONS:
            references = [
                o for o in objects if o is not held and o.receptacle == (relation == "in")
            ]
            tasks += [(held, relation, reference) for reference in references]
    rng.shuffle(tasks)
    for held, relation, reference in tasks:
        others = [o for o in objects if o is not held and o is not reference]
        if relation != "in" and free_region_share(relation, held, reference, others) <= (
            MIN_FREE_REGION_SHARE
        ):
            continue
        word = "on" if relation == "in" else relation
        return {
            "seed": seed,
            "object": held.name,
            "relation": relation,
            "reference": reference.name,
            "place_instruction": f"{word} the {reference.name}",
            "pick_instruction": f"pick the {held.name}",
            "sentence": f"put the {held.name} {word} the {reference.name}",
        }
    return None


def free_region_share(
    relation: str, held: ObjectSpec, reference: ObjectSpec, others: list[ObjectSpec]
) -> float:
    """Share of an OUT region (ground truth) where the held object's centre could rest: inside
    the perception workspace by its footprint radius and clear of every other footprint."""
    r_min, r_max = _annulus_m(held, reference)
    steps = np.arange(-r_max, r_max + 1e-9, _REGION_GRID_M)
    dx, dy = (grid.ravel() for grid in np.meshgrid(steps, steps))
    in_region = (np.hypot(dx, dy) >= r_min) & (np.hypot(dx, dy) <= r_max)
    if relation in _DIRECTION_YAW_RAD:
        off = np.abs(
            (np.arctan2(dy, dx) - _DIRECTION_YAW_RAD[relation] + math.pi) % (2 * math.pi) - math.pi
        )
        in_region &= off <= math.radians(45.0)
    x = reference.position_m[0] + dx[in_region]
    y = reference.position_m[1] + dy[in_region]
    box, margin = PerceptionConfig().workspace_box_m, held.footprint_radius_m
    free = (x >= box[0] + margin) & (x <= box[1] - margin)
    free &= (y >= box[2] + margin) & (y <= box[3] - margin)
    for other in others:
        clearance = held.footprint_radius_m + other.footprint_radius_m
        free &= np.hypot(x - other.position_m[0], y - other.position_m[1]) >= clearance
    return float(free.mean()) if free.size else 0.0


def _annulus_m(held: ObjectSpec, reference: ObjectSpec) -> tuple[float, float]:
    """Spec §2.7's OUT annulus, r = half the largest footprint side of each."""
    reach = 0.5 * max(reference.size_m[:2]) + 0.5 * max(held.size_m[:2])
    return max(0.05, reach), max(0.15, reach + 0.1)


def placement_valid(
    relation: str, held: ObjectSpec, reference: ObjectSpec, held_xyz: tuple[float, ...]
) -> tuple[bool, str]:
    """Ground-truth validity of where the object rests (see the module doc)."""
    dx = held_xyz[0] - reference.position_m[0]
    dy = held_xyz[1] - reference.position_m[1]
    if relation == "in":
        return _on_receptacle(math.hypot(dx, dy), held, reference, held_xyz[2])
    return _beside(relation, dx, dy, held, reference, z=held_xyz[2])


def _on_receptacle(
    distance: float, held: ObjectSpec, reference: ObjectSpec, z: float
) -> tuple[bool, str]:
    radius = 0.5 * min(reference.size_m[:2])
    resting_z = reference.size_m[2] + 0.5 * held.size_m[2]
    if distance > radius:
        return False, f"{distance * 100:.1f} cm from the receptacle's centre (> {radius * 100:.1f})"
    if abs(z - resting_z) > UPRIGHT_TOLERANCE_M:
        return False, f"not resting upright on it (z {z:.3f}, expected {resting_z:.3f})"
    return True, "on the receptacle"


def _beside(
    relation: str, dx: float, dy: float, held: ObjectSpec, reference: ObjectSpec, *, z: float
) -> tuple[bool, str]:
    distance = math.hypot(dx, dy)
    r_min, r_max = _annulus_m(held, reference)
    if not r_min - REGION_TOLERANCE_M <= distance <= r_max + REGION_TOLERANCE_M:
        return False, f"{distance * 100:.1f} cm away (region {r_min * 100:.1f}-{r_max * 100:.1f})"
    if relation in _DIRECTION_YAW_RAD:
        angle = math.atan2(dy, dx) - _DIRECTION_YAW_RAD[relation]
        off = abs((angle + math.pi) % (2 * math.pi) - math.pi)
        if off > math.radians(45.0) + SECTOR_TOLERANCE_RAD:
            return False, f"{math.degrees(off):.0f} deg off the '{relation}' direction"
    if abs(z - 0.5 * held.size_m[2]) > UPRIGHT_TOLERANCE_M:
        return False, f"not upright on the table (z {z:.3f})"
    return True, "in the region"


def run_place_benchmark(args: argparse.Namespace, domain_id: int) -> int:
    from a2_grasping.testing.sim_session import SimSession

    out_dir = args.json.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    records: list[dict[str, Any]] = []
    failures: dict[str, Any] = {}
    wall_start = time.monotonic()
    from a2_grasping.bench.protocol import BENCH_EXECUTOR_ARGUMENTS

    with SimSession(
        domain_id,
        out_dir / f"bench_{args.task}_logs",
        sim_arguments=args.sensor_setting.sim_arguments(),
        node_arguments=BENCH_EXECUTOR_ARGUMENTS,
    ) as session:
        for episode in range(args.episodes):
            seed = args.seed + episode
            plan = plan_episode(seed, rng)
            if plan is None:
                continue
            record, scene = _episode(session, args.task, plan)
            records.append(record)
            if record["outcome"] not in ("success", "pick_failed"):
                key = f"{plan['relation']}_{record['outcome']}"
                failures.setdefault(key, (scene, plan, record["why"]))
            print(
                f"[bench {args.task}] seed {seed}: {plan['sentence']!r} -> "
                f"{record['outcome']} ({record.get('why', record.get('message', ''))})",
                flush=True,
            )
    summary = place_summary(records, args.task, time.monotonic() - wall_start)
    summary["sensor"] = args.sensor_setting.describe()
    summary["invalid_reported_success"] = summary["reported_success_but_invalid"]
    args.json.write_text(json.dumps({**summary, "episodes": records}, indent=2) + "\n")
    _plot(summary, out_dir / f"bench_{args.task}.png")
    for name, (scene, plan, why) in failures.items():
        _save_failure(scene, plan, why, out_dir / f"bench_{args.task}_{name.replace(' ', '_')}.png")
    print(json.dumps({k: v for k, v in summary.items()}, indent=2))
    return 0


def _episode(session: Any, task: str, plan: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """One episode: (its record, the camera scene before the place) - see the module doc."""
    from a2_grasping.action import Pick, PickAndPlace, Place

    seed = plan["seed"]
    specs = {o.name: o for o in generate_objects(seed, "place")}
    session.reset(seed, "place")
    session.wait_for_fresh_scene()
    record: dict[str, Any] = {**plan, "pick_attempts": 0}
    started = time.monotonic()
    if task == "place":
        for _attempt in range(2):
            record["pick_attempts"] += 1
            picked, _ = session.pick(Pick.Goal(instruction=plan["pick_instruction"]))
            if picked.error_code == Pick.Result.NONE:
                break
            session.reset(seed, "place")
            session.wait_for_fresh_scene()
        record["picked"] = picked.error_code == Pick.Result.NONE
        if not record["picked"]:
            record.update(outcome="pick_failed", message=picked.error_message)
            return record, None
        session.wait_for_fresh_scene()
        scene = session.latest_scene()
        goal: Any = Place.Goal(instruction=plan["place_instruction"])
        result, stages = session.run_task("/place", goal)
    else:
        scene = session.latest_scene()
        goal = PickAndPlace.Goal(instruction=plan["sentence"])
        result, stages = session.run_task("/pick_and_place", goal)
        record["picked"] = bool(result.target_verified)
    record["duration_s"] = time.monotonic() - started
    held = {o.name: o for o in session.objects()}[plan["object"]]
    position = (held.pose.position.x, held.pose.position.y, held.pose.position.z)
    valid, why = placement_valid(
        plan["relation"], specs[plan["object"]], specs[plan["reference"]], position
    )
    reported = result.error_code == 0
    if valid and reported:
        outcome = "success"
    else:
        outcome = "reported_but_invalid" if reported else f"code_{result.error_code}"
    record.update(
        error_code=int(result.error_code),
        message=result.error_message,
        stages=stages,
        reported_success=reported,
        valid=valid,
        why=why,
        outcome=outcome,
    )
    return record, scene


def place_summary(records: list[dict[str, Any]], task: str, wall_s: float) -> dict[str, Any]:
    from a2_grasping.core.policy.hardware import read_cpu_info

    trials = [r for r in records if r.get("outcome") != "pick_failed"]
    successes = [r for r in trials if r["outcome"] == "success"]
    per_relation: dict[str, dict[str, Any]] = {}
    for relation in RELATIONS:
        subset = [r for r in trials if r["relation"] == relation]
        if subset:
            per_relation[relation] = {
                "episodes": len(subset),
                "success_rate": sum(r["outcome"] == "success" for r in subset) / len(subset),
                "reported_but_invalid": sum(r["outcome"] == "reported_but_invalid" for r in subset),
            }
    return {
        "task": task,
        "cpu": read_cpu_info().describe(),
        "episode_count": len(records),
        "trials": len(trials),
        "pick_failed_before_place": len(records) - len(trials),
        "success_rate": len(successes) / max(1, len(trials)),
        "reported_success_but_invalid": sum(r["outcome"] == "reported_but_invalid" for r in trials),
        # the place check's false failures: the object rests validly but the task reported failure
        "valid_but_reported_failure": sum(
            bool(r.get("valid")) and not r.get("reported_success", False) for r in trials
        ),
        "outcomes": dict(Counter(r["outcome"] for r in trials)),
        "per_relation": per_relation,
        "duration_s_median": statistics.median(r["duration_s"] for r in trials) if trials else None,
        "wall_s": wall_s,
    }


def _plot(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    relations = list(summary["per_relation"])
    rates = [summary["per_relation"][r]["success_rate"] for r in relations]
    figure, axis = plt.subplots(figsize=(7, 3.5))
    axis.bar(relations, rates)
    axis.set_ylim(0, 1)
    axis.set_ylabel("success rate")
    axis.set_title(f"{summary['task']}: {summary['success_rate']:.0%} of {summary['trials']}")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _save_failure(scene_msg: Any, plan: dict[str, Any], why: str, path: Path) -> None:
    from PIL import Image, ImageDraw

    from a2_grasping.ros import conversions

    if scene_msg is None:
        return
    image = Image.fromarray(conversions.color_image_to_rgb(scene_msg.color_images[0]))
    ImageDraw.Draw(image).text((5, 5), f"{plan['sentence']}: {why}", fill=(255, 255, 255))
    image.save(path)
