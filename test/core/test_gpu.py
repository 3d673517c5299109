"""`device: cuda` (issue 27 item 5): CLIP, the fusion network and GraspNet on a GPU.

These tests run only where torch sees a CUDA device; elsewhere each is skipped with the reason.
They check that every model lands on the GPU in the dtype it should have there (CLIP's weights
stay float32 under bf16 autocast, the fusion network and GraspNet are float32), that outputs come
back as float32 CPU tensors the rest of the pipeline expects, and that the GPU agrees with the CPU
on tiny models. Tolerances:

- fp32 with TF32 switched off (cuDNN convolutions default to TF32, a 10-bit mantissa): the GPU and
  the CPU differ only in summation order. Unit roundoff 6e-8, sums of at most 64 products per
  output in the tiny models, a handful of layers: |error| <~ 10 * 64 * 6e-8 * |x| ~ 4e-5 |x|;
  the tests allow 1e-4 absolute on values of order 1.
- bf16 autocast: 8-bit mantissa, relative error 2^-9 per rounding, accumulated over the layers:
  cosine >= 0.95 per patch feature, the bound the CPU bf16 test uses.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from a2_grasping.core.policy.a2_scorer import A2Scorer
from a2_grasping.core.policy.clip_config import ClipFeatureConfig
from a2_grasping.core.policy.clip_features import ClipFeatureExtractor
from a2_grasping.core.policy.fusion_config import FusionConfig
from a2_grasping.core.policy.fusion_model import A2FusionModel
from a2_grasping.core.policy.hardware import resolve_hardware

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="needs a CUDA device: torch.cuda.is_available() is False here "
    f"(torch {torch.__version__}, {'CUDA ' + str(torch.version.cuda) if torch.version.cuda else 'CPU-only build'})",  # noqa: E501
)
GOLDEN_DIR = Path(__file__).parent / "golden"
FP32_ATOL = 1e-4


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, GOLDEN_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CLIP_GOLDEN = _load("make_clip_golden")


@pytest.fixture(autouse=True)
def _no_tf32():
    """Exact fp32 on the GPU for the comparisons (TF32 is what cuDNN convolutions default to)."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return CLIP_GOLDEN.make_tiny_tokenizer(tmp_path_factory.mktemp("tokenizer"))


def _clip(tokenizer, device: str, dtype: str = "float32") -> ClipFeatureExtractor:
    config = ClipFeatureConfig(
        model_name_or_path="unused",
        **CLIP_GOLDEN.TINY_FEATURE_CONFIG,
        device=device,
        dtype=dtype,
    )
    return ClipFeatureExtractor(CLIP_GOLDEN.make_tiny_clip(), tokenizer, config)


def test_auto_resolves_to_the_gpu_with_bf16_where_native():
    hardware = resolve_hardware("auto", "auto")
    assert hardware.device.type == "cuda"
    assert hardware.precision == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")
    assert "CUDA device" in hardware.reason


def test_clip_fp32_on_the_gpu_agrees_with_the_cpu(tokenizer):
    gpu, cpu = _clip(tokenizer, "cuda"), _clip(tokenizer, "cpu")
    assert {p.device.type for p in gpu.model.parameters()} == {"cuda"}
    assert {p.dtype for p in gpu.model.parameters()} == {torch.float32}
    points, views = CLIP_GOLDEN.make_scene()
    image = views[0].color_rgb
    gpu_map, cpu_map = gpu.image_feature_map(image), cpu.image_feature_map(image)
    assert gpu_map.device.type == "cpu" and gpu_map.dtype == torch.float32
    torch.testing.assert_close(gpu_map, cpu_map, atol=FP32_ATOL, rtol=0.0)
    text_gpu, text_cpu = gpu.encode_text(CLIP_GOLDEN.TEXT), cpu.encode_text(CLIP_GOLDEN.TEXT)
    assert text_gpu.device.type == "cpu"
    torch.testing.assert_close(text_gpu, text_cpu, atol=FP32_ATOL, rtol=0.0)
    fused_gpu = gpu.point_features(points, views, CLIP_GOLDEN.TEXT)
    fused_cpu = cpu.point_features(points, views, CLIP_GOLDEN.TEXT)
    torch.testing.assert_close(fused_gpu.features, fused_cpu.features, atol=FP32_ATOL, rtol=0.0)
    assert torch.equal(fused_gpu.num_valid_views, fused_cpu.num_valid_views)


