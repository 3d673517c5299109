"""The A2 fusion network: published checkpoint layout, strict loading, RoPE, encoding, goldens.

The key/shape table below is written out from the spec (§3.3), not derived from the model, so a
renamed attribute cannot pass by changing both sides at once.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from safetensors.torch import save_file as save_safetensors

from a2_grasping.core.policy.checkpoints import (
    CheckpointError,
    load_fusion_model,
    load_fusion_state_dict,
)
from a2_grasping.core.policy.fusion_config import FusionConfig
from a2_grasping.core.policy.fusion_model import (
    A2FusionModel,
    apply_rope,
    encode_point_positions,
)

GOLDEN_DIR = Path(__file__).parent / "golden"
TINY = FusionConfig(width=12, heads=2, hidden_size=6)

_BLOCK = "vilg_fusion.cross_attn.resblocks.0."
PUBLISHED_SHAPES: dict[str, tuple[int, ...]] = {
    _BLOCK + "attn.k_proj.weight": (768, 768),
    _BLOCK + "attn.k_proj.bias": (768,),
    _BLOCK + "attn.q_proj.weight": (768, 768),
    _BLOCK + "attn.q_proj.bias": (768,),
    _BLOCK + "attn.v_proj.weight": (768, 768),
    _BLOCK + "attn.v_proj.bias": (768,),
    _BLOCK + "attn.c_proj.weight": (768, 768),
    _BLOCK + "attn.c_proj.bias": (768,),
    _BLOCK + "ln_1.weight": (768,),
    _BLOCK + "ln_1.bias": (768,),
    _BLOCK + "mlp.c_fc.weight": (3072, 768),
    _BLOCK + "mlp.c_fc.bias": (3072,),
    _BLOCK + "mlp.c_proj.weight": (768, 3072),
    _BLOCK + "mlp.c_proj.bias": (768,),
    _BLOCK + "ln_2.weight": (768,),
    _BLOCK + "ln_2.bias": (768,),
    "vilg_fusion.action_embbedding.0.weight": (384, 7),
    "vilg_fusion.action_embbedding.0.bias": (384,),
    "vilg_fusion.action_embbedding.2.weight": (768, 384),
    "vilg_fusion.action_embbedding.2.bias": (768,),
    "vilg_fusion.action_embbedding.4.weight": (768, 768),
    "vilg_fusion.action_embbedding.4.bias": (768,),
    "vilg_fusion.point_embbedding.0.weight": (384, 33),
    "vilg_fusion.point_embbedding.0.bias": (384,),
    "vilg_fusion.point_embbedding.2.weight": (768, 384),
    "vilg_fusion.point_embbedding.2.bias": (768,),
    "vilg_fusion.point_embbedding.4.weight": (768, 768),
    "vilg_fusion.point_embbedding.4.bias": (768,),
    "policy.linear1.weight": (384, 768),
    "policy.linear1.bias": (384,),
    "policy.linear2.weight": (384, 384),
    "policy.linear2.bias": (384,),
    "policy.linear3.weight": (1, 384),
    "policy.linear3.bias": (1,),
}
PUBLISHED_NUM_TENSORS = 34
PUBLISHED_NUM_PARAMETERS = 9_320_065


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def default_state() -> dict[str, torch.Tensor]:
    """A synthetic checkpoint with the published layout (the real weights are not in the repo)."""
    torch.manual_seed(0)
    return {k: v.clone() for k, v in A2FusionModel().state_dict().items()}


@pytest.fixture(scope="module")
def default_pth(default_state, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "sl_checkpoint_199.pth"
    torch.save(default_state, path)
    return path


@pytest.fixture
def tiny_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    return dict(A2FusionModel(TINY).state_dict())


def _random_inputs(config: FusionConfig, batch: int, points: int, actions: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    pts_pos = torch.rand(batch, points, 3, generator=g) * 0.5 + 0.25  # (B, N, 3)
    pts_feat = torch.randn(batch, points, config.width, generator=g)  # (B, N, D)
    pts_sim = torch.rand(batch, points, 1, generator=g)  # (B, N, 1)
    acts = torch.rand(batch, actions, config.action_dim, generator=g)  # (B, M, 7)
    return pts_pos, pts_feat, pts_sim, acts


def _load_golden_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_fusion_golden", GOLDEN_DIR / "make_fusion_golden.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- config


def test_default_config_is_the_published_one():
    config = FusionConfig()
    assert (config.action_dim, config.width, config.layers, config.heads) == (7, 768, 1, 8)
    assert config.hidden_size == 384
    assert config.head_dim == 96
    assert config.use_rope and not config.no_feat_rope and config.rope_on_values
    assert not (config.fusion_sa or config.no_rgb_feat or config.layer_norm or config.normalize)
    assert config.task_num is None
    assert config.sample_num == 500


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"width": 770}, "width"),  # not divisible by 8 heads
        ({"width": 16, "heads": 2}, "width"),  # not divisible by 6 with RoPE
        ({"heads": 0}, "heads"),
        ({"layers": 0}, "layers"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"action_dim": 7.0}, "action_dim"),
        ({"use_rope": 1}, "use_rope"),
        ({"fusion_sa": True}, "fusion_sa"),
        ({"no_rgb_feat": True}, "no_rgb_feat"),
        ({"layer_norm": True}, "layer_norm"),
        ({"normalize": True}, "normalize"),
        ({"task_num": 3}, "task_num"),
        ({"sample_num": 0}, "sample_num"),
    ],
)
def test_invalid_config_names_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        FusionConfig(**overrides)


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        FusionConfig().width = 12  # type: ignore[misc]


# ----------------------------------------------------------------------------- layout


def test_default_state_dict_matches_published_table(default_state):
    assert len(PUBLISHED_SHAPES) == PUBLISHED_NUM_TENSORS  # the table itself is complete
    assert len(default_state) == PUBLISHED_NUM_TENSORS
    assert {k: tuple(v.shape) for k, v in default_state.items()} == PUBLISHED_SHAPES
    assert all(v.dtype == torch.float32 for v in default_state.values())


def test_default_parameter_count():
    model = A2FusionModel()
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED_NUM_PARAMETERS
    # No buffers may leak into the state dict (RoPE and the encoding are parameter-free).
    assert len(model.state_dict()) == len(list(model.parameters()))


# ----------------------------------------------------------------------------- loading


def test_plain_pth_loads_strictly(default_state, default_pth):
    model = load_fusion_model(default_pth, FusionConfig())
    assert not model.training
    loaded = model.state_dict()
    assert loaded.keys() == default_state.keys()
    for key, tensor in default_state.items():
        assert torch.equal(loaded[key], tensor), key


def test_safetensors_copy_loads(default_state, default_pth, tmp_path):
    path = tmp_path / "sl_checkpoint_199.safetensors"
    save_safetensors(load_fusion_state_dict(default_pth), str(path))
    model = load_fusion_model(path, FusionConfig())
    for key, tensor in default_state.items():
        assert torch.equal(model.state_dict()[key], tensor), key


def test_missing_key_is_named(tiny_state, tmp_path):
    key = "policy.linear2.bias"
    del tiny_state[key]
    torch.save(tiny_state, tmp_path / "m.pth")
    with pytest.raises(CheckpointError, match=r"missing keys \(1\): policy\.linear2\.bias") as info:
        load_fusion_model(tmp_path / "m.pth", TINY)
    assert info.value.missing_keys == (key,)
    assert isinstance(info.value, ValueError)


def test_extra_key_is_named_with_variant_hint(tiny_state, tmp_path):
    tiny_state["policy.ln1.weight"] = torch.ones(TINY.hidden_size)
    torch.save(tiny_state, tmp_path / "x.pth")
    with pytest.raises(CheckpointError) as info:
        load_fusion_model(tmp_path / "x.pth", TINY)
    message = str(info.value)
    assert "unexpected keys (1): policy.ln1.weight" in message
    assert "layer_norm=True" in message
    assert info.value.unexpected_keys == ("policy.ln1.weight",)


def test_wrong_shape_names_expected_and_found(tiny_state, tmp_path):
    key = "vilg_fusion.point_embbedding.0.weight"
    tiny_state[key] = torch.zeros(6, 32)
    torch.save(tiny_state, tmp_path / "s.pth")
    with pytest.raises(CheckpointError) as info:
        load_fusion_model(tmp_path / "s.pth", TINY)
    assert f"{key}: expected (6, 33), found (6, 32)" in str(info.value)
    assert info.value.mismatched_shapes == ((key, (6, 33), (6, 32)),)


def test_checkpoint_of_another_config_lists_all_mismatches(tiny_state, tmp_path):
    torch.save(tiny_state, tmp_path / "tiny.pth")
    with pytest.raises(CheckpointError, match=r"mis-shaped keys \(\d+\)") as info:
        load_fusion_model(tmp_path / "tiny.pth", FusionConfig(width=12, heads=2, hidden_size=8))
    assert {key for key, _, _ in info.value.mismatched_shapes} == {
        "policy.linear1.weight",
        "policy.linear1.bias",
        "policy.linear2.weight",
        "policy.linear2.bias",
        "policy.linear3.weight",
    }


def test_nested_checkpoint_is_refused(tiny_state, tmp_path):
    torch.save({"epoch": 199, "model_state_dict": tiny_state}, tmp_path / "n.pth")
    with pytest.raises(CheckpointError, match=r"nested: key 'model_state_dict' holds a dict"):
        load_fusion_state_dict(tmp_path / "n.pth")


def test_non_tensor_value_is_refused(tiny_state, tmp_path):
    torch.save({**tiny_state, "epoch": 199}, tmp_path / "e.pth")
    with pytest.raises(CheckpointError, match=r"not a dict of tensors: 'epoch': int"):
        load_fusion_model(tmp_path / "e.pth", TINY)


def test_non_dict_content_is_refused(tiny_state, tmp_path):
    torch.save(list(tiny_state.values()), tmp_path / "l.pth")
    with pytest.raises(CheckpointError, match=r"not a dict of tensors: it holds a list"):
        load_fusion_state_dict(tmp_path / "l.pth")


def test_pickled_objects_are_not_executed(tmp_path):
    torch.save({"policy.linear1.weight": Path("/tmp")}, tmp_path / "p.pth")
    with pytest.raises(CheckpointError, match=r"unreadable \(UnpicklingError"):
        load_fusion_state_dict(tmp_path / "p.pth")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_corrupt_file_is_unreadable(tmp_path, suffix):
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_fusion_state_dict(path)


def test_missing_file_is_unreadable(tmp_path):
    with pytest.raises(CheckpointError, match="unreadable: no such file"):
        load_fusion_state_dict(tmp_path / "absent.pth")


def test_integer_and_non_finite_tensors_are_refused(tiny_state, tmp_path):
    key = "policy.linear3.bias"
    broken = {**tiny_state, key: torch.zeros(1, dtype=torch.int64)}
    torch.save(broken, tmp_path / "i.pth")
    with pytest.raises(CheckpointError, match=rf"non-floating-point tensors: {key}: torch.int64"):
        load_fusion_model(tmp_path / "i.pth", TINY)
    broken = {**tiny_state, key: torch.tensor([math.nan])}
    torch.save(broken, tmp_path / "nan.pth")
    with pytest.raises(CheckpointError, match=rf"NaN or infinite values: {key}"):
        load_fusion_model(tmp_path / "nan.pth", TINY)


# ----------------------------------------------------------------------------- encodings


def _rope_by_spec(v: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Spec §3.2 step 4 written as a loop over pairs: axis(i) = i // (D/6), omega_(i mod D/6)."""
    dim = v.shape[-1]
    pairs_per_axis = dim // 6
    out = v.clone()
    for i in range(dim // 2):
        axis, j = divmod(i, pairs_per_axis)
        theta = pos[..., axis] * 10000.0 ** (-2.0 * j / (dim / 3))
        out[..., 2 * i] = v[..., 2 * i] * torch.cos(theta) - v[..., 2 * i + 1] * torch.sin(theta)
        out[..., 2 * i + 1] = v[..., 2 * i + 1] * torch.cos(theta) + v[..., 2 * i] * torch.sin(
            theta
        )
    return out


def test_rope_known_rotations_at_published_width():
    x, y, z = 0.31, -0.12, 0.07
    pos = torch.tensor([[[x, y, z]]], dtype=torch.float64)  # (1, 1, 3)
    for channel, angle in [
        (0, x),  # pair 0 of the x block, omega_0 = 1
        (256, y),  # pair 0 of the y block
        (512 + 10, z * 10000.0 ** (-10 / 256)),  # pair j = 5 of the z block
        (254, x * 10000.0 ** (-254 / 256)),  # last x pair, j = 127
    ]:
        v = torch.zeros(1, 1, 768, dtype=torch.float64)
        v[..., channel] = 1.0
        out = apply_rope(v, pos)
        assert out[0, 0, channel].item() == pytest.approx(math.cos(angle), abs=1e-12)
        assert out[0, 0, channel + 1].item() == pytest.approx(math.sin(angle), abs=1e-12)
        assert out.abs().sum().item() == pytest.approx(
            abs(math.cos(angle)) + abs(math.sin(angle)), abs=1e-12
        )


@pytest.mark.parametrize("dim", [12, 768])
def test_rope_matches_spec_formula(dim):
    g = torch.Generator().manual_seed(3)
    v = torch.randn(2, 5, dim, generator=g, dtype=torch.float64)
    pos = torch.rand(2, 5, 3, generator=g, dtype=torch.float64) * 4.0 - 2.0
    torch.testing.assert_close(apply_rope(v, pos), _rope_by_spec(v, pos), atol=1e-12, rtol=0)


def test_rope_preserves_norms():
    g = torch.Generator().manual_seed(4)
    v = torch.randn(3, 7, 768, generator=g, dtype=torch.float64)
    pos = torch.randn(3, 7, 3, generator=g, dtype=torch.float64) * 5.0
    torch.testing.assert_close(apply_rope(v, pos).norm(dim=-1), v.norm(dim=-1))


def test_rope_dot_product_depends_only_on_position_difference():
    g = torch.Generator().manual_seed(5)
    q, k = torch.randn(2, 1, 1, 768, generator=g, dtype=torch.float64)  # (1, 1, 768) each
    p_q, p_k, shift = torch.randn(3, 1, 1, 3, generator=g, dtype=torch.float64)  # (1, 1, 3) each
    reference = (apply_rope(q, p_q) * apply_rope(k, p_k)).sum()
    shifted = (apply_rope(q, p_q + shift) * apply_rope(k, p_k + shift)).sum()
    relative = (q * apply_rope(k, p_k - p_q)).sum()
    assert shifted.item() == pytest.approx(reference.item(), abs=1e-10)
    assert relative.item() == pytest.approx(reference.item(), abs=1e-10)
    # ... and it does change with the difference itself.
    moved = (apply_rope(q, p_q) * apply_rope(k, p_k + 0.5)).sum()
    assert abs(moved.item() - reference.item()) > 1e-3


def test_point_encoding_known_values():
    p = torch.tensor([[[0.0, math.pi / 2, 1.0]]], dtype=torch.float64)  # (1, 1, 3)
    got = encode_point_positions(p)[0, 0]
    assert got.shape == (33,)
    expected = [0.0, math.pi / 2, 1.0]
    for f in (1, 2, 4, 8, 16):
        expected += [math.sin(0.0), math.sin(f * math.pi / 2), math.sin(f * 1.0)]
        expected += [math.cos(0.0), math.cos(f * math.pi / 2), math.cos(f * 1.0)]
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64))
    # Spot checks against hand values: sin(pi/2) = 1, cos(2 * pi/2) = -1, sin(16 rad).
    assert got[4].item() == pytest.approx(1.0)  # sin(1 * y)
    assert got[13].item() == pytest.approx(-1.0)  # cos(2 * y)
    assert got[29].item() == pytest.approx(-0.28790331666506530)  # sin(16 * z)


