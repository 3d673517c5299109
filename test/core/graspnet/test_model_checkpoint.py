"""GraspNet module tree vs the published checkpoint-rs.tar layout, strict loading, BN semantics.

The conv-weight table is written out from the spec (§3.5), not derived from the model.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from a2_grasping.core.graspnet.checkpoint import load_graspnet_model, load_graspnet_state_dict
from a2_grasping.core.graspnet.model import (
    GraspNet,
    GraspNetArchitecture,
    _conv_bn_rows,
    grasp_views,
    viewpoint_to_matrix,
)
from a2_grasping.core.policy.checkpoints import CheckpointError

_BB = "view_estimator.backbone."
SHARED_CONV_SHAPES = {
    _BB + "sa1.mlp_module.": [(64, 3), (64, 64), (128, 64)],
    _BB + "sa2.mlp_module.": [(128, 131), (128, 128), (256, 128)],
    _BB + "sa3.mlp_module.": [(128, 259), (128, 128), (256, 128)],
    _BB + "sa4.mlp_module.": [(128, 259), (128, 128), (256, 128)],
    _BB + "fp1.mlp.": [(256, 512), (256, 256)],
    _BB + "fp2.mlp.": [(256, 512), (256, 256)],
    "grasp_generator.crop.mlps.": [(64, 3), (128, 64), (256, 128)],
}
HEAD_CONV_SHAPES = {
    "view_estimator.vpmodule.": [(256, 256), (302, 256), (302, 302)],
    "grasp_generator.operation.": [(128, 256), (128, 128), (36, 128)],
    "grasp_generator.tolerance.": [(128, 256), (128, 128), (12, 128)],
}
BN_SUFFIXES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
SMALL = GraspNetArchitecture(sa_npoint=(128, 64, 32, 16), sa_nsample=(16, 8, 8, 8), crop_nsample=8)


def _published_shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for prefix, layers in SHARED_CONV_SHAPES.items():
        for i, (out, inp) in enumerate(layers):
            shapes[f"{prefix}layer{i}.conv.weight"] = (out, inp, 1, 1)
            for suffix in BN_SUFFIXES:
                shapes[f"{prefix}layer{i}.bn.bn.{suffix}"] = (
                    () if suffix == "num_batches_tracked" else (out,)
                )
    for prefix, layers in HEAD_CONV_SHAPES.items():
        for i, (out, inp) in enumerate(layers, start=1):
            shapes[f"{prefix}conv{i}.weight"] = (out, inp, 1)
            shapes[f"{prefix}conv{i}.bias"] = (out,)
            if i < 3:
                for suffix in BN_SUFFIXES:
                    shapes[f"{prefix}bn{i}.{suffix}"] = (
                        () if suffix == "num_batches_tracked" else (out,)
                    )
    return shapes


@pytest.fixture(scope="module")
def published_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    state = GraspNet().state_dict()
    for key, tensor in state.items():  # distinct running statistics, so loading is observable
        if key.endswith("running_var"):
            tensor.uniform_(0.5, 2.0)
        elif key.endswith("running_mean"):
            tensor.uniform_(-0.5, 0.5)
        elif key.endswith("num_batches_tracked"):
            tensor.fill_(12345)
    return state


def _save_published(path, state, **extra):
    model = GraspNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch.save(
        {
            "epoch": 17,
            "model_state_dict": state,
            "optimizer_state_dict": optimizer.state_dict(),
            **extra,
        },
        path,
    )


def test_state_dict_matches_the_published_layout():
    model = GraspNet()
    state = model.state_dict()
    expected = _published_shapes()
    assert len(expected) == 162
    assert {k: tuple(v.shape) for k, v in state.items()} == expected
    assert sum(p.numel() for p in model.parameters()) == 1_025_964
    assert state[_BB + "sa1.mlp_module.layer0.bn.bn.num_batches_tracked"].dtype == torch.int64


def test_strict_load_of_a_published_format_checkpoint(tmp_path, published_state):
    path = tmp_path / "checkpoint-rs.tar"
    _save_published(path, published_state, loss=0.5)
    _, epoch = load_graspnet_state_dict(path)
    assert epoch == 17
    model = load_graspnet_model(path, SMALL)
    assert not model.training
    for key, tensor in model.state_dict().items():
        assert torch.equal(tensor, published_state[key]), key


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("missing", r"missing keys \(1\): grasp_generator\.tolerance\.conv3\.bias"),
        ("unexpected", r"unexpected keys \(1\): grasp_generator\.extra\.weight"),
        ("shape", r"mis-shaped keys \(1\): view_estimator\.vpmodule\.conv3\.weight"),
        ("dtype", r"floating-point tensors where integers belong"),
        ("module_prefix", r"missing keys \(162\).*unexpected keys \(162\): module\."),
    ],
)
def test_wrong_model_state_dict_fails_naming_the_keys(tmp_path, published_state, breakage, message):
    state = dict(published_state)
    if breakage == "missing":
        del state["grasp_generator.tolerance.conv3.bias"]
    elif breakage == "unexpected":
        state["grasp_generator.extra.weight"] = torch.zeros(3)
    elif breakage == "shape":
        state["view_estimator.vpmodule.conv3.weight"] = torch.zeros(302, 302)
    elif breakage == "dtype":
        key = _BB + "sa1.mlp_module.layer0.bn.bn.num_batches_tracked"
        state[key] = torch.tensor(1.0)
    else:
        state = {f"module.{k}": v for k, v in state.items()}
    path = tmp_path / "broken.tar"
    _save_published(path, state)
    with pytest.raises(CheckpointError, match=message):
        load_graspnet_model(path)


def test_wrong_files_fail_loudly(tmp_path, published_state):
    bare = tmp_path / "bare.pth"
    torch.save(published_state, bare)
    with pytest.raises(CheckpointError, match=r"no 'model_state_dict'.*bare state dict"):
        load_graspnet_model(bare)
    nested = tmp_path / "nested.tar"
    torch.save({"epoch": 1, "model_state_dict": {"inner": published_state}}, nested)
    with pytest.raises(CheckpointError, match="not a dict of tensors"):
        load_graspnet_model(nested)
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_graspnet_model(garbage)
    with pytest.raises(CheckpointError, match="no such file"):
        load_graspnet_model(tmp_path / "absent.tar")
    listed = tmp_path / "list.tar"
    torch.save([1, 2], listed)
    with pytest.raises(CheckpointError, match="holds a list"):
        load_graspnet_model(listed)


@pytest.mark.parametrize("training", [False, True])
def test_channel_last_conv_bn_equals_conv2d_then_batchnorm2d(training):
    torch.manual_seed(1)
    conv = nn.Conv2d(5, 7, 1, bias=False)
    bn = nn.BatchNorm2d(7)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.uniform_(-1, 1)
    reference_bn = nn.BatchNorm2d(7)
    reference_bn.load_state_dict(bn.state_dict())
    bn.train(training)
    reference_bn.train(training)
    x = torch.randn(2, 5, 6, 4)  # (B, C, H, W)
    expected = reference_bn(conv(x))
    ours = _conv_bn_rows(x.permute(0, 2, 3, 1), conv.weight, None, bn).permute(0, 3, 1, 2)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(bn.running_mean, reference_bn.running_mean)
    torch.testing.assert_close(bn.running_var, reference_bn.running_var)
    assert int(bn.num_batches_tracked) == int(reference_bn.num_batches_tracked)


def test_forward_shapes_and_eval_determinism():
    torch.manual_seed(2)
    model = GraspNet(SMALL).eval()
    cloud = torch.rand(1, 400, 3) * 0.2 + torch.tensor([-0.6, -0.1, 0.0])
    with torch.inference_mode():
        first, second = model(cloud), model(cloud)
    assert first.objectness_score.shape == (1, 2, 64)
    assert first.view_score.shape == (1, 64, 300)
    for name in ("grasp_score_pred", "grasp_angle_cls_pred", "grasp_width_pred"):
        assert getattr(first, name).shape == (1, 12, 64, 4)
    assert first.grasp_tolerance_pred.shape == (1, 12, 64, 4)
    assert first.fp2_xyz.shape == (1, 64, 3) and first.grasp_top_view_rot.shape == (1, 64, 3, 3)
    assert torch.equal(first.grasp_score_pred, second.grasp_score_pred)
    # seeds are sa2's points; FPS from index 0 nests, so fp2_inds index them in the input
    assert torch.equal(cloud[0, first.fp2_inds[0]], first.fp2_xyz[0])


def test_grasp_views_follow_the_fibonacci_lattice():
    views = grasp_views()
    assert views.shape == (300, 3)
    torch.testing.assert_close(views.norm(dim=1), torch.ones(300))
    phi = (math.sqrt(5) - 1) / 2
    i = 7
    z = (2 * i + 1) / 300 - 1
    expected = [math.sqrt(1 - z * z) * math.cos(2 * i * math.pi * phi), 0.0, z]
    expected[1] = math.sqrt(1 - z * z) * math.sin(2 * i * math.pi * phi)
    torch.testing.assert_close(views[i], torch.tensor(expected))


def test_viewpoint_to_matrix_axes_and_in_plane_angle():
    approach = torch.tensor([[0.0, 0.0, -2.0], [1.0, 1.0, 0.0]])
    angle = torch.tensor([0.0, math.pi / 2])
    rotation = viewpoint_to_matrix(approach, angle)
    torch.testing.assert_close(torch.linalg.det(rotation), torch.ones(2))
    # vertical approach: y falls back to (0, 1, 0), z = x cross y
    torch.testing.assert_close(rotation[0], torch.tensor([[0, 0, 1], [0, 1, 0], [-1, 0, 0.0]]))
    s = math.sqrt(0.5)
    # x = approach; at angle 90 deg the new y is the old z and the new z is -old y
    torch.testing.assert_close(rotation[1, :, 0], torch.tensor([s, s, 0.0]))
    torch.testing.assert_close(rotation[1, :, 1], torch.tensor([0.0, 0.0, 1.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(rotation[1, :, 2], torch.tensor([s, -s, 0.0]), atol=1e-6, rtol=0)
