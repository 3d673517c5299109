"""The main job: pick the object an instruction names in the simulated cell, and report.

Starts the four nodes as separate processes with the shipped parameter files (as the launch
file does): sim_node (MuJoCo UR5e + 2F-85, two RGB-D cameras), perception_node, inference_node
and executor_node. Sets the cell up from --scene/--seed, waits for a scene, sends the /pick goal
with --instruction, prints each stage, then scores the outcome against the simulator's ground
truth. Writes demo_report.json and demo_grasp.png (a camera image with the chosen grasp drawn)
to --output-dir, and stops every node.

The default is a `language` scene (seed 176: eight objects - a red block, a red ball and a red
cylinder among yellow, purple, pink and cyan ones, four of them boxes) and "pick the red block",
which names one object among several: neither the colour nor the shape alone would do.

The report states:
- the named object: --target, or else the object the instruction names on the simulator's ground
  truth (grounding's own semantics applied to the true colours, shapes, sizes and positions,
  independent of perception);
- the grounded target: the object the pipeline chose (Pick's result.target, as perceived);
- the lifted object: the one whose centre rose at least 5 cm during the pick (ground truth; an
  object lifted and set back down after WRONG_OBJECT counts);
and passes only when /pick succeeded and the lifted object is the named one. Without A2 weights
the inference node runs in attributes mode (the instruction is grounded to one object); the
report gives the mode.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from a2_grasping.core.errors import GraspSelectionError
from a2_grasping.tools.bench_sim import LIFT_SUCCESS_M as LIFT_M
from a2_grasping.tools.bench_sim import named_by_truth, truth_objects

DEFAULT_SCENE, DEFAULT_SEED, DEFAULT_INSTRUCTION = "language", 176, "pick the red block"


@dataclass
class DemoReport:
    instruction: str
    scene: str
    seed: int
    ros_domain_id: int
    objects: list[dict[str, Any]] = field(default_factory=list)
    # What the instruction names (simulator names, e.g. "red block"); any one of them is right
    # (several only for an indefinite instruction such as "a red cube").
    named_objects: list[str] = field(default_factory=list)
    named_by: str = ""  # "--target" or "ground truth"
    grounded_target: str = ""  # Pick's result.target.description (what perception grounded)
    grounded_target_object: str = ""  # the simulator object nearest to that target's box
    target_verified: bool = False  # the executor saw the target's place empty after the lift
    stages: list[str] = field(default_factory=list)
    pick_error_code: int = -1
    pick_error_message: str = ""
    object_held: bool = False
    lifted_object: str = ""  # rose >= 5 cm during the pick (ground truth); empty: none
    lift_m: float = 0.0  # the highest rise of any object during the pick
    lifted_named_object: bool = False
    timings_s: dict[str, float] = field(default_factory=dict)
    grasp_pose_base: list[list[float]] = field(default_factory=list)
    selection_mode: str = ""
    node_exit_codes: dict[str, int] = field(default_factory=dict)
    ok: bool = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instruction", default=DEFAULT_INSTRUCTION, help="what to pick")
    parser.add_argument("--scene", choices=("single", "clutter", "language"), default=DEFAULT_SCENE)
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"seed of the generated scene ({DEFAULT_SEED}: eight objects, three of them red)",
    )
    parser.add_argument(
        "--target",
        default="",
        help="the simulator object the instruction names (e.g. 'red cube 2'); default: the "
        "object the instruction names on the simulator's ground truth",
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
    report.named_objects, report.named_by = _named_objects(args)
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
        report.selection_mode = _selection_mode(session)
        _say(f"2/5 scene '{args.scene}' seed {args.seed}: {', '.join(o.name for o in objects)}")
        _say(f"    the instruction names: {' or '.join(report.named_objects)} ({report.named_by})")
        session.wait_for_fresh_scene()
        scene_before = session.latest_scene()
        _say(f"3/5 /pick {args.instruction!r} ({report.selection_mode} mode)")
        pick_started = time.monotonic()
        gains: dict[str, float] = {}

        def poll() -> None:
            for o in session.objects():
                gains[o.name] = max(gains.get(o.name, 0.0), float(o.height_gain_m))

        result, report.stages = session.pick(
            Pick.Goal(instruction=args.instruction),
            on_stage=lambda stage: _say(f"    stage: {stage}"),
            on_poll=poll,
        )
        report.timings_s["pick"] = time.monotonic() - pick_started
        _say("4/5 scoring against the simulator's ground truth")
        poll()
        grasp = _score(report, result, gains, before=objects, after=session.objects())
        report.ok = result.error_code == Pick.Result.NONE and report.lifted_named_object
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


def _named_objects(args: argparse.Namespace) -> tuple[list[str], str]:
    """What the instruction names: --target, or grounding on the simulator's ground truth."""
    truth = truth_objects(args.seed, args.scene)
    if args.target:
        if args.target not in {o.name for o in truth}:
            raise SystemExit(
                f"--target {args.target!r}: scene '{args.scene}' seed {args.seed} has "
                f"{', '.join(o.name for o in truth)}"
            )
        return [args.target], "--target"
    try:
        return list(named_by_truth(args.instruction, truth)), "ground truth"
    except GraspSelectionError as error:
        raise SystemExit(
            f"on the true scene of '{args.scene}' seed {args.seed}, {args.instruction!r} names "
            f"nothing unambiguously ({error}); give --target NAME"
        ) from error


