"""Benchmark of the selection core on this machine: `a2-grasping bench model --json OUT`.

Every stage runs once to warm up, then `--runs` times; the median is reported in milliseconds.
Models have random weights of the published sizes (no weights are downloaded); the scene is an
analytic rendering of three boxes on a table by the spec's three 640x480 RGB-D cameras; CLIP
stages use the front view only.
bf16 (and with --openvino, OpenVINO f32 and the CPU plugin's default precision) is compared
against fp32 on the same image: max abs difference and min cosine of the ViT-L feature maps, and
max abs difference of the fusion logits on fp32's top-500 points. OpenVINO is not a project
dependency; install it (`pip install openvino`) to measure it.

GraspNet (random weights of the published sizes, `testing/random_graspnet.py`) runs on the scene's
object points drawn to 20 000 (spec §2.1). `graspnet_forward_decode` is one full candidate call:
sampling, forward, decode, mirror, collision and object filters, TCP poses. Its parts are timed
on the same input, and `graspnet_shares` gives each part's share of that total.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The spec's three cameras (§1.2), all aimed near the table centre. The antipodal generator needs
# the opposite faces of an object, which one oblique camera does not see.
CAMERA_EYES_M = {"front": (1.0, 0.0, 0.5), "left": (0.2, 0.35, 0.5), "right": (0.2, -0.35, 0.5)}
TABLE_CENTRE_M = (0.5, 0.0, 0.0)
IMAGE_HW = (480, 640)
INSTRUCTION = "grasp the red box"
# Every timed run computes its tiles and text: the extractor's caches would otherwise answer the
# repeated runs on the same image (inference_node keeps them on: bench select --a2 times both).
NO_CACHE = {"cache_images": 0, "text_cache_size": 0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per stage (after warm-up)")
    parser.add_argument(
        "--skip-vit-l", action="store_true", help="skip the (slow) ViT-L/14@336 stages"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument(
        "--openvino",
        action="store_true",
        help="also time ViT-L 1x4 tiles on OpenVINO (f32 and the CPU's default precision); "
        "needs the `openvino` package, which the project does not install",
    )
    parser.add_argument(
        "--int8",
        action="store_true",
        help="also time ViT-L 2x2 tiles with int8 dynamic quantisation of every Linear layer "
        "(torch.ao, VNNI where the CPU has it), scored against fp32 like bf16",
    )
    parser.add_argument(
        "--int8-only",
        action="store_true",
        help="only ViT-L 2x2 tiles fp32 and int8 with the accuracy rows (a few minutes)",
    )
    parser.add_argument(
        "--graspnet-points",
        type=int,
        default=20_000,
        help="GraspNet input size (the published 20000; smaller only for smoke tests)",
    )
    parser.set_defaults(run=run)


def _time(fn: Callable[[], object], runs: int) -> dict[str, float]:
    fn()  # warm-up: lazy initialisation, allocator, type support
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1e3)
    return {"median_ms": statistics.median(samples), "min_ms": min(samples), "runs": runs}


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from a2_grasping.core.candidates.antipodal import AntipodalGenerator
    from a2_grasping.core.policy.clip_config import ClipFeatureConfig
    from a2_grasping.core.policy.clip_features import ClipFeatureExtractor
    from a2_grasping.core.policy.fusion_model import A2FusionModel
    from a2_grasping.core.selection.common import SelectionConfig
    from a2_grasping.core.selection.grasp import GraspSelector, workspace_object_points
    from a2_grasping.core.selection.request import SelectRequest
    from a2_grasping.testing.offline_clip import VIT_B32, letter_tokenizer, random_clip

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results: dict[str, Any] = {"threads": args.threads, "runs": args.runs, "stages": {}}
    precision = _record_cpu(results)
    stages: dict[str, dict[str, float]] = results["stages"]

    def record(name: str, fn: Callable[[], object], runs: int = args.runs) -> None:
        stages[name] = _time(fn, runs)
        print(f"{name:<42} {stages[name]['median_ms']:>10.1f} ms", flush=True)

    scene = _bench_scene()
    results["scene_points"] = len(scene.points_xyz)
    # ViT-L on 2 CPU cores takes longer than the node's default 10 s budget; time it, don't refuse.
    selection_config = SelectionConfig(time_budget_s=600.0)
    object_points = workspace_object_points(scene, selection_config)
    results["object_points"] = len(object_points)
    request = SelectRequest(INSTRUCTION, ("front",), 10, 2.0)
    front = scene.view_subset(("front",))
    fusion = A2FusionModel().eval()
    tokenizer = letter_tokenizer(args.json.parent / "bench_tokenizer")
    if args.int8_only:
        _int8_only(_Bench(tokenizer, fusion, object_points, front[0], record, results, precision))
        return _write(args.json, results)

    _graspnet_stages(args, object_points, record, results)

    generator = AntipodalGenerator()
    record(
        "geometric_generator",
        lambda: generator.generate(object_points, 0.0, np.random.default_rng(0)),
    )
    geometric = GraspSelector(generator, selection_config)
    record("select_geometric_640x480", lambda: geometric.select(scene, request))

    pts = torch.rand(1, 500, 3)
    feats, sims, actions = torch.randn(1, 500, 768), torch.rand(1, 500, 1), torch.randn(1, 200, 7)
    with torch.inference_mode():
        record("fusion_500_points_200_candidates", lambda: fusion(pts, feats, sims, actions))

    b32 = ClipFeatureExtractor(
        random_clip(VIT_B32),
        tokenizer,
        ClipFeatureConfig(
            model_name_or_path="random",
            tile_rows=1,
            tile_cols=1,
            tile_short_side_px=480,
            patch_size_px=32,
            **NO_CACHE,
        ),
    )
    record("clip_b32_1view_640x480_native", lambda: b32.image_feature_map(front[0].color_rgb))
    if not args.skip_vit_l:
        _vit_l_stages(
            args,
            _Bench(tokenizer, fusion, object_points, front[0], record, results, precision),
            scene=scene,
            request=request,
            generator=generator,
            selection_config=selection_config,
        )
    if not args.openvino:
        results["openvino"] = "not measured: run with --openvino (needs `pip install openvino`)"
    return _write(args.json, results)


def _write(path: Path, results: dict[str, Any]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


def _record_cpu(results: dict[str, Any]) -> str:
    """What decides the kernels and the precision `auto` picks, recorded with every figure;
    returns that precision."""
    import torch

    from a2_grasping.core.policy.hardware import read_cpu_info, resolve_hardware

    cpu = read_cpu_info()
    hardware = resolve_hardware("cpu", "auto", cpu)
    results["cpu"] = {
        "model_name": cpu.model_name,
        "vendor": cpu.vendor,
        "family": cpu.family,
        "model": cpu.model,
        "relevant_flags": cpu.relevant_flags(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_version": torch.__version__,
    }
    results["precision_auto"] = {"chosen": hardware.precision, "reason": hardware.reason}
    print(f"CPU: {cpu.describe()}; precision auto -> {hardware.reason}", flush=True)
    return hardware.precision


def _bench_scene() -> Any:
    """Three boxes on the table, seen by the cell's cameras (analytic rendering)."""
    from a2_grasping.testing.synthetic_rgbd import Box, look_at, pinhole, tabletop_scene

    boxes = (
        Box((0.5, 0.0), (0.05, 0.04, 0.06), 0.3, (200, 30, 30)),
        Box((0.45, 0.12), (0.04, 0.04, 0.08), -0.5, (30, 160, 40)),
        Box((0.58, -0.1), (0.06, 0.03, 0.04), 1.0, (30, 60, 200)),
    )
    cameras = {
        name: (look_at(eye, TABLE_CENTRE_M), pinhole(640, 480, 70.0), IMAGE_HW)
        for name, eye in CAMERA_EYES_M.items()
    }
    return tabletop_scene(boxes, cameras)


