"""The reports of `bench sim`: summaries, tables, plots and annotated camera images."""

from __future__ import annotations

import argparse
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from a2_grasping.bench.language_episodes import TEMPLATES, LanguageEpisode, TruthObject
from a2_grasping.bench.protocol import REFUSALS


def summary(
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


def plot(episodes: list[dict[str, Any]], path: Path) -> None:
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


def save_view(scene_msg: Any, path: Path) -> None:
    from PIL import Image

    from a2_grasping.ros import conversions

    if scene_msg is not None:
        Image.fromarray(conversions.color_image_to_rgb(scene_msg.color_images[0])).save(path)


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
    picks = [s for s in steps if s["outcome"] not in REFUSALS.values()]
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


def plot_language(summaries: dict[str, dict[str, Any]], path: Path) -> None:
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


def save_annotated(
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