def _score(
    report: DemoReport,
    result: Any,
    gains: dict[str, float],
    *,
    before: list[Any],
    after: list[Any],
) -> np.ndarray:
    """Fill the report from /pick's result and the ground truth (`before` the pick: where the
    grounded target was seen; `after`: the objects' final state); returns the grasp pose."""
    report.pick_error_code = int(result.error_code)
    report.pick_error_message = result.error_message
    report.object_held = bool(result.object_held)
    report.grounded_target = result.target.description
    report.target_verified = bool(result.target_verified)
    grasp = _pose_matrix(result.executed_grasp.pose.pose)
    report.grasp_pose_base = grasp.round(5).tolist()
    report.objects = [_object_entry(o) for o in after]
    report.grounded_target_object = _nearest_object(result.target, before)
    highest = max(gains, key=lambda name: gains[name], default="")
    report.lift_m = gains.get(highest, 0.0)
    report.lifted_object = highest if report.lift_m >= LIFT_M else ""
    report.lifted_named_object = report.lifted_object in report.named_objects
    return grasp


def _selection_mode(session: Any) -> str:
    """The inference node's mode, from its parameters (as it decides at configure)."""
    values = session.node_parameters(
        "inference_node", ["fusion_weights_path", "clip_model", "ground_instructions"]
    )
    if values.get("fusion_weights_path") and values.get("clip_model"):
        return "a2"
    return "attributes" if values.get("ground_instructions") else "geometric"


def _nearest_object(target: Any, sim_objects: list[Any]) -> str:
    """The simulator object whose centre is nearest (top view) to the grounded target's box."""
    if not target.description or not sim_objects:
        return ""
    where = target.box_pose.position
    return min(
        sim_objects,
        key=lambda o: math.hypot(o.pose.position.x - where.x, o.pose.position.y - where.y),
    ).name


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
    _say(f"instruction: {report.instruction!r} ({report.selection_mode} mode)")
    _say(f"named object: {' or '.join(report.named_objects)} ({report.named_by})")
    _say(
        f"grounded target: {report.grounded_target or '(none)'}"
        + (f" = {report.grounded_target_object}" if report.grounded_target_object else "")
        + (", verified after the lift" if report.target_verified else "")
    )
    _say(f"stages: {' -> '.join(report.stages)}")
    _say(f"/pick: code {report.pick_error_code} {report.pick_error_message}".rstrip())
    _say(f"lifted: {report.lifted_object or 'nothing'} (highest rise {report.lift_m * 100:.1f} cm)")
    _say(f"held after the pick: {report.object_held}")
    _say(
        f"time: start-up {report.timings_s.get('start_up', 0):.1f} s, pick "
        f"{report.timings_s.get('pick', 0):.1f} s, total {report.timings_s['total']:.1f} s"
    )
    _say(f"node exit codes: {report.node_exit_codes}")
    _say(f"report: {report_path}")
    if report.ok:
        _say(f"result: OK, the named object ({report.lifted_object}) was lifted")
    elif report.lifted_object and not report.lifted_named_object:
        _say(f"result: FAILED, lifted {report.lifted_object}, not the named object")
    else:
        _say("result: FAILED")