@dataclass(frozen=True)
class _Bench:
    """What the ViT-L stages share: the inputs, the recorder and the results."""

    tokenizer: Any
    fusion: Any
    object_points: Any
    view: Any
    record: Callable[..., None]
    results: dict[str, Any]
    precision: str


def _vit_l_stages(args: argparse.Namespace, bench: _Bench, **selection: Any) -> None:
    """ViT-L/14@336: one tile, 2x2 tiles, full a2-mode selection, bf16 (and int8, OpenVINO on
    request), and coarser tilings against the published 3x4. `selection`: scene, request,
    generator and selection_config of the full-selection stage."""
    from a2_grasping.core.policy.a2_scorer import A2Scorer
    from a2_grasping.core.policy.clip_config import ClipFeatureConfig
    from a2_grasping.core.policy.clip_features import ClipFeatureExtractor
    from a2_grasping.core.selection.grasp import GraspSelector
    from a2_grasping.testing.offline_clip import VIT_L14_336, random_clip

    record, results, color = bench.record, bench.results, bench.view.color_rgb
    l14_fp32 = ClipFeatureExtractor(
        random_clip(VIT_L14_336),
        bench.tokenizer,
        ClipFeatureConfig(model_name_or_path="random", tile_rows=1, tile_cols=1, **NO_CACHE),
    )
    record("clip_l14_336_1view_1tile", lambda: l14_fp32.image_feature_map(color))
    l14_4tiles = ClipFeatureExtractor(
        l14_fp32.model,
        bench.tokenizer,
        ClipFeatureConfig(model_name_or_path="random", tile_rows=2, tile_cols=2, **NO_CACHE),
    )
    record("clip_l14_336_1view_4tiles", lambda: l14_4tiles.image_feature_map(color))
    scorer = A2Scorer(l14_4tiles, bench.fusion)
    a2 = GraspSelector(selection["generator"], selection["selection_config"], scorer=scorer)
    record(
        "select_a2_l14_1view_4tiles_640x480",
        lambda: a2.select(selection["scene"], selection["request"]),
    )
    compare = _Comparison(l14_4tiles, bench.fusion, bench.object_points, bench.view)
    _bf16_stage(l14_fp32.model, bench, compare)
    if args.int8:
        _int8_stage(l14_4tiles, compare, record, results)
    results["clip_tiles_vs_3x4"] = _tiling_fidelity(
        model=l14_fp32.model,
        tokenizer=bench.tokenizer,
        object_points=bench.object_points,
        view=bench.view,
        record=record,
    )
    print("tilings vs 3x4:", json.dumps(results["clip_tiles_vs_3x4"]), flush=True)
    if args.openvino:
        _openvino_stages(
            args,
            extractor=l14_4tiles,
            color=color,
            compare=compare,
            record=record,
            results=results,
        )


