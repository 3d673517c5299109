"""Seeded pick episodes through the full pipeline: `a2-grasping bench sim --json OUT`.

Each episode resets the simulated cell (--scene single|clutter, seed = --seed + episode), waits
for a scene of it, and sends /pick ("pick an object") up to --attempts times; an attempt succeeds
when an object ends at least 5 cm above where it started (simulator ground truth). Reported:
first-attempt success rate, attempts per picked object, /pick durations split into select +
plan and execution, and the real-time factor of the simulator. Saves a histogram plot and one
camera image per outcome (success, failure reason) next to the JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

LIFT_SUCCESS_M = 0.05


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--scene", choices=("single", "clutter"), default="single")
    parser.add_argument("--seed", type=int, default=1000, help="seed of the first episode")
    parser.add_argument("--attempts", type=int, default=2, help="attempts per episode")
    parser.add_argument("--domain-id", type=int, default=0, help="0: reserve a free one")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.domain_id:
        return _run(args, args.domain_id)
    from domain_coordinator import domain_id

    with domain_id() as reserved:
        return _run(args, reserved)


def _run(args: argparse.Namespace, domain_id: int) -> int:
    from a2_grasping.action import Pick
    from a2_grasping.tools.sim_session import SimSession

    out_dir = args.json.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    episodes: list[dict[str, Any]] = []
    images: dict[str, Any] = {}
    wall_start = time.monotonic()
    with SimSession(domain_id, out_dir / "bench_sim_logs") as session:
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
    first = [e["attempts"][0]["outcome"] == "success" for e in episodes]
    picked = [e for e in episodes if e["attempts"][-1]["outcome"] == "success"]
    attempts = [a for e in episodes for a in e["attempts"]]
    return {
        "scene": args.scene,
        "episode_count": len(episodes),
        "first_attempt_success_rate": sum(first) / max(1, len(first)),
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


def _save_view(scene_msg: Any, path: Path) -> None:
    from PIL import Image

    from a2_grasping.ros import conversions

    if scene_msg is not None:
        Image.fromarray(conversions.color_image_to_rgb(scene_msg.color_images[0])).save(path)
