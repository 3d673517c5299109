"""The main job: pick (and place) the object an instruction names in the simulated cell, and report.

Starts the four nodes as separate processes with the shipped parameter files (as the launch
file does): sim_node (MuJoCo UR5e + 2F-85, two RGB-D cameras), perception_node, inference_node
and executor_node. Sets the cell up from --scene/--seed, waits for a scene, sends the goal with
--instruction, prints each stage, then scores the outcome against the simulator's ground truth.
Writes demo_report.json and demo_grasp.png (a camera image with the chosen grasp drawn) to
--output-dir, and stops every node.

Two tasks:
- pick_and_place (the default): /pick_and_place on a `place` scene, seed 30, "put the red block
  on the plate": six objects (a red and an orange block, three cubes, a cylinder) beside a blue
  plate and a yellow tray; the red block is to be picked and put on the plate, not the tray.
- pick: /pick; default scene `language` seed 176 (eight objects - a red block, a red ball and a
  red cylinder among yellow, purple, pink and cyan ones) and "pick the red block", where neither
  the colour nor the shape alone would do.

The report states:
- the named object: --target, or else the object the instruction names on the simulator's ground
  truth (grounding's own semantics applied to the true colours, shapes, sizes and positions,
  independent of perception);
- the grounded target: the object the pipeline chose (Pick's result.target, as perceived);
- the lifted object: the one whose centre rose at least 5 cm during the pick (ground truth; an
  object lifted and set back down after WRONG_OBJECT counts);
- for pick_and_place, the place: the relation and its reference object (grounded on the ground
  truth, as the named object is), where the moved object came to rest and whether that is inside
  the relation's valid region (spec §2.7, as `bench sim --task pick_and_place` scores it);
and passes only when the action succeeded, the lifted object is the named one and, for
pick_and_place, it rests in the valid region. Without A2 weights the inference node runs in
attributes mode (the instruction is grounded to one object); the report gives the mode.
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

from a2_grasping.bench.language_episodes import named_by_truth, truth_objects
from a2_grasping.bench.protocol import LIFT_SUCCESS_M as LIFT_M
from a2_grasping.core.errors import SelectionError
from a2_grasping.testing.sensor_options import add_sensor_arguments, sensor_settings

# Per task: (scene, seed, instruction).
DEFAULTS = {
    "pick_and_place": ("place", 30, "put the red block on the plate"),
    "pick": ("language", 176, "pick the red block"),
}
DEFAULT_TASK = "pick_and_place"


@dataclass
class DemoReport:
    task: str
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
    # pick_and_place only: the relation ("in", "next to", "left of", ...) and its reference
    # object (ground truth), where the named object rests after the release, and the verdict.
    place_relation: str = ""
    place_reference: str = ""
    rest_position_m: list[float] = field(default_factory=list)
    placed_validly: bool = False
    placement_verified: bool = False  # the executor saw it in the region after the release
    place_verdict: str = ""
    selection_mode: str = ""
    node_exit_codes: dict[str, int] = field(default_factory=dict)
    ok: bool = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--task",
        choices=tuple(DEFAULTS),
        default=DEFAULT_TASK,
        help="pick_and_place (default: /pick_and_place) or pick (/pick only)",
    )
    parser.add_argument(
        "--instruction",
        default="",
        help="what to pick (and where to put it); default: "
        + "; ".join(f"{task}: {defaults[2]!r}" for task, defaults in DEFAULTS.items()),
    )
    parser.add_argument(
        "--scene",
        choices=("single", "clutter", "language", "place", "household"),
        default="",
        help="the generated scene; default: "
        + ", ".join(f"{task}: {defaults[0]}" for task, defaults in DEFAULTS.items()),
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the generated scene; default: "
        + ", ".join(f"{task}: {defaults[1]}" for task, defaults in DEFAULTS.items()),
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
    add_sensor_arguments(parser, several=False)
    parser.set_defaults(run=run)


def _say(message: str) -> None:
    print(f"[a2 demo] {message}", flush=True)


def run(args: argparse.Namespace) -> int:
    scene, seed, instruction = DEFAULTS[args.task]
    args.scene = args.scene or scene
    args.seed = seed if args.seed is None else args.seed
    args.instruction = args.instruction or instruction
    settings = sensor_settings(args)
    if len(settings) != 1:
        raise SystemExit("--sensor: the demo runs one profile")
    args.sensor_setting = settings[0]
    if args.scene == "household" and (args.task != "pick" or not args.target):
        # Ground truth says what an instruction names through grounding, which knows box,
        # cylinder and ball shapes, not mugs or bananas.
        raise SystemExit("--scene household: use --task pick with --target NAME")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    if args.domain_id:
        return _run(args, args.domain_id)
    from domain_coordinator import domain_id

    with domain_id() as reserved:
        return _run(args, reserved)


def _run(args: argparse.Namespace, domain_id: int) -> int:
    from a2_grasping.testing.sim_session import SimSession

    report = DemoReport(args.task, args.instruction, args.scene, args.seed, domain_id)
    report.named_objects, report.named_by = _named_objects(args)
    if args.task == "pick_and_place":
        report.place_relation, report.place_reference = _place_by_truth(args)
    started = time.monotonic()
    _say(f"1/5 starting the simulated cell and the pipeline (ROS_DOMAIN_ID={domain_id})")
    session = SimSession(
        domain_id,
        args.output_dir,
        sim_arguments=[
            "-p",
            f"seed:={args.seed}",
            "-p",
            f"scene:={args.scene}",
            *args.sensor_setting.sim_arguments(),
        ],
        say=lambda message: _say(f"    {message}"),
    )
    try:
        report.timings_s["start_up"] = time.monotonic() - started
        objects = session.reset(args.seed, args.scene)
        report.objects = [_object_entry(o) for o in objects]
        report.selection_mode = _selection_mode(session)
        _say(f"2/5 scene '{args.scene}' seed {args.seed}: {', '.join(o.name for o in objects)}")
        _say(f"    the instruction names: {' or '.join(report.named_objects)} ({report.named_by})")
        if report.place_reference:
            _say(f"    to put {report.place_relation} the {report.place_reference} (ground truth)")
        session.wait_for_fresh_scene()
        scene_before = session.latest_scene()
        action = "/pick" if args.task == "pick" else "/pick_and_place"
        _say(f"3/5 {action} {args.instruction!r} ({report.selection_mode} mode)")
        task_started = time.monotonic()
        gains: dict[str, float] = {}

        def poll() -> None:
            for o in session.objects():
                gains[o.name] = max(gains.get(o.name, 0.0), float(o.height_gain_m))

        result, report.stages = session.run_task(
            action,
            _goal(args.task, args.instruction),
            on_stage=lambda stage: _say(f"    stage: {stage}"),
            on_poll=poll,
        )
        report.timings_s[args.task] = time.monotonic() - task_started
        _say("4/5 scoring against the simulator's ground truth")
        poll()
        after = session.objects()
        grasp = _score(report, result, gains, before=objects, after=after)
        report.ok = result.error_code == 0 and report.lifted_named_object
        if args.task == "pick_and_place":
            _score_place(report, args, after)
            report.ok = report.ok and report.placed_validly
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


def _goal(task: str, instruction: str) -> Any:
    from a2_grasping.action import Pick, PickAndPlace

    if task == "pick":
        return Pick.Goal(instruction=instruction)
    return PickAndPlace.Goal(instruction=instruction)


def _pick_part(args: argparse.Namespace) -> str:
    """The instruction's pick half (the whole instruction for the pick task)."""
    from a2_grasping.core.selection.place_regions import split_pick_and_place

    if args.task == "pick":
        return str(args.instruction)
    try:
        return split_pick_and_place(args.instruction)[0]
    except SelectionError as error:
        raise SystemExit(f"--instruction: {error}") from error


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
    pick_text = _pick_part(args)
    try:
        return list(named_by_truth(pick_text, truth)), "ground truth"
    except SelectionError as error:
        raise SystemExit(
            f"on the true scene of '{args.scene}' seed {args.seed}, {pick_text!r} names "
            f"nothing unambiguously ({error}); give --target NAME"
        ) from error