def _bf16_stage(model: Any, bench: _Bench, compare: _Comparison) -> None:
    """ViT-L 2x2 tiles in bf16, timed and scored against fp32; then what `auto` picks."""
    from a2_grasping.core.policy.clip_config import ClipFeatureConfig
    from a2_grasping.core.policy.clip_features import ClipFeatureExtractor

    record, results, color = bench.record, bench.results, bench.view.color_rgb
    bf16 = ClipFeatureExtractor(
        copy.deepcopy(model),
        bench.tokenizer,
        ClipFeatureConfig(
            model_name_or_path="random", tile_rows=2, tile_cols=2, dtype="bfloat16", **NO_CACHE
        ),
    )
    # Without avx512_bf16 / AMX, bf16 is emulated: ~6x slower than fp32, so two runs. Where it
    # is native (what `auto` chose), all runs: this is the stage with a target.
    native = bench.precision == "bf16"
    record(
        "clip_l14_336_1view_4tiles_bf16",
        lambda: bf16.image_feature_map(color),
        runs=results["runs"] if native else min(results["runs"], 2),
    )
    results["bf16_vs_fp32"] = compare.variant(bf16.image_feature_map(color))
    print("bf16 vs fp32:", json.dumps(results["bf16_vs_fp32"]), flush=True)
    # The precision `auto` picks on this CPU, scored against fp32 (identical when fp32).
    auto_stage = "clip_l14_336_1view_4tiles_bf16" if native else "clip_l14_336_1view_4tiles"
    results["auto_precision"] = {
        "precision": bench.precision,
        "stage": auto_stage,
        "median_ms": results["stages"][auto_stage]["median_ms"],
        "vs_fp32": results["bf16_vs_fp32"] if native else "identical",
    }


