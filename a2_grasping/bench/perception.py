"""What perception makes of a seeded cell, scored on ground truth: `a2-grasping bench perception`.

No ROS: the simulated cameras render through the chosen sensor profile and calibration error,
perception's own core (per-camera depth filtering, fusion, outlier removal) builds the scene from
the nominal extrinsics, and selection's segmentation describes the objects. Each ground-truth
object is matched to the segmented object whose footprint centre is nearest (within
MATCH_DISTANCE_M); the report counts objects found, their colour and shape names, height error,
objects split in two or merged, and segmented objects that match nothing (table residue, flying
pixels). A fast loop for tuning the filters; the end-to-end figures come from `bench sim`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from a2_grasping.testing.sensor_options import add_sensor_arguments, sensor_settings

# A segmented object belongs to a ground-truth object when its footprint centre is this close.
MATCH_DISTANCE_M = 0.025
# Primitive nouns whose shape class segmentation must name (household objects have none).
_SHAPE_OF = {"box": "box", "cylinder": "cylinder", "sphere": "sphere"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--scene", default="clutter", help="scene kind")
    parser.add_argument("--seed", type=int, default=3000, help="seed of the first scene")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument(
        "--frames", type=int, default=5, help="frames per camera fed to perception (5 Hz apart)"
    )
    parser.add_argument(
        "--config-dir",
        type=Path,
        default=None,
        help="directory with cell.yaml, perception_node.yaml and inference_node.yaml (default: the "
        "installed config/, the simulated cell's)",
    )
    parser.add_argument(
        "--checks",
        action="store_true",
        help="also judge the executor's post-lift target check on every object: the target "
        "raised (must pass) and its nearest neighbour raised instead (must fail)",
    )
    add_sensor_arguments(parser, several=False)
    parser.set_defaults(run=run)


def node_configs(config_dir: Path | None) -> tuple[Any, Any, float]:
    """(PerceptionConfig, SegmentationConfig, table_margin_m) from the nodes' parameter files."""
    import dataclasses

    from a2_grasping.bringup import profile_parameters
    from a2_grasping.core.perception_config import PerceptionConfig
    from a2_grasping.core.selection.common import SelectionConfig
    from a2_grasping.core.selection.objects import SegmentationConfig
    from a2_grasping.installation import install_prefix

    directory = config_dir or install_prefix() / "share" / "a2_grasping" / "config"

    def build(cls: Any, values: dict[str, Any]) -> Any:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in names}
        )

    def load(name: str) -> dict[str, Any]:
        return profile_parameters(directory, name)

    perception_values = load("perception_node")
    inference_values = load("inference_node")
    selection = build(SelectionConfig, inference_values)
    return (
        build(PerceptionConfig, perception_values),
        build(SegmentationConfig, inference_values),
        float(selection.table_margin_m),
    )


def evaluate_scene(  # noqa: PLR0917 - the benchmark's settings, passed straight through
    seed: int,
    scene: str,
    overrides: dict[str, Any],
    frames: int,
    perception: Any,
    segmentation: Any,
    table_margin_m: float,
    checks: bool = False,
) -> dict[str, Any]:
    """Render `frames` frames per camera of one seeded scene, build the scene as perception_node
    does and segment it as inference_node does; the match against ground truth."""
    from a2_grasping.core.frame_filters import CameraFilterBank
    from a2_grasping.core.selection.objects import segment_objects
    from a2_grasping.sim.cell import SimCell
    from a2_grasping.sim.config import SimConfig

    cell = SimCell(SimConfig(seed=seed, scene=scene, **overrides))
    try:
        bank = CameraFilterBank(perception)
        built = observe(cell, bank, perception, frames)
        truth = list(cell.object_states())
        objects = segment_objects(
            built.points_xyz, built.colors_rgb, 0.0, table_margin_m, segmentation
        )
        result = match_objects(truth, objects, seed)
        if checks:
            result["checks"] = judge_lift_checks(cell, bank, perception, built, objects, result)
    finally:
        cell.close()
    return result