def _place_by_truth(args: argparse.Namespace) -> tuple[str, str]:
    """(relation, reference object name) of the instruction's place half on the ground truth;
    the relation in `bench.sim_place.RELATIONS` terms."""
    from a2_grasping.bench.language_episodes import truth_scene_objects
    from a2_grasping.core.selection.place_regions import (
        ground_reference,
        parse_place,
        split_pick_and_place,
    )

    truth = truth_objects(args.seed, args.scene)
    try:
        parsed = parse_place(split_pick_and_place(args.instruction)[1])
        reference = ground_reference(parsed, truth_scene_objects(truth))
    except SelectionError as error:
        raise SystemExit(
            f"on the true scene of '{args.scene}' seed {args.seed}, the place of "
            f"{args.instruction!r} names no one object ({error})"
        ) from error
    relation = parsed.relation
    name = "in" if relation.inside else (relation.direction or "next to")
    return name, truth[reference.index].name


def _score_place(report: DemoReport, args: argparse.Namespace, after: list[Any]) -> None:
    """Where the named object rests, judged as `bench sim --task pick_and_place` judges it."""
    from a2_grasping.bench.sim_place import placement_valid
    from a2_grasping.sim.objects import generate_objects

    specs = {o.name: o for o in generate_objects(args.seed, args.scene)}
    moved = report.named_objects[0] if len(report.named_objects) == 1 else report.lifted_object
    resting = {o.name: o for o in after}.get(moved)
    if resting is None:
        report.place_verdict = "no named object was lifted"
        return
    where = resting.pose.position
    report.rest_position_m = [round(where.x, 4), round(where.y, 4), round(where.z, 4)]
    report.placed_validly, report.place_verdict = placement_valid(
        report.place_relation,
        specs[moved],
        specs[report.place_reference],
        (where.x, where.y, where.z),
    )


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
    if report.task == "pick":
        report.object_held = bool(result.object_held)
    else:
        report.placement_verified = bool(result.placement_verified)
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