def _int8_only(bench: _Bench) -> None:
    """ViT-L 2x2 tiles fp32, then int8 with its accuracy rows (--int8-only)."""
    from a2_grasping.core.policy.clip_config import ClipFeatureConfig
    from a2_grasping.core.policy.clip_features import ClipFeatureExtractor
    from a2_grasping.testing.offline_clip import VIT_L14_336, random_clip

    fp32_4tiles = ClipFeatureExtractor(
        random_clip(VIT_L14_336),
        bench.tokenizer,
        ClipFeatureConfig(model_name_or_path="random", tile_rows=2, tile_cols=2, **NO_CACHE),
    )
    bench.record(
        "clip_l14_336_1view_4tiles", lambda: fp32_4tiles.image_feature_map(bench.view.color_rgb)
    )
    compare = _Comparison(fp32_4tiles, bench.fusion, bench.object_points, bench.view)
    _int8_stage(fp32_4tiles, compare, bench.record, bench.results)


def _int8_stage(
    fp32: Any, compare: _Comparison, record: Callable[..., None], results: dict[str, Any]
) -> None:
    """ViT-L with every Linear layer int8 dynamically quantised (weights int8 per tensor,
    activations quantised per batch at run time; convolution, layer norms and attention's
    matrix products stay fp32), timed and scored against fp32 on the same image."""
    import torch

    from a2_grasping.core.policy.clip_config import ClipFeatureConfig
    from a2_grasping.core.policy.clip_features import ClipFeatureExtractor

    started = time.perf_counter()
    quantised = torch.ao.quantization.quantize_dynamic(
        copy.deepcopy(fp32.model), {torch.nn.Linear}, dtype=torch.qint8
    )
    results["int8_dynamic_quantise_s"] = round(time.perf_counter() - started, 1)
    int8 = ClipFeatureExtractor(
        quantised,
        fp32.tokenizer,
        ClipFeatureConfig(
            model_name_or_path="random",
            tile_rows=fp32.config.tile_rows,
            tile_cols=fp32.config.tile_cols,
            **NO_CACHE,
        ),
    )
    color = compare.view.color_rgb
    record("clip_l14_336_1view_4tiles_int8_dynamic", lambda: int8.image_feature_map(color))
    results["int8_dynamic_vs_fp32"] = compare.variant(int8.image_feature_map(color))
    print("int8 dynamic vs fp32:", json.dumps(results["int8_dynamic_vs_fp32"]), flush=True)


def _graspnet_stages(
    args: argparse.Namespace,
    object_points: Any,
    record: Callable[..., None],
    results: dict[str, Any],
) -> None:
    """Forward + decode of GraspNet on the scene, and each stage of it, with shares."""
    import numpy as np
    import torch

    from a2_grasping.core.graspnet import GraspNetConfig, GraspNetGenerator, point_ops
    from a2_grasping.core.graspnet.processing import (
        decode_predictions,
        sample_network_input,
        unmirror,
        voxel_downsample_open3d,
    )
    from a2_grasping.testing.random_graspnet import random_graspnet

    config = GraspNetConfig(num_points=args.graspnet_points)
    model = random_graspnet(0)
    generator = GraspNetGenerator(model, config)
    arch = model.architecture
    sample = sample_network_input(
        voxel_downsample_open3d(object_points, config.input_voxel_m),
        config.num_points,
        np.random.default_rng(0),
    )
    cloud = torch.from_numpy(-sample).float()[None]
    results["graspnet_points"] = config.num_points
    stages = results["stages"]
    with torch.inference_mode():
        backbone = model.view_estimator.backbone
        seed_xyz, seed_features, _ = backbone(cloud)
        out = model(cloud)
        rotation = out.grasp_top_view_rot
        crop_features = model.grasp_generator.crop(cloud, seed_xyz, rotation)
        fps = point_ops.furthest_point_sample(cloud, arch.sa_npoint[0])
        centres = point_ops.gather_points(cloud, fps)
        grasps = unmirror(decode_predictions(out, config.width_factor))
        parts = {
            "graspnet_fps_sa1": lambda: point_ops.furthest_point_sample(cloud, arch.sa_npoint[0]),
            "graspnet_ball_query_sa1": lambda: point_ops.ball_query(
                arch.sa_radius_m[0], arch.sa_nsample[0], cloud, centres
            ),
            "graspnet_backbone": lambda: backbone(cloud),
            "graspnet_approach_net": lambda: model.view_estimator.vpmodule(seed_features),
            "graspnet_cylinder_query": lambda: point_ops.cylinder_query(
                arch.cylinder_radius_m,
                arch.hmin_m,
                arch.hmax_m,
                arch.crop_nsample,
                cloud,
                seed_xyz,
                rotation,
            ),
            "graspnet_cloud_crop": lambda: model.grasp_generator.crop(cloud, seed_xyz, rotation),
            "graspnet_operation_tolerance": lambda: (
                model.grasp_generator.operation(crop_features),
                model.grasp_generator.tolerance(crop_features),
            ),
            "graspnet_forward": lambda: model(cloud),
            "graspnet_decode": lambda: unmirror(decode_predictions(out, config.width_factor)),
            "graspnet_collision_filter": lambda: generator.collision_free(
                grasps, object_points, 0.0
            ),
        }
        for name, fn in parts.items():
            record(name, fn)
    record(
        "graspnet_forward_decode",
        lambda: generator.generate(object_points, 0.0, np.random.default_rng(0)),
    )
    total_ms = stages["graspnet_forward_decode"]["median_ms"]
    results["graspnet_shares"] = {
        name: round(stages[name]["median_ms"] / total_ms, 4) for name in parts
    }
    results["graspnet_candidates"] = len(
        generator.generate(object_points, 0.0, np.random.default_rng(0))
    )


