"""The main job: pick an object in the simulated cell with the full pipeline, and report.

Starts the four nodes as separate processes with the shipped parameter files (as the launch
file does): sim_node (MuJoCo UR5e + 2F-85, two RGB-D cameras), perception_node, inference_node
and executor_node. Sets the cell up from --scene/--seed, waits for a scene, sends the /pick goal
with --instruction, prints each stage, then scores the outcome against the simulator's ground
truth (how high each object was lifted). Writes demo_report.json and demo_grasp.png (a camera
image with the chosen grasp drawn) to --output-dir, and stops every node.

Without A2 weights the inference node runs in geometric mode: the instruction is recorded but
the grasp is the best antipodal one in the scene; the report says so.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class DemoReport:
    instruction: str
    scene: str
    seed: int
    ros_domain_id: int
    objects: list[dict[str, Any]] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    pick_error_code: int = -1
    pick_error_message: str = ""
    object_held: bool = False
    lifted_object: str = ""
    lift_m: float = 0.0
    timings_s: dict[str, float] = field(default_factory=dict)
    grasp_pose_base: list[list[float]] = field(default_factory=list)
    selection_mode: str = "geometric (no A2 weights configured; instruction not used)"
    node_exit_codes: dict[str, int] = field(default_factory=dict)
    ok: bool = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instruction", default="pick the red block", help="what to pick")
    parser.add_argument("--scene", choices=("single", "clutter"), default="single")
    parser.add_argument(
        "--seed", type=int, default=37, help="seed of the generated scene (37: one red block)"
    )
    parser.add_argument(
        "--output-dir", type=Path, default=Path("out/demo"), help="report, image and node logs"
    )
    parser.add_argument("--domain-id", type=int, default=0, help="0: reserve a free one")
    parser.set_defaults(run=run)


def _say(message: str) -> None:
    print(f"[a2 demo] {message}", flush=True)


def run(args: argparse.Namespace) -> int:
    args.output_dir.mkdir(parents=True, exist_ok=True)
    if args.domain_id:
        return _run(args, args.domain_id)
    from domain_coordinator import domain_id

    with domain_id() as reserved:
        return _run(args, reserved)


def _run(args: argparse.Namespace, domain_id: int) -> int:
    from a2_grasping.action import Pick
    from a2_grasping.tools.sim_session import SimSession

    report = DemoReport(args.instruction, args.scene, args.seed, domain_id)
    started = time.monotonic()
    _say(f"1/5 starting the simulated cell and the pipeline (ROS_DOMAIN_ID={domain_id})")
    session = SimSession(
        domain_id,
        args.output_dir,
        sim_arguments=["-p", f"seed:={args.seed}", "-p", f"scene:={args.scene}"],
        say=lambda message: _say(f"    {message}"),
    )
    try:
        report.timings_s["start_up"] = time.monotonic() - started
        objects = session.reset(args.seed, args.scene)
        report.objects = [_object_entry(o) for o in objects]
        _say(f"2/5 scene '{args.scene}' seed {args.seed}: {', '.join(o.name for o in objects)}")
        session.wait_for_fresh_scene()
        scene_before = session.latest_scene()
        _say(f"3/5 /pick {args.instruction!r}")
        pick_started = time.monotonic()
        result, report.stages = session.pick(
            Pick.Goal(instruction=args.instruction),
            on_stage=lambda stage: _say(f"    stage: {stage}"),
        )
        report.timings_s["pick"] = time.monotonic() - pick_started
        report.pick_error_code = int(result.error_code)
        report.pick_error_message = result.error_message
        report.object_held = bool(result.object_held)
        grasp = _pose_matrix(result.executed_grasp.pose.pose)
        report.grasp_pose_base = grasp.round(5).tolist()
        _say("4/5 scoring against the simulator's ground truth")
        after = session.objects()
        report.objects = [_object_entry(o) for o in after]
        best = max(after, key=lambda o: o.height_gain_m)
        report.lifted_object, report.lift_m = best.name, float(best.height_gain_m)
        report.ok = result.error_code == Pick.Result.NONE and report.lift_m >= 0.05
        _save_image(scene_before, grasp, result.executed_grasp.width_m, args.output_dir)
    finally:
        _say("5/5 stopping the nodes")
        codes = session.close()
        names = [p.name for p in reversed(session.processes)]
        report.node_exit_codes = dict(zip(names, codes, strict=True))
    report.ok = report.ok and all(code == 0 for code in report.node_exit_codes.values())
    report.timings_s["total"] = time.monotonic() - started
    report_path = args.output_dir / "demo_report.json"
    report_path.write_text(json.dumps(asdict(report), indent=2) + "\n")
    _summarise(report, report_path)
    return 0 if report.ok else 1


def _object_entry(sim_object: Any) -> dict[str, Any]:
    position = sim_object.pose.position
    return {
        "name": sim_object.name,
        "shape": sim_object.shape,
        "size_m": [round(v, 4) for v in sim_object.size_m],
        "position_m": [round(position.x, 4), round(position.y, 4), round(position.z, 4)],
        "height_gain_m": round(float(sim_object.height_gain_m), 4),
    }


def _pose_matrix(pose: Any) -> np.ndarray:
    from a2_grasping.ros import conversions

    try:
        return conversions.pose_to_matrix(pose)
    except ValueError:  # no grasp was chosen (e.g. selection failed)
        return np.full((4, 4), np.nan)


def _save_image(scene_msg: Any, grasp: np.ndarray, width_m: float, output_dir: Path) -> None:
    """The first camera's image of the scene the grasp was chosen on, with the grasp drawn."""
    from PIL import Image, ImageDraw

    from a2_grasping.ros import conversions

    if scene_msg is None or not np.all(np.isfinite(grasp)):
        return
    scene = conversions.scene_from_msg(scene_msg)
    view = scene.views[0]
    image = Image.fromarray(view.color_rgb)
    draw = ImageDraw.Draw(image)
    half = max(width_m, 0.02) / 2 + 0.01
    # Finger tips and the approach line, in the TCP frame (y closes, z approaches).
    segments = [
        ((0, -half, 0), (0, -half, -0.05)),
        ((0, half, 0), (0, half, -0.05)),
        ((0, -half, -0.05), (0, half, -0.05)),
        ((0, 0, -0.05), (0, 0, -0.15)),
    ]
    camera_from_base = view.camera_from_base()
    for start, end in segments:
        pixels = []
        for point in (start, end):
            base = grasp @ np.array([*point, 1.0])
            camera = camera_from_base @ base
            uv = view.intrinsics @ (camera[:3] / camera[2])
            pixels.append((float(uv[0]), float(uv[1])))
        draw.line(pixels, fill=(40, 255, 60), width=3)
    path = output_dir / "demo_grasp.png"
    image.save(path)
    _say(f"    image: {path}")


def _summarise(report: DemoReport, report_path: Path) -> None:
    _say("---- report ----")
    _say(f"instruction: {report.instruction!r} ({report.selection_mode})")
    _say(f"stages: {' -> '.join(report.stages)}")
    _say(f"/pick: code {report.pick_error_code} {report.pick_error_message}".rstrip())
    _say(f"lifted: {report.lifted_object} by {report.lift_m * 100:.1f} cm")
    _say(f"held after the pick: {report.object_held}")
    _say(
        f"time: start-up {report.timings_s.get('start_up', 0):.1f} s, pick "
        f"{report.timings_s.get('pick', 0):.1f} s, total {report.timings_s['total']:.1f} s"
    )
    _say(f"node exit codes: {report.node_exit_codes}")
    _say(f"report: {report_path}")
    _say("result: " + ("OK, object lifted" if report.ok else "FAILED"))