def _relation_words(report: DemoReport) -> str:
    return "on" if report.place_relation == "in" else report.place_relation


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
    action = "/pick" if report.task == "pick" else "/pick_and_place"
    _say(f"{action}: code {report.pick_error_code} {report.pick_error_message}".rstrip())
    _say(f"lifted: {report.lifted_object or 'nothing'} (highest rise {report.lift_m * 100:.1f} cm)")
    if report.task == "pick":
        _say(f"held after the pick: {report.object_held}")
    else:
        _say(
            f"place: {_relation_words(report)} the {report.place_reference}; rests at "
            f"{report.rest_position_m or '-'}: {report.place_verdict}"
        )
    _say(
        f"time: start-up {report.timings_s.get('start_up', 0):.1f} s, {report.task} "
        f"{report.timings_s.get(report.task, 0):.1f} s, total {report.timings_s['total']:.1f} s"
    )
    _say(f"node exit codes: {report.node_exit_codes}")
    _say(f"report: {report_path}")
    if report.ok and report.task == "pick":
        _say(f"result: OK, the named object ({report.lifted_object}) was lifted")
    elif report.ok:
        _say(
            f"result: OK, the named object ({report.lifted_object}) was put "
            f"{_relation_words(report)} the {report.place_reference}"
        )
    elif report.lifted_object and not report.lifted_named_object:
        _say(f"result: FAILED, lifted {report.lifted_object}, not the named object")
    elif report.task == "pick_and_place" and report.lifted_named_object:
        _say(f"result: FAILED, the named object was not placed validly: {report.place_verdict}")
    else:
        _say("result: FAILED")
