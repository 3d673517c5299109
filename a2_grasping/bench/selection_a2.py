"""`a2-grasping bench select --a2`: a2 mode's /select_grasp core on the cell's rendered scenes.

Random weights of the published sizes (ViT-L/14@336, the fusion network; `--small-clip` for a
smoke test), the selector built as inference_node builds it (guarded by grounding unless
`--unguarded`, antipodal candidates, UR5e reachability), `--clip-tiles` (default the published
[3, 4]) on every camera of the cell. Per scene, in this order:

- `full_tiles`: every tile computed (skip_empty_tiles off, as before issue 27), cold;
- `skip_cold`: tile skipping on, caches empty (a new scene);
- `skip_cached`: the same request again (a place after a grasp on the same scene reuses the
  tile maps the same way);
- `max_abs_diff`: fused features of the scene's object points (voxelised at 1 cm, as the scorer
  feeds them) with and without skipping: must be exactly 0.

Tile counts (computed, skipped, reused) do not depend on the machine's load; the times do: the
JSON records the CPU, the load average and torch's thread count with them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--a2",
        action="store_true",
        help="a2 mode with random published-size weights instead of attributes mode",
    )
    parser.add_argument(
        "--clip-tiles", type=int, nargs=2, default=(3, 4), metavar=("ROWS", "COLS"),
        help="with --a2: CLIP tiles per view (default the published 3 4)",
    )  # fmt: skip
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16", "auto"),
        default="auto",
        help="with --a2: CLIP precision (auto: bf16 where native)",
    )
    parser.add_argument(
        "--unguarded", action="store_true", help="with --a2: ground_instructions false"
    )
    parser.add_argument(
        "--small-clip", action="store_true", help="with --a2: a small CLIP (smoke test)"
    )
    parser.add_argument(
        "--skip-full-tiles",
        action="store_true",
        help="with --a2: do not time the every-tile baseline (nor check exactness)",
    )


def run_a2(args: argparse.Namespace) -> dict[str, Any]:
    from a2_grasping.bench.language_episodes import plan_episodes
    from a2_grasping.core.warmup import warm_up
    from a2_grasping.sim.capture import capture_scene
    from a2_grasping.sim.cell import SimCell
    from a2_grasping.sim.config import SimConfig

    bench = _A2Bench(args)
    # Warm-up, as inference_node does at configure: lazy initialisation is not a scene's cost.
    warm = warm_up(bench.selector(bench.extractor(skip=True)).select)
    print(warm.describe(), flush=True)
    cell = SimCell(SimConfig(seed=args.seed, scene="language"))
    scenes: list[dict[str, Any]] = []
    for episode in plan_episodes(args.seed, args.scenes, "language"):
        cell.reset(episode.seed, "language")
        record = bench.scene_record(capture_scene(cell), episode.instruction)
        record = {"seed": episode.seed, "objects": len(cell.objects)} | record
        scenes.append(record)
        print(f"seed {episode.seed}: {_describe(record)}", flush=True)
    return bench.summary(scenes, warm)


RUNS = ("full_tiles", "skip_cold", "skip_cached")


def _describe(record: dict[str, Any]) -> str:
    runs = ", ".join(
        f"{name} {record[name]['ms'] / 1e3:.1f} s ({record[name]['outcome']}, "
        f"{record[name].get('tiles_computed', '-')} tiles)"
        for name in RUNS
        if name in record
    )
    exact = f"; max abs diff {record['max_abs_diff']}" if "max_abs_diff" in record else ""
    return runs + exact


class _A2Bench:
    """The models (random weights), the CPU's precision and the selectors of one run."""

    def __init__(self, args: argparse.Namespace) -> None:
        import torch

        from a2_grasping.core.inference_config import InferenceConfig
        from a2_grasping.core.kinematics import UR5eReachability
        from a2_grasping.core.policy.fusion_config import FusionConfig
        from a2_grasping.core.policy.fusion_model import A2FusionModel
        from a2_grasping.core.policy.hardware import read_cpu_info, resolve_hardware
        from a2_grasping.core.selection.common import SelectionConfig
        from a2_grasping.testing.offline_clip import (
            SMALL_CLIP,
            VIT_L14_336,
            letter_tokenizer,
            random_clip,
        )

        self.args = args
        self.cpu = read_cpu_info()
        self.hardware = resolve_hardware("cpu", args.precision, self.cpu)
        print(f"CPU: {self.cpu.describe()}; {self.hardware.reason}", flush=True)
        torch.manual_seed(0)
        started_s = time.perf_counter()
        self.model = random_clip(SMALL_CLIP if args.small_clip else VIT_L14_336)
        self.tokenizer = letter_tokenizer(args.json.parent / "bench_select_a2_tokenizer")
        self.fusion = A2FusionModel(FusionConfig()).eval()
        self.model_s = time.perf_counter() - started_s
        self.rows, self.cols = args.clip_tiles
        self.inference = InferenceConfig()
        self.selection = SelectionConfig(time_budget_s=600.0)
        self.reachability = UR5eReachability() if self.inference.check_reachability else None

    def extractor(self, *, skip: bool) -> Any:
        from a2_grasping.core.policy.clip_config import ClipFeatureConfig
        from a2_grasping.core.policy.clip_features import ClipFeatureExtractor

        config = ClipFeatureConfig(
            model_name_or_path="random",
            tile_rows=self.rows,
            tile_cols=self.cols,
            dtype=self.hardware.clip_dtype,
            skip_empty_tiles=skip,
        )
        return ClipFeatureExtractor(self.model, self.tokenizer, config)

    def selector(self, clip: Any) -> Any:
        from a2_grasping.core.policy.a2_scorer import A2Scorer
        from a2_grasping.core.selection.candidates import make_candidate_generator
        from a2_grasping.core.selection.grasp import GraspSelector

        return GraspSelector(
            make_candidate_generator(self.inference),
            self.selection,
            scorer=A2Scorer(clip, self.fusion),
            reachability=self.reachability,
            ground_instructions=not self.args.unguarded,
        )

    def scene_record(self, scene: Any, instruction: str) -> dict[str, Any]:
        """Every tile, tiles skipped (cold), the same again (cached), and whether skipping
        changed any feature."""
        from a2_grasping.core.selection.request import SelectRequest

        request = SelectRequest(instruction, (), 5, 10.0)
        record: dict[str, Any] = {
            "instruction": instruction,
            "views": [view.name for view in scene.views],
            "tiles_per_view": self.rows * self.cols,
            "load_average_1min": round(os.getloadavg()[0], 2),
        }
        full = self.extractor(skip=False)
        if not self.args.skip_full_tiles:
            record["full_tiles"] = _timed(self.selector(full), scene, request)
            record["full_tiles"]["tiles_computed"] = full.cache_stats.tiles_computed
        skipping = self.extractor(skip=True)
        chosen = self.selector(skipping)
        stats = skipping.cache_stats
        record["skip_cold"] = _timed(chosen, scene, request) | {
            "tiles_computed": stats.tiles_computed,
            "tiles_skipped": stats.tiles_skipped,
        }
        stats.reset()
        record["skip_cached"] = _timed(chosen, scene, request)
        record["skip_cached"] |= {
            "tiles_computed": stats.tiles_computed,
            "tiles_reused": stats.tiles_reused,
        }
        if not self.args.skip_full_tiles:
            record["max_abs_diff"] = self._skipping_changes(skipping, full, scene, instruction)
        return record

    def _skipping_changes(
        self, skipping: Any, full: Any, scene: Any, instruction: str
    ) -> dict[str, Any]:
        import torch

        from a2_grasping.core.geometry import voxel_downsample
        from a2_grasping.core.policy.a2_scorer import FEATURE_VOXEL_M
        from a2_grasping.core.selection.grasp import workspace_object_points

        points = workspace_object_points(scene, self.selection)
        sparse = points[voxel_downsample(points, FEATURE_VOXEL_M)]
        got = skipping.point_features(sparse, scene.views, instruction)
        want = full.point_features(sparse, scene.views, instruction)
        return {
            "features": float((got.features - want.features).abs().max()),
            "similarities": float((got.similarities - want.similarities).abs().max()),
            "valid_views_equal": bool(torch.equal(got.num_valid_views, want.num_valid_views)),
            "points": len(sparse),
        }

    def summary(self, scenes: list[dict[str, Any]], warm: Any) -> dict[str, Any]:
        import numpy as np
        import torch

        def median(name: str) -> float | None:
            values = [s[name]["ms"] for s in scenes if name in s]
            return round(statistics.median(values), 1) if values else None

        return {
            "benchmark": "select_a2",
            "cpu": self.cpu.describe(),
            "torch_threads": torch.get_num_threads(),
            "precision": {"chosen": self.hardware.precision, "reason": self.hardware.reason},
            "clip": "small random" if self.args.small_clip else "ViT-L/14@336 random",
            "clip_tiles": [self.rows, self.cols],
            "guarded": not self.args.unguarded,
            "model_creation_s": round(self.model_s, 1),
            "warm_up": {"s": round(warm.seconds, 2), "outcome": warm.outcome},
            "first_seed": self.args.seed,
            "median_ms": {name: median(name) for name in RUNS},
            "median_tiles_computed": {
                name: statistics.median(s[name]["tiles_computed"] for s in scenes)
                for name in RUNS
                if all(name in s for s in scenes)
            },
            "all_exact": all(
                s["max_abs_diff"]["features"] == 0.0
                and s["max_abs_diff"]["similarities"] == 0.0
                and s["max_abs_diff"]["valid_views_equal"]
                for s in scenes
                if "max_abs_diff" in s
            ),
            "scenes": scenes,
            "np_version": np.__version__,
        }


def _timed(chosen: Any, scene: Any, request: Any) -> dict[str, Any]:
    from a2_grasping.core.errors import SelectionError

    started = time.perf_counter()
    try:
        ranked = chosen.select(scene, request)
        outcome, stages = "NONE", ranked.timings_ms
    except SelectionError as error:
        outcome, stages = error.code.name, {}
    return {
        "ms": round((time.perf_counter() - started) * 1e3, 1),
        "outcome": outcome,
        "stage_ms": {k: round(v, 1) for k, v in stages.items()},
    }
