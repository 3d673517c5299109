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

from a2_grasping.tools.sensor_options import add_sensor_arguments, sensor_settings

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
        help="directory with perception_node.yaml and inference_node.yaml (default: the "
        "installed config/, the simulated cell's)",
    )
    add_sensor_arguments(parser, several=False)
    parser.set_defaults(run=run)


def node_configs(config_dir: Path | None) -> tuple[Any, Any, float]:
    """(PerceptionConfig, SegmentationConfig, table_margin_m) from the nodes' parameter files."""
    import dataclasses

    import yaml

    from a2_grasping.bringup import node_parameters
    from a2_grasping.core.objects import SegmentationConfig
    from a2_grasping.core.perception_config import PerceptionConfig
    from a2_grasping.core.selection import SelectionConfig
    from a2_grasping.tools.node_process import install_prefix

    directory = config_dir or install_prefix() / "share" / "a2_grasping" / "config"

    def build(cls: Any, values: dict[str, Any]) -> Any:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in names}
        )

    def load(name: str) -> dict[str, Any]:
        document = yaml.safe_load((directory / f"{name}.yaml").read_text())
        return dict(node_parameters(document, name))

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
) -> dict[str, Any]:
    """Render `frames` frames per camera of one seeded scene, build the scene as perception_node
    does and segment it as inference_node does; the match against ground truth."""
    from a2_grasping.core.frame_filters import CameraFilterBank
    from a2_grasping.core.perception import CameraFrame, fuse_frames
    from a2_grasping.core.scene import CameraView
    from a2_grasping.sim.cell import SimCell
    from a2_grasping.sim.config import SimConfig

    cell = SimCell(SimConfig(seed=seed, scene=scene, **overrides))
    try:
        bank = CameraFilterBank(perception)
        latest: dict[str, CameraFrame] = {}
        for index in range(frames):
            if index:
                cell.step(0.2)
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
        built = fuse_frames(latest, perception)
        truth = [s for s in cell.object_states()]
    finally:
        cell.close()
    from a2_grasping.core.objects import segment_objects

    objects = segment_objects(built.points_xyz, built.colors_rgb, 0.0, table_margin_m, segmentation)
    return match_objects(truth, objects, seed)


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
        "shape_correct_rate": sum(r["shape_ok"] for r in shaped) / max(1, len(shaped)),
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
            seed, args.scene, overrides, args.frames, perception, segmentation, table_margin_m
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
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({**summary, "detail": scenes}, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0