@pytest.mark.skipif(
    torch.cuda.is_available() and not torch.cuda.is_bf16_supported(),
    reason="this GPU has no bf16",
)
def test_clip_bf16_runs_under_autocast_with_float32_weights(tokenizer):
    half, full = _clip(tokenizer, "cuda", "bfloat16"), _clip(tokenizer, "cpu")
    assert half.autocast_dtype == torch.bfloat16
    assert {p.dtype for p in half.model.parameters()} == {torch.float32}  # autocast, no cast
    image = CLIP_GOLDEN.make_scene()[1][0].color_rgb
    low, reference = half.image_feature_map(image), full.image_feature_map(image)
    assert low.dtype == torch.float32 and low.device.type == "cpu"
    assert not torch.equal(low, reference)  # bf16 really ran
    cosine = torch.nn.functional.cosine_similarity(
        low.reshape(-1, low.shape[-1]), reference.reshape(-1, low.shape[-1]), dim=-1
    )
    assert float(cosine.min()) > 0.95


def test_the_a2_scorer_on_the_gpu_agrees_with_the_cpu(tokenizer):
    points, views = CLIP_GOLDEN.make_scene()
    config = FusionConfig(width=16, heads=2, hidden_size=8, use_rope=False)
    torch.manual_seed(0)
    fusion_cpu = A2FusionModel(config).eval()
    fusion_gpu = A2FusionModel(config).eval()
    fusion_gpu.load_state_dict(fusion_cpu.state_dict())
    fusion_gpu = fusion_gpu.to("cuda")
    assert {p.device.type for p in fusion_gpu.parameters()} == {"cuda"}
    poses = np.tile(np.eye(4), (6, 1, 1))
    poses[:, :3, 3] = np.asarray(points[:6], dtype=np.float64)
    scores = {}
    for name, clip, fusion in (
        ("gpu", _clip(tokenizer, "cuda"), fusion_gpu),
        ("cpu", _clip(tokenizer, "cpu"), fusion_cpu),
    ):
        timings: dict[str, float] = {}
        scores[name] = A2Scorer(clip, fusion).score(
            np.asarray(points, dtype=np.float64),
            tuple(views),
            poses,
            CLIP_GOLDEN.TEXT,
            timings,
            check_budget=lambda: None,
        )
        assert scores[name].dtype == np.float64 and set(timings) == {"clip", "fusion"}
    np.testing.assert_allclose(scores["gpu"], scores["cpu"], atol=10 * FP32_ATOL, rtol=0.0)


def test_graspnet_on_the_gpu_agrees_with_the_cpu():
    graspnet_golden = _load("make_graspnet_golden")
    from a2_grasping.core.graspnet import GraspNetGenerator
    from a2_grasping.testing.random_graspnet import random_graspnet

    model_cpu = random_graspnet(graspnet_golden.SEED, graspnet_golden.SMALL)
    model_gpu = random_graspnet(graspnet_golden.SEED, graspnet_golden.SMALL).to("cuda")
    assert {p.device.type for p in model_gpu.parameters()} == {"cuda"}
    assert {p.dtype for p in model_gpu.parameters()} == {torch.float32}
    cloud = graspnet_golden.scene_points()
    rng_cpu, rng_gpu = np.random.default_rng(0), np.random.default_rng(0)
    on_cpu = GraspNetGenerator(model_cpu, graspnet_golden.CONFIG).generate(cloud, 0.0, rng_cpu)
    on_gpu = GraspNetGenerator(model_gpu, graspnet_golden.CONFIG).generate(cloud, 0.0, rng_gpu)
    assert on_gpu.tcp_poses.dtype == np.float64
    # Same sampled input, same furthest-point choices (random distances have no ties within
    # fp32 error), so the same candidates in the same order up to float32 rounding.
    assert len(on_gpu.quality) == len(on_cpu.quality) > 0
    np.testing.assert_allclose(on_gpu.tcp_poses, on_cpu.tcp_poses, atol=1e-4, rtol=0.0)
    np.testing.assert_allclose(on_gpu.quality, on_cpu.quality, atol=1e-4, rtol=0.0)
