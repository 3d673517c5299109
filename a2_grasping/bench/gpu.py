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


def _measure(args: argparse.Namespace) -> dict[str, Any]:  # noqa: PLR0915 (one linear script)
    import numpy as np
    import torch

    from a2_grasping.bench.model import (
        CAMERA_EYES_M,
        IMAGE_HW,
        INSTRUCTION,
        TABLE_CENTRE_M,
        _Comparison,
    )
    from a2_grasping.bench.selection_a2 import SMALL_CLIP
    from a2_grasping.core.candidates.antipodal import AntipodalGenerator
    from a2_grasping.core.graspnet import GraspNetConfig, GraspNetGenerator
    from a2_grasping.core.policy.a2_scorer import A2Scorer
    from a2_grasping.core.policy.clip_config import ClipFeatureConfig
    from a2_grasping.core.policy.clip_features import ClipFeatureExtractor
    from a2_grasping.core.policy.fusion_config import FusionConfig
    from a2_grasping.core.policy.fusion_model import A2FusionModel
    from a2_grasping.core.policy.hardware import read_cpu_info
    from a2_grasping.core.selection.common import SelectionConfig
    from a2_grasping.core.selection.grasp import GraspSelector, workspace_object_points
    from a2_grasping.core.selection.request import SelectRequest
    from a2_grasping.testing.offline_clip import VIT_L14_336, letter_tokenizer, random_clip
    from a2_grasping.testing.random_graspnet import random_graspnet
    from a2_grasping.testing.synthetic_rgbd import Box, look_at, pinhole, tabletop_scene

    dry_run = bool(args.dry_run_cpu)
    device = torch.device("cpu") if dry_run else torch.device("cuda", torch.cuda.current_device())
    rows, cols = args.clip_tiles
    results: dict[str, Any] = {
        "dry_run_cpu": dry_run,
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "bf16_supported": not dry_run and bool(torch.cuda.is_bf16_supported()),
        "tf32": {
            "matmul": bool(torch.backends.cuda.matmul.allow_tf32),
            "cudnn": bool(torch.backends.cudnn.allow_tf32),
        },
        "cpu": read_cpu_info().describe(),
        "runs": args.runs,
        "clip_tiles": [rows, cols],
        "stages": {},
        "model_creation_s": {},
    }
    if not dry_run:
        properties = torch.cuda.get_device_properties(device)
        results["gpu"] = torch.cuda.get_device_name(device)
        results["compute_capability"] = list(torch.cuda.get_device_capability(device))
        results["gpu_memory_gib"] = round(properties.total_memory / 2**30, 1)
        print(f"GPU: {results['gpu']} (sm {results['compute_capability']})", flush=True)
    stages: dict[str, dict[str, float]] = results["stages"]

    def synchronize() -> None:
        if not dry_run:
            torch.cuda.synchronize(device)

    def record(name: str, fn: Callable[[], object], runs: int = args.runs) -> None:
        fn()
        synchronize()
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            fn()
            synchronize()
            samples.append((time.perf_counter() - started) * 1e3)
        stages[name] = {"median_ms": statistics.median(samples), "min_ms": min(samples)}
        print(f"{name:<44} {stages[name]['median_ms']:>10.1f} ms", flush=True)

    def created(name: str, make: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        with torch.device(device):
            made = make()
        synchronize()
        results["model_creation_s"][name] = round(time.perf_counter() - started, 2)
        return made

    torch.manual_seed(0)
    towers = SMALL_CLIP if dry_run else VIT_L14_336
    clip_model = created("clip_vit_l14_336", lambda: random_clip(towers))
    fusion = created("fusion", lambda: A2FusionModel(FusionConfig()).eval())
    started = time.perf_counter()
    graspnet = random_graspnet(0).to(device)  # calibrated in float64 on the CPU, then moved
    synchronize()
    results["model_creation_s"]["graspnet"] = round(time.perf_counter() - started, 2)
    tokenizer = letter_tokenizer(args.json.parent / "bench_gpu_tokenizer")

    boxes = (
        Box((0.5, 0.0), (0.05, 0.04, 0.06), 0.3, (200, 30, 30)),
        Box((0.45, 0.12), (0.04, 0.04, 0.08), -0.5, (30, 160, 40)),
        Box((0.58, -0.1), (0.06, 0.03, 0.04), 1.0, (30, 60, 200)),
    )
    cameras = {
        name: (look_at(CAMERA_EYES_M[name], TABLE_CENTRE_M), pinhole(640, 480, 70.0), IMAGE_HW)
        for name in ("front", "left")
    }
    scene = tabletop_scene(boxes, cameras)
    selection_config = SelectionConfig(time_budget_s=600.0)
    object_points = workspace_object_points(scene, selection_config)
    view = scene.views[0]

    def extractor(dtype: str, **overrides: Any) -> ClipFeatureExtractor:
        settings: dict[str, Any] = {
            "model_name_or_path": "random",
            "tile_rows": rows,
            "tile_cols": cols,
            "tile_batch_size": rows * cols,
            "dtype": dtype,
            "device": str(device),
            "cache_images": 0,
        }
        config = ClipFeatureConfig(**(settings | overrides))
        return ClipFeatureExtractor(clip_model, tokenizer, config)

    fp32, bf16 = extractor("float32"), extractor("bfloat16")
    tiles = f"{rows}x{cols}"
    record(f"clip_l14_336_1view_{tiles}_fp32", lambda: fp32.image_feature_map(view.color_rgb))
    if results["bf16_supported"]:
        record(
            f"clip_l14_336_1view_{tiles}_bf16_autocast",
            lambda: bf16.image_feature_map(view.color_rgb),
        )
    fp32_one_by_one = extractor("float32", tile_batch_size=1)
    record(
        f"clip_l14_336_1view_{tiles}_fp32_batch1",
        lambda: fp32_one_by_one.image_feature_map(view.color_rgb),
    )
    uncached_text = extractor("float32", text_cache_size=0)
    record("clip_l14_336_text", lambda: uncached_text.encode_text(INSTRUCTION))

    points = torch.rand(1, 500, 3, device=device)
    features = torch.randn(1, 500, 768, device=device)
    similarities = torch.rand(1, 500, 1, device=device)
    actions = torch.randn(1, 200, 7, device=device)
    with torch.inference_mode():
        record(
            "fusion_500_points_200_candidates",
            lambda: fusion(points, features, similarities, actions),
        )
    config = GraspNetConfig(num_points=args.graspnet_points)
    graspnet_generator = GraspNetGenerator(graspnet, config)
    record(
        "graspnet_forward_decode",
        lambda: graspnet_generator.generate(object_points, 0.0, np.random.default_rng(0)),
    )
    request = SelectRequest(INSTRUCTION, (), 10, 2.0)
    for name, chosen in (("fp32", fp32), ("bf16_autocast", bf16)):
        if name.startswith("bf16") and not results["bf16_supported"]:
            continue
        selector = GraspSelector(
            AntipodalGenerator(), selection_config, scorer=A2Scorer(chosen, fusion)
        )
        chosen.cache_stats.reset()
        record(
            f"select_a2_2views_{tiles}_{name}", functools.partial(selector.select, scene, request)
        )
        results[f"tiles_per_selection_{name}"] = {
            "computed": chosen.cache_stats.tiles_computed // (args.runs + 1),
            "skipped": chosen.cache_stats.tiles_skipped // (args.runs + 1),
        }
    if results["bf16_supported"]:
        # Scored on the CPU with a CPU copy of the fusion network: the reference numbers.
        compare = _Comparison(fp32, copy.deepcopy(fusion).cpu(), object_points, view)
        results["bf16_autocast_vs_fp32"] = compare.variant(bf16.image_feature_map(view.color_rgb))
        print("bf16 autocast vs fp32:", json.dumps(results["bf16_autocast_vs_fp32"]), flush=True)
    if not dry_run:
        results["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return results
