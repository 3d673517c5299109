"""The published-size models on a CUDA GPU: `a2-grasping bench gpu --json OUT`.

Random weights of the published sizes, created on the GPU (nothing downloaded): CLIP
ViT-L/14@336, the fusion network, GraspNet (20 000 input points). Each stage runs once to warm
up, then `--runs` times, with the device synchronised around every run; the median is reported
in milliseconds. The scene is the analytic tabletop of `bench model` (three boxes) seen by two
640x480 cameras, as the simulated cell has.

Stages: CLIP on one view in `--clip-tiles` (default the published 3x4; all tiles in one batch,
as inference_node runs them on a GPU) in fp32 and in bf16 under autocast, the text encoder, the
fusion network (500 points x 200 candidates), GraspNet forward + decode, and the whole a2
selection on both views (antipodal candidates, tile skipping on, tile cache off so every run
computes its tiles) in fp32 and bf16. bf16 is scored against fp32 as `bench model` does
(feature max abs difference and minimum cosine, fusion logits on fp32's top-500 points, top-500
overlap). The JSON names the GPU, its compute capability, the CUDA and torch versions, the TF32
switches and how long model creation took; the whole run takes well under five minutes on a
current data-centre GPU.

Without CUDA (a CPU-only torch build, or no device) nothing is measured: one line on stderr
says why, the JSON holds {"skipped": reason}, and the exit code is 77 (EXIT_NO_CUDA, the
automake convention for a skipped test), so scripts can tell "skipped" from success (0) and
failure (1). `--dry-run-cpu` runs every stage on the CPU with a small CLIP and GraspNet input
instead: a check of the script itself, its figures mean nothing.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_NO_CUDA = 77


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per stage (after warm-up)")
    parser.add_argument(
        "--clip-tiles", type=int, nargs=2, default=(3, 4), metavar=("ROWS", "COLS"),
        help="CLIP tiles per view (default the published 3 4)",
    )  # fmt: skip
    parser.add_argument(
        "--graspnet-points", type=int, default=20_000, help="GraspNet input size (published)"
    )
    parser.add_argument(
        "--dry-run-cpu",
        action="store_true",
        help="check the script on the CPU with a small CLIP (no GPU figures)",
    )
    parser.set_defaults(run=run)


def no_cuda_reason() -> str | None:
    """Why the GPU cannot be measured here, or None when torch sees a CUDA device."""
    import torch

    if torch.cuda.is_available():
        return None
    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
    return (
        f"torch sees no CUDA device (torch {torch.__version__}, {build}); run it on a machine "
        "with an NVIDIA GPU and a CUDA build of torch (README: Device, precision and budgets)"
    )


def run(args: argparse.Namespace) -> int:
    reason = None if args.dry_run_cpu else no_cuda_reason()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    if reason is not None:
        print(f"bench gpu: skipped, nothing measured: {reason}", file=sys.stderr)
        args.json.write_text(json.dumps({"skipped": reason, "exit_code": EXIT_NO_CUDA}) + "\n")
        return EXIT_NO_CUDA
    if args.runs < 1:
        raise SystemExit("--runs must be at least 1")
    started_s = time.perf_counter()
    results = _measure(args)
    results["total_s"] = round(time.perf_counter() - started_s, 1)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"total {results['total_s']} s; wrote {args.json}")
    return 0


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    bench = _GpuBench(args)
    models = bench.models()
    fp32, bf16 = bench.clip_stages(models)
    bench.fusion_and_graspnet_stages(models)
    bench.selection_stages(models, {"fp32": fp32, "bf16_autocast": bf16})
    bench.bf16_accuracy(models, fp32, bf16)
    if not bench.dry_run:
        import torch

        peak_gib = torch.cuda.max_memory_allocated(bench.device) / 2**30
        bench.results["peak_memory_gib"] = round(peak_gib, 2)
    return bench.results


class _GpuBench:
    """The device, the results and the timing of one run of the benchmark."""

    def __init__(self, args: argparse.Namespace) -> None:
        import torch

        from a2_grasping.core.policy.hardware import read_cpu_info

        self.args = args
        self.dry_run = bool(args.dry_run_cpu)
        self.device = (
            torch.device("cpu")
            if self.dry_run
            else torch.device("cuda", torch.cuda.current_device())
        )
        self.rows, self.cols = args.clip_tiles
        self.tiles = f"{self.rows}x{self.cols}"
        self.results: dict[str, Any] = {
            "dry_run_cpu": self.dry_run,
            "torch_version": torch.__version__,
            "cuda_version": torch.version.cuda,
            "bf16_supported": not self.dry_run and bool(torch.cuda.is_bf16_supported()),
            "tf32": {
                "matmul": bool(torch.backends.cuda.matmul.allow_tf32),
                "cudnn": bool(torch.backends.cudnn.allow_tf32),
            },
            "cpu": read_cpu_info().describe(),
            "runs": args.runs,
            "clip_tiles": [self.rows, self.cols],
            "stages": {},
            "model_creation_s": {},
        }
        if not self.dry_run:
            properties = torch.cuda.get_device_properties(self.device)
            self.results["gpu"] = torch.cuda.get_device_name(self.device)
            self.results["compute_capability"] = list(torch.cuda.get_device_capability(self.device))
            self.results["gpu_memory_gib"] = round(properties.total_memory / 2**30, 1)
            print(f"GPU: {self.results['gpu']} (sm {self.results['compute_capability']})")

    def synchronize(self) -> None:
        if not self.dry_run:
            import torch

            torch.cuda.synchronize(self.device)

    def record(self, name: str, fn: Callable[[], object]) -> None:
        """One warm-up run, then --runs timed runs with the device synchronised around each."""
        fn()
        self.synchronize()
        samples = []
        for _ in range(self.args.runs):
            started = time.perf_counter()
            fn()
            self.synchronize()
            samples.append((time.perf_counter() - started) * 1e3)
        stage = {"median_ms": statistics.median(samples), "min_ms": min(samples)}
        self.results["stages"][name] = stage
        print(f"{name:<44} {stage['median_ms']:>10.1f} ms", flush=True)

    def created(self, name: str, make: Callable[[], Any]) -> Any:
        import torch

        started = time.perf_counter()
        with torch.device(self.device):
            made = make()
        self.synchronize()
        self.results["model_creation_s"][name] = round(time.perf_counter() - started, 2)
        return made

    def models(self) -> dict[str, Any]:
        """Random weights of the published sizes (a small CLIP on a dry run), the scene."""
        import torch

        from a2_grasping.core.policy.fusion_config import FusionConfig
        from a2_grasping.core.policy.fusion_model import A2FusionModel
        from a2_grasping.core.selection.common import SelectionConfig
        from a2_grasping.core.selection.grasp import workspace_object_points
        from a2_grasping.testing.offline_clip import (
            SMALL_CLIP,
            VIT_L14_336,
            letter_tokenizer,
            random_clip,
        )
        from a2_grasping.testing.random_graspnet import random_graspnet

        torch.manual_seed(0)
        towers = SMALL_CLIP if self.dry_run else VIT_L14_336
        models: dict[str, Any] = {
            "clip": self.created("clip_vit_l14_336", lambda: random_clip(towers)),
            "fusion": self.created("fusion", lambda: A2FusionModel(FusionConfig()).eval()),
        }
        started = time.perf_counter()
        models["graspnet"] = random_graspnet(0).to(self.device)  # calibrated in float64 on CPU
        self.synchronize()
        self.results["model_creation_s"]["graspnet"] = round(time.perf_counter() - started, 2)
        models["tokenizer"] = letter_tokenizer(self.args.json.parent / "bench_gpu_tokenizer")
        models["scene"] = _two_view_scene()
        models["selection_config"] = SelectionConfig(time_budget_s=600.0)
        models["object_points"] = workspace_object_points(
            models["scene"], models["selection_config"]
        )
        return models

    def extractor(self, models: dict[str, Any], dtype: str, **overrides: Any) -> Any:
        from a2_grasping.core.policy.clip_config import ClipFeatureConfig
        from a2_grasping.core.policy.clip_features import ClipFeatureExtractor

        settings: dict[str, Any] = {
            "model_name_or_path": "random",
            "tile_rows": self.rows,
            "tile_cols": self.cols,
            "tile_batch_size": self.rows * self.cols,
            "dtype": dtype,
            "device": str(self.device),
            "cache_images": 0,
        }
        config = ClipFeatureConfig(**(settings | overrides))
        return ClipFeatureExtractor(models["clip"], models["tokenizer"], config)

    def clip_stages(self, models: dict[str, Any]) -> tuple[Any, Any]:
        """CLIP on one view: fp32, bf16 under autocast, one tile at a time, the text encoder."""
        from a2_grasping.bench.model import INSTRUCTION

        color = models["scene"].views[0].color_rgb
        fp32, bf16 = self.extractor(models, "float32"), self.extractor(models, "bfloat16")
        self.record(f"clip_l14_336_1view_{self.tiles}_fp32", lambda: fp32.image_feature_map(color))
        if self.results["bf16_supported"]:
            self.record(
                f"clip_l14_336_1view_{self.tiles}_bf16_autocast",
                lambda: bf16.image_feature_map(color),
            )
        one_by_one = self.extractor(models, "float32", tile_batch_size=1)
        self.record(
            f"clip_l14_336_1view_{self.tiles}_fp32_batch1",
            lambda: one_by_one.image_feature_map(color),
        )
        uncached_text = self.extractor(models, "float32", text_cache_size=0)
        self.record("clip_l14_336_text", lambda: uncached_text.encode_text(INSTRUCTION))
        return fp32, bf16

    def fusion_and_graspnet_stages(self, models: dict[str, Any]) -> None:
        import numpy as np
        import torch

        from a2_grasping.core.graspnet import GraspNetConfig, GraspNetGenerator

        device, fusion = self.device, models["fusion"]
        points = torch.rand(1, 500, 3, device=device)
        features = torch.randn(1, 500, 768, device=device)
        similarities = torch.rand(1, 500, 1, device=device)
        actions = torch.randn(1, 200, 7, device=device)
        with torch.inference_mode():
            self.record(
                "fusion_500_points_200_candidates",
                lambda: fusion(points, features, similarities, actions),
            )
        generator = GraspNetGenerator(
            models["graspnet"], GraspNetConfig(num_points=self.args.graspnet_points)
        )
        self.record(
            "graspnet_forward_decode",
            lambda: generator.generate(models["object_points"], 0.0, np.random.default_rng(0)),
        )

    def selection_stages(self, models: dict[str, Any], extractors: dict[str, Any]) -> None:
        """The whole a2 selection on both views, every tile computed (cache off)."""
        from a2_grasping.bench.model import INSTRUCTION
        from a2_grasping.core.candidates.antipodal import AntipodalGenerator
        from a2_grasping.core.policy.a2_scorer import A2Scorer
        from a2_grasping.core.selection.grasp import GraspSelector
        from a2_grasping.core.selection.request import SelectRequest

        request = SelectRequest(INSTRUCTION, (), 10, 2.0)
        for name, chosen in extractors.items():
            if name.startswith("bf16") and not self.results["bf16_supported"]:
                continue
            selector = GraspSelector(
                AntipodalGenerator(),
                models["selection_config"],
                scorer=A2Scorer(chosen, models["fusion"]),
            )
            chosen.cache_stats.reset()
            self.record(
                f"select_a2_2views_{self.tiles}_{name}",
                functools.partial(selector.select, models["scene"], request),
            )
            self.results[f"tiles_per_selection_{name}"] = {
                "computed": chosen.cache_stats.tiles_computed // (self.args.runs + 1),
                "skipped": chosen.cache_stats.tiles_skipped // (self.args.runs + 1),
            }

    def bf16_accuracy(self, models: dict[str, Any], fp32: Any, bf16: Any) -> None:
        """bf16 scored on the CPU with a CPU copy of the fusion network: the reference numbers."""
        from a2_grasping.bench.model import _Comparison

        if not self.results["bf16_supported"]:
            return
        view = models["scene"].views[0]
        fusion = copy.deepcopy(models["fusion"]).cpu()
        compare = _Comparison(fp32, fusion, models["object_points"], view)
        self.results["bf16_autocast_vs_fp32"] = compare.variant(
            bf16.image_feature_map(view.color_rgb)
        )
        print("bf16 autocast vs fp32:", json.dumps(self.results["bf16_autocast_vs_fp32"]))


def _two_view_scene() -> Any:
    """The three boxes of `bench model`, seen by two 640x480 cameras as the cell has."""
    from a2_grasping.bench.model import CAMERA_EYES_M, IMAGE_HW, TABLE_CENTRE_M
    from a2_grasping.testing.synthetic_rgbd import Box, look_at, pinhole, tabletop_scene

    boxes = (
        Box((0.5, 0.0), (0.05, 0.04, 0.06), 0.3, (200, 30, 30)),
        Box((0.45, 0.12), (0.04, 0.04, 0.08), -0.5, (30, 160, 40)),
        Box((0.58, -0.1), (0.06, 0.03, 0.04), 1.0, (30, 60, 200)),
    )
    cameras = {
        name: (look_at(CAMERA_EYES_M[name], TABLE_CENTRE_M), pinhole(640, 480, 70.0), IMAGE_HW)
        for name in ("front", "left")
    }
    return tabletop_scene(boxes, cameras)