def observe(cell: Any, bank: Any, perception: Any, frames: int, step_s: float = 0.2) -> Any:
    """The fused scene after `frames` frames per camera, `step_s` of physics apart (0.2 s:
    perception's 5 Hz; 0: the cell held still, for an object put in the air)."""
    from a2_grasping.core.perception import CameraFrame, fuse_frames
    from a2_grasping.core.scene import CameraView

    latest: dict[str, CameraFrame] = {}
    for index in range(frames):
        if index and step_s > 0.0:
            cell.step(step_s)
        for spec in cell.cameras:
            rgb, depth_m = cell.render(spec.name)
            depth_m = np.round(depth_m * 1000.0) / 1000.0  # 16UC1 millimetres on the wire
            view = CameraView(
                rgb,
                depth_m.astype(np.float32),
                spec.intrinsics,
                spec.base_from_optical_matrix,
                spec.name,
            )
            latest[spec.name] = CameraFrame(bank.filter(view, cell.time_s), cell.time_s)
    return fuse_frames(latest, perception)


# How far the executor lifts (config/executor_node.yaml lift_height_m).
LIFT_HEIGHT_M = 0.1


def judge_lift_checks(  # noqa: PLR0917 - one scene's state, passed straight through
    cell: Any,
    bank: Any,
    perception: Any,
    before: Any,
    objects: tuple[Any, ...],
    match: dict[str, Any],
) -> list[dict[str, Any]]:
    """Per found object: the post-lift check on the target raised (it must say the target
    left) and on its nearest neighbour raised instead (it must say the target stayed). The
    object is teleported up LIFT_HEIGHT_M and the cameras see it there for two frames (the
    executor waits for one scene newer than the lift)."""
    from a2_grasping.core.task.target_check import check_target_left

    states = cell.object_states()
    centres = {s.spec.name: s.base_from_object[:2, 3] for s in states}
    movable = [s.spec.name for s in states if not s.spec.receptacle]
    judged = []
    for row in match["objects"]:
        if not row["found"] or row["receptacle"] or len(movable) < 2:
            continue
        target = objects[row["segment"]]
        neighbour = min(
            (n for n in movable if n != row["name"]),
            key=lambda n: float(np.linalg.norm(centres[n] - centres[row["name"]])),
        )
        outcome: dict[str, Any] = {"target": row["name"], "neighbour": neighbour}
        for case, raised in (("target_lifted", row["name"]), ("neighbour_lifted", neighbour)):
            cell.raise_object(raised, LIFT_HEIGHT_M)
            after = observe(cell, bank, perception, 2, step_s=0.0)  # no physics: it stays up
            cell.raise_object(raised, -LIFT_HEIGHT_M)
            observe(cell, bank, perception, 2, step_s=0.0)  # as it was, for the next case
            check = check_target_left(
                target.base_from_box(),
                target.extents_m,
                before.points_xyz,
                after.points_xyz,
                LIFT_HEIGHT_M,
            )
            outcome[case] = {"target_left": check.target_left, "summary": check.summary()}
        judged.append(outcome)
    return judged


def match_objects(truth: list[Any], objects: tuple[Any, ...], seed: int) -> dict[str, Any]:
    centres = np.array([o.centroid_m[:2] for o in objects]).reshape(-1, 2)
    claimed: Counter[int] = Counter()
    rows = []
    for state in truth:
        spec = state.spec
        xy = state.base_from_object[:2, 3]
        distance = np.linalg.norm(centres - xy, axis=1) if len(centres) else np.zeros(0)
        near = np.flatnonzero(distance <= max(MATCH_DISTANCE_M, 0.5 * spec.footprint_radius_m))
        best = int(near[np.argmin(distance[near])]) if len(near) else -1
        row: dict[str, Any] = {"name": spec.name, "found": best >= 0, "receptacle": spec.receptacle}
        if best >= 0:
            claimed[best] += 1
            obj = objects[best]
            expected_shape = _SHAPE_OF.get(spec.shape.value)
            row.update(
                segment=best,
                seen=obj.description,
                color_ok=obj.color_name == spec.color,
                shape_ok=None if expected_shape is None else obj.shape.value == expected_shape,
                height_error_m=float(obj.height_m - spec.size_m[2]),
                centre_error_m=float(distance[best]),
            )
        rows.append(row)
    spurious = [objects[i].description for i in range(len(objects)) if i not in claimed]
    merged = [objects[i].description for i, n in claimed.items() if n > 1]
    return {"seed": seed, "objects": rows, "spurious": spurious, "merged": merged}