def test_point_encoding_at_origin():
    got = encode_point_positions(torch.zeros(2, 4, 3))  # (2, 4, 33)
    expected = torch.tensor([0.0] * 3 + ([0.0] * 3 + [1.0] * 3) * 5)
    assert got.shape == (2, 4, 33)
    torch.testing.assert_close(got, expected.expand(2, 4, 33))


# ----------------------------------------------------------------------------- forward


def _forward_by_spec(model: A2FusionModel, pts_pos, pts_feat, pts_sim, actions) -> torch.Tensor:
    """Spec §3.2 from the state dict alone, with torch's own multi-head attention."""
    cfg = model.config
    sd = model.state_dict()

    def mlp(prefix: str, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.linear(x, sd[f"{prefix}.0.weight"], sd[f"{prefix}.0.bias"]))
        x = F.relu(F.linear(x, sd[f"{prefix}.2.weight"], sd[f"{prefix}.2.bias"]))
        return F.linear(x, sd[f"{prefix}.4.weight"], sd[f"{prefix}.4.bias"])

    values = pts_feat * pts_sim
    keys = mlp("vilg_fusion.point_embbedding", encode_point_positions(pts_pos))
    if cfg.use_rope:
        keys = _rope_by_spec(keys, pts_pos)
        if not cfg.no_feat_rope:
            values = _rope_by_spec(values, pts_pos)
    x = mlp("vilg_fusion.action_embbedding", actions)
    a = _BLOCK + "attn."

    def ln(name: str, t: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(
            t, (cfg.width,), sd[_BLOCK + name + ".weight"], sd[_BLOCK + name + ".bias"]
        )

    attended, _ = F.multi_head_attention_forward(
        ln("ln_1", x).transpose(0, 1),
        ln("ln_1", keys).transpose(0, 1),
        ln("ln_1", values).transpose(0, 1),
        cfg.width,
        cfg.heads,
        None,
        torch.cat([sd[a + "q_proj.bias"], sd[a + "k_proj.bias"], sd[a + "v_proj.bias"]]),
        None,
        None,
        False,
        0.0,
        sd[a + "c_proj.weight"],
        sd[a + "c_proj.bias"],
        training=False,
        use_separate_proj_weight=True,
        q_proj_weight=sd[a + "q_proj.weight"],
        k_proj_weight=sd[a + "k_proj.weight"],
        v_proj_weight=sd[a + "v_proj.weight"],
    )
    x = x + attended.transpose(0, 1)
    h = F.linear(ln("ln_2", x), sd[_BLOCK + "mlp.c_fc.weight"], sd[_BLOCK + "mlp.c_fc.bias"])
    h = h * torch.sigmoid(1.702 * h)
    x = x + F.linear(h, sd[_BLOCK + "mlp.c_proj.weight"], sd[_BLOCK + "mlp.c_proj.bias"])
    h = F.relu(F.linear(x, sd["policy.linear1.weight"], sd["policy.linear1.bias"]))
    h = F.relu(F.linear(h, sd["policy.linear2.weight"], sd["policy.linear2.bias"]))
    return F.linear(h, sd["policy.linear3.weight"], sd["policy.linear3.bias"])[..., 0]


@pytest.mark.parametrize(
    "config",
    [TINY, FusionConfig(width=12, heads=2, hidden_size=6, no_feat_rope=True)],
    ids=["published-variant", "no-feat-rope"],
)
def test_forward_matches_independent_derivation(config):
    torch.manual_seed(6)
    model = A2FusionModel(config).eval()
    inputs = _random_inputs(config, batch=2, points=9, actions=4)
    with torch.no_grad():
        torch.testing.assert_close(
            model(*inputs), _forward_by_spec(model, *inputs), atol=1e-5, rtol=0
        )


def test_published_shapes_forward():
    torch.manual_seed(7)
    model = A2FusionModel().eval()
    inputs = _random_inputs(model.config, batch=1, points=500, actions=6)
    with torch.no_grad():
        logits = model(*inputs)
    assert logits.shape == (1, 6)
    assert torch.isfinite(logits).all()


def test_single_candidate_keeps_batch_and_candidate_axes():
    model = A2FusionModel(TINY).eval()
    with torch.no_grad():
        assert model(*_random_inputs(TINY, batch=1, points=5, actions=1)).shape == (1, 1)
    assert model.select_action_index(*_random_inputs(TINY, batch=1, points=5, actions=1)) == 0


def test_candidates_are_scored_independently_of_order_and_batch():
    torch.manual_seed(8)
    model = A2FusionModel(TINY).eval()
    pts_pos, pts_feat, pts_sim, actions = _random_inputs(TINY, batch=2, points=11, actions=6)
    with torch.no_grad():
        logits = model(pts_pos, pts_feat, pts_sim, actions)  # (2, 6)
        act_perm, pt_perm = torch.randperm(6), torch.randperm(11)
        permuted = model(
            pts_pos[:, pt_perm], pts_feat[:, pt_perm], pts_sim[:, pt_perm], actions[:, act_perm]
        )
        single = model(pts_pos[1:], pts_feat[1:], pts_sim[1:], actions[1:])
    torch.testing.assert_close(permuted, logits[:, act_perm], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(single, logits[1:], atol=1e-6, rtol=1e-5)


def test_language_enters_only_through_similarity():
    torch.manual_seed(9)
    model = A2FusionModel(TINY).eval()
    pts_pos, pts_feat, _, actions = _random_inputs(TINY, batch=1, points=8, actions=3)
    zero_sim = torch.zeros(1, 8, 1)
    with torch.no_grad():
        a = model(pts_pos, pts_feat, zero_sim, actions)
        b = model(pts_pos, torch.randn_like(pts_feat), zero_sim, actions)
    torch.testing.assert_close(a, b)


def test_select_action_index_is_the_argmax():
    torch.manual_seed(10)
    model = A2FusionModel(TINY).eval()
    inputs = _random_inputs(TINY, batch=1, points=8, actions=7)
    with torch.no_grad():
        expected = int(model(*inputs)[0].argmax())
    assert model.select_action_index(*inputs) == expected


def test_select_action_index_refuses_empty_batched_and_nan_inputs():
    model = A2FusionModel(TINY).eval()
    with pytest.raises(ValueError, match="M = 0"):
        model.select_action_index(*_random_inputs(TINY, batch=1, points=4, actions=0))
    with pytest.raises(ValueError, match="one scene"):
        model.select_action_index(*_random_inputs(TINY, batch=2, points=4, actions=3))
    pts_pos, pts_feat, pts_sim, actions = _random_inputs(TINY, batch=1, points=4, actions=3)
    pts_feat[0, 2, 5] = math.nan
    with pytest.raises(ValueError, match="non-finite logits"):
        model.select_action_index(pts_pos, pts_feat, pts_sim, actions)


def test_wrong_input_shapes_are_named():
    model = A2FusionModel(TINY).eval()
    pts_pos, pts_feat, pts_sim, actions = _random_inputs(TINY, batch=1, points=4, actions=3)
    with pytest.raises(ValueError, match=r"pts_feat must have shape \(B, \*, 12\)"):
        model(pts_pos, pts_feat[..., :-1], pts_sim, actions)
    with pytest.raises(ValueError, match="pts_sim must match pts_pos"):
        model(pts_pos, pts_feat, pts_sim[:, :3], actions)
    with pytest.raises(ValueError, match=r"actions must have shape \(B, \*, 7\)"):
        model(pts_pos, pts_feat, pts_sim, actions[..., :6])


# ----------------------------------------------------------------------------- golden


def test_tiny_golden_logits():
    golden = json.loads((GOLDEN_DIR / "fusion_tiny.json").read_text())
    script = _load_golden_script()
    assert golden["config"] == script.TINY_CONFIG and golden["seed"] == script.SEED
    model, inputs = script.make_tiny_case(golden["seed"])
    sums = script.checksums(model, inputs)
    for name, value in golden["checksums"].items():
        assert sums[name] == pytest.approx(value, abs=1e-5), (
            f"seeded {name} changed: torch's random stream differs, not the model; regenerate "
            "fusion_tiny.json with make_fusion_golden.py after checking why"
        )
    with torch.no_grad():
        logits = model(**inputs)
    torch.testing.assert_close(
        logits,
        torch.tensor(golden["logits"], dtype=torch.float32),
        atol=_golden_atol(golden),
        rtol=0,
    )
    assert logits.argmax(dim=-1).tolist() == golden["argmax"]


def _golden_atol(golden: dict) -> float:
    """float32_max_abs_error is the largest |float32 - float64| logit, measured when the golden
    was made. Another CPU rounds in another order with errors of the same kind, at most about
    twice as large (no fused multiply-add): 3x covers here plus there. Plus the golden's
    8-decimal rounding (5e-9) and one float32 rounding of logits <= 1 (u32)."""
    return 3.0 * golden["float32_max_abs_error"] + 5e-9 + 2.0**-24


@pytest.mark.parametrize(
    "weight", ["vilg_fusion.cross_attn.resblocks.0.attn.v_proj.weight", "policy.linear1.weight"]
)
def test_tiny_golden_catches_one_weight_changed_by_1e_3(weight):
    golden = json.loads((GOLDEN_DIR / "fusion_tiny.json").read_text())
    model, inputs = _load_golden_script().make_tiny_case(golden["seed"])
    state = model.state_dict()
    assert weight in state, sorted(state)
    with torch.no_grad():
        state[weight].view(-1)[5] += 1e-3
        logits = model(**inputs)
    difference = (logits - torch.tensor(golden["logits"], dtype=torch.float32)).abs().max()
    assert float(difference) > _golden_atol(golden)
