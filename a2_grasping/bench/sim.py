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
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from a2_grasping.bench.language_episodes import (
    LanguageEpisode,
    plan_episodes,
    truth_objects,
)
from a2_grasping.bench.protocol import BENCH_EXECUTOR_ARGUMENTS, LIFT_SUCCESS_M, REFUSALS
from a2_grasping.bench.sim_report import (
    format_table,
    language_summary,
    plot,
    plot_language,
    save_annotated,
    save_view,
    summary,
)
from a2_grasping.testing.sensor_options import add_sensor_arguments, sensor_settings

MODES = ("attributes", "geometric")

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
        "(bench/sim_place.py)",
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
        from a2_grasping.bench.sim_place import run_place_benchmark

        return run_place_benchmark(args, domain_id)
    return _run_language(args, domain_id) if args.language else _run(args, domain_id)


def _run(args: argparse.Namespace, domain_id: int) -> int:
    from a2_grasping.action import Pick
    from a2_grasping.testing.sim_session import SimSession

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
    results = summary(episodes, sim_elapsed, wall_elapsed, args)
    args.json.write_text(json.dumps({**results, "episodes": episodes}, indent=2) + "\n")
    plot(episodes, out_dir / f"bench_sim_{args.scene}.png")
    for outcome, scene in images.items():
        save_view(scene, out_dir / f"bench_sim_{args.scene}_{outcome}.png")
    print(json.dumps(results, indent=2))
    return 0


def _select_latency_ms(session: Any) -> dict[str, float]:
    """/select_grasp's server-side time over the run's calls (the inference node's own rolling
    percentiles in /diagnostics, covering its last 200 calls)."""
    values = session.diagnostic_values("inference_node")
    return {
        "select_grasp_server_ms_p50": float(values["latency_ms_p50"]),
        "select_grasp_server_ms_p95": float(values["latency_ms_p95"]),
    }


# ---- named targets ----


def _run_language(args: argparse.Namespace, domain_id: int) -> int:
    from a2_grasping.core.policy.hardware import read_cpu_info
    from a2_grasping.testing.sim_session import SimSession

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
    plot_language(summaries, out_dir / f"bench_sim_language_{args.scene}.png")
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
        record = _language_step(session, episode) | {"removed_before": list(removed)}
        steps.append(record)
        outcome, lifted = record["outcome"], record["lifted"]
        if step == 0 and outcome != "success" and images_left[0] > 0:
            images_left[0] -= 1
            save_annotated(
                scene,
                episode,
                planned,
                lifted=lifted,
                outcome=outcome,
                path=out_dir / f"bench_sim_language_{mode}_seed{episode.seed}_{outcome}.png",
            )
        if outcome == "success":
            success = True
            break
        removed += [name for name in lifted if name not in removed]
        if (
            len(steps) >= 2
            and outcome in REFUSALS.values()
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


def _language_step(session: Any, episode: LanguageEpisode) -> dict[str, Any]:
    """One /pick of the episode's instruction, judged on ground truth: what was lifted (the
    highest rise of every object while the goal ran), and whether it was a named target."""
    from a2_grasping.action import Pick

    gains: dict[str, float] = {}

    def poll() -> None:
        for o in session.objects():
            gains[o.name] = max(gains.get(o.name, 0.0), float(o.height_gain_m))

    started = time.monotonic()
    stage_times: dict[str, float] = {}
    result, stages = session.pick(
        Pick.Goal(instruction=episode.instruction),
        on_stage=lambda stage: stage_times.setdefault(stage, time.monotonic()),
        on_poll=poll,
    )
    poll()
    moving_at = stage_times.get("moving_to_pregrasp", time.monotonic())
    lifted = sorted(name for name, gain in gains.items() if gain >= LIFT_SUCCESS_M)
    if any(name in episode.targets for name in lifted):
        outcome = "success"
    elif lifted:
        outcome = "wrong_object"
    elif result.error_code == Pick.Result.SELECTION_FAILED:
        outcome = REFUSALS.get(int(result.select_error_code), "selection_failed")
        if outcome == "selection_failed":
            outcome = f"select_code_{result.select_error_code}"
    else:
        outcome = f"code_{result.error_code}"
    return {
        "outcome": outcome,
        "lifted": lifted,
        "error_code": int(result.error_code),
        "select_error_code": int(result.select_error_code),
        "reported_wrong_object": int(result.error_code) == Pick.Result.WRONG_OBJECT,
        "message": result.error_message,
        "grounded_target": result.target.description,
        "target_verified": bool(result.target_verified),
        "select_plan_s": moving_at - started,
        "execute_s": time.monotonic() - moving_at,
        "stages": stages,
    }