def summarise(scenes: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [r for s in scenes for r in s["objects"]]
    found = [r for r in rows if r["found"]]
    shaped = [r for r in found if r.get("shape_ok") is not None and not r["receptacle"]]
    heights = [abs(r["height_error_m"]) for r in found]
    return {
        "objects": len(rows),
        "found_rate": len(found) / max(1, len(rows)),
        "color_correct_rate": sum(r["color_ok"] for r in found) / max(1, len(found)),
        "shape_correct_rate": sum(r["shape_ok"] for r in shaped) / len(shaped) if shaped else None,
        "height_error_m_median": statistics.median(heights) if heights else None,
        "spurious_objects": sum(len(s["spurious"]) for s in scenes),
        "merged_objects": sum(len(s["merged"]) for s in scenes),
        "scenes_all_correct": sum(
            all(r["found"] and r["color_ok"] for r in s["objects"])
            and not s["spurious"]
            and not s["merged"]
            for s in scenes
        ),
        "scenes": len(scenes),
    }


def summarise_checks(scenes: list[dict[str, Any]]) -> dict[str, Any]:
    """False fails (target lifted, check says it stayed) and false passes (a neighbour lifted,
    check says the target left: a wrong object reported as the right one)."""
    judged = [c for s in scenes for c in s.get("checks", [])]
    false_fail = [c for c in judged if not c["target_lifted"]["target_left"]]
    false_pass = [c for c in judged if c["neighbour_lifted"]["target_left"]]
    return {
        "cases": len(judged),
        "false_fail": len(false_fail),
        "false_pass": len(false_pass),
        "false_fail_rate": len(false_fail) / max(1, len(judged)),
        "false_pass_rate": len(false_pass) / max(1, len(judged)),
        "false_pass_cases": [
            f"{c['target']} (neighbour {c['neighbour']}): {c['neighbour_lifted']['summary']}"
            for c in false_pass
        ],
    }


def run(args: argparse.Namespace) -> int:
    from a2_grasping.core.policy.hardware import read_cpu_info

    (setting,) = sensor_settings(args)
    overrides = setting.sim_fields()
    perception, segmentation, table_margin_m = node_configs(args.config_dir)
    started = time.monotonic()
    scenes = []
    for episode in range(args.episodes):
        seed = args.seed + episode
        result = evaluate_scene(
            seed,
            args.scene,
            overrides,
            args.frames,
            perception,
            segmentation,
            table_margin_m,
            checks=args.checks,
        )
        scenes.append(result)
        wrong = [
            f"{r['name']} -> {r.get('seen', 'not found')}"
            for r in result["objects"]
            if not (r["found"] and r["color_ok"] and r.get("shape_ok") is not False)
        ]
        print(
            f"[bench perception] seed {seed}: wrong {wrong} spurious {result['spurious']} "
            f"merged {result['merged']}",
            flush=True,
        )
    summary = {
        "scene": args.scene,
        "first_seed": args.seed,
        "sensor": setting.describe(),
        "frames": args.frames,
        "cpu": read_cpu_info().describe(),
        "wall_s": time.monotonic() - started,
        **summarise(scenes),
    }
    if args.checks:
        summary["lift_check"] = summarise_checks(scenes)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({**summary, "detail": scenes}, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0