def _tiling_fidelity(
    *,
    model: Any,
    tokenizer: Any,
    object_points: Any,
    view: Any,
    record: Callable[..., None],
) -> dict[str, Any]:
    """Coarser `clip_tiles` against the published 3x4 tiling (fp32, same view and points): cosine
    of the fused per-point features and the share of 3x4's top-500 points each keeps. The 3x4
    pass is timed once (12 ViT-L tiles per view)."""
    import torch

    from a2_grasping.core.policy.clip_config import ClipFeatureConfig
    from a2_grasping.core.policy.clip_features import ClipFeatureExtractor
    from a2_grasping.core.policy.point_fusion import select_top_k

    def fused(rows: int, cols: int) -> Any:
        extractor = ClipFeatureExtractor(
            model,
            tokenizer,
            ClipFeatureConfig(
                model_name_or_path="random", tile_rows=rows, tile_cols=cols, **NO_CACHE
            ),
        )
        return extractor.point_features(object_points, (view,), INSTRUCTION)

    record("clip_l14_336_1view_3x4tiles", lambda: fused(3, 4), runs=1)
    faithful = fused(3, 4)
    valid = faithful.num_valid_views > 0
    top = select_top_k(faithful.similarities, 500)
    out: dict[str, Any] = {"points": int(valid.sum())}
    for rows, cols in ((2, 2), (1, 2), (1, 1)):
        coarse = fused(rows, cols)
        cosine = torch.nn.functional.cosine_similarity(
            faithful.features[valid], coarse.features[valid], dim=-1
        )
        kept = select_top_k(coarse.similarities, 500)
        out[f"{rows}x{cols}"] = {
            "feature_cosine_mean": float(cosine.mean()),
            "feature_cosine_p05": float(cosine.quantile(0.05)),
            "top500_points_shared": float(torch.isin(kept, top).float().mean()),
        }
    return out


class _Comparison:
    """Scores a variant's ViT-L feature map against fp32 on the same scene: feature maps, and
    fusion logits on fp32's top-500 points (so a changed point set does not hide the error)."""

    def __init__(self, fp32: Any, fusion: Any, object_points: Any, view: Any) -> None:
        import numpy as np
        import torch

        from a2_grasping.core.policy.point_fusion import select_top_k

        self.fp32, self.fusion, self.points, self.view = fp32, fusion, object_points, view
        self.text = fp32.encode_text(INSTRUCTION)
        self.reference_map = fp32.image_feature_map(view.color_rgb)
        fused = self._fused(self.reference_map)
        self.indices = select_top_k(fused.similarities, fp32.config.top_k_points)
        grasps = np.c_[object_points[:200], np.tile([0.0, 1.0, 0.0, 0.0], (200, 1))]
        self.candidates = torch.from_numpy(grasps).float()[None]  # (1, 200, 7)
        self.reference_logits = self._logits(fused)

    def _fused(self, feature_map: Any) -> Any:
        from a2_grasping.core.policy.maskclip import similarity_map
        from a2_grasping.core.policy.point_fusion import ViewFeatures, fuse_point_features

        views = [ViewFeatures(self.view, feature_map, similarity_map(feature_map, self.text))]
        config = self.fp32.config
        return fuse_point_features(
            self.points, views, config.depth_tolerance_m, config.point_batch_size
        )

    def _logits(self, fused: Any) -> Any:
        import torch

        from a2_grasping.core.policy.point_fusion import normalise_similarities

        positions = torch.as_tensor(self.points, dtype=torch.float32)[self.indices]
        similarities = normalise_similarities(
            fused.similarities[self.indices], self.fp32.config.sim_norm_epsilon
        )
        with torch.inference_mode():
            return self.fusion(
                positions[None],
                fused.features[self.indices][None],
                similarities[None, :, None],
                self.candidates,
            )

    def variant(self, feature_map: Any) -> dict[str, Any]:
        import torch

        from a2_grasping.core.policy.point_fusion import select_top_k

        reference = self.reference_map
        fused = self._fused(feature_map)
        logits = self._logits(fused)
        cosine = torch.nn.functional.cosine_similarity(
            reference.flatten(0, 1), feature_map.flatten(0, 1), dim=-1
        )
        top = select_top_k(fused.similarities, self.fp32.config.top_k_points)
        return {
            "feature_max_abs_diff": float((feature_map - reference).abs().max()),
            "feature_max_abs": float(reference.abs().max()),
            "feature_min_cosine": float(cosine.min()),
            "logit_max_abs_diff": float((logits - self.reference_logits).abs().max()),
            "logit_max_abs": float(self.reference_logits.abs().max()),
            "same_argmax": bool(logits.argmax() == self.reference_logits.argmax()),
            "top500_points_shared": float(torch.isin(top, self.indices).float().mean()),
        }


def _openvino_stages(
    args: argparse.Namespace,
    *,
    extractor: Any,
    color: Any,
    compare: _Comparison,
    record: Callable[..., None],
    results: dict[str, Any],
) -> None:
    """ViT-L 1x4 tiles converted to OpenVINO; f32 and the CPU plugin's default precision."""
    import torch

    from a2_grasping.core.policy.clip_tiling import preprocess_tiles, stitch_tiles, tile_layout
    from a2_grasping.core.policy.maskclip import (
        interpolate_position_embeddings,
        maskclip_patch_features,
    )

    try:
        import openvino
    except ImportError:
        results["openvino"] = "not measured: `openvino` is not installed (pip install openvino)"
        print(results["openvino"])
        return
    pixels = preprocess_tiles(color, extractor.config)  # (4, 3, h, w)
    layout = tile_layout(color.shape[:2], extractor.config)
    patch = extractor.config.patch_size_px
    grid = (pixels.shape[2] // patch, pixels.shape[3] // patch)
    model = extractor.model
    positions = interpolate_position_embeddings(
        model.vision_model.embeddings.position_embedding.weight, grid
    ).detach()

    class MaskClip(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = model

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return maskclip_patch_features(self.clip, pixel_values, positions)

    started = time.perf_counter()
    with torch.inference_mode():
        converted = openvino.convert_model(MaskClip().eval(), example_input=pixels)
    core = openvino.Core()
    info: dict[str, Any] = {
        "version": openvino.get_version(),
        "convert_s": time.perf_counter() - started,
        "cpu_default_precision": str(core.get_property("CPU", "INFERENCE_PRECISION_HINT")),
    }
    for name, precision in (("f32", {"INFERENCE_PRECISION_HINT": "f32"}), ("default", {})):
        compiled = core.compile_model(
            converted, "CPU", {**precision, "INFERENCE_NUM_THREADS": args.threads}
        )
        request = compiled.create_infer_request()

        def run(request: Any = request, compiled: Any = compiled) -> Any:
            return request.infer({0: pixels.numpy()})[compiled.output(0)]

        record(f"clip_l14_336_1view_4tiles_openvino_{name}", run)
        feature_map = stitch_tiles(torch.from_numpy(run().copy()), layout.rows, layout.cols)
        info[f"{name}_vs_fp32"] = compare.variant(feature_map)
        print(f"openvino {name} vs fp32:", json.dumps(info[f"{name}_vs_fp32"]), flush=True)
    results["openvino"] = info
