"""`a2-grasping check-checkpoint`: the command a lab runs on downloaded weights."""

from __future__ import annotations

import subprocess

import pytest
import torch
from safetensors.torch import save_file

from a2_grasping.core.policy.fusion_model import A2FusionModel
from a2_grasping.installation import install_prefix


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(install_prefix() / "bin" / "a2-grasping"), "check-checkpoint", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def published_layout_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return A2FusionModel().state_dict()


def test_plain_state_dict_passes(published_layout_state, tmp_path):
    path = tmp_path / "sl_checkpoint_199.pth"
    torch.save(published_layout_state, path)
    result = _check("--fusion", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "34 tensors, 9,320,065 parameters" in result.stdout


def test_safetensors_copy_passes(published_layout_state, tmp_path):
    path = tmp_path / "fusion.safetensors"
    save_file({k: v.contiguous() for k, v in published_layout_state.items()}, str(path))
    result = _check("--fusion", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_missing_key_fails_and_is_named(published_layout_state, tmp_path):
    broken = dict(published_layout_state)
    del broken["policy.linear3.bias"]
    path = tmp_path / "broken.pth"
    torch.save(broken, path)
    result = _check("--fusion", str(path))
    assert result.returncode == 1
    assert "policy.linear3.bias" in result.stdout


def test_nested_training_checkpoint_fails(published_layout_state, tmp_path):
    path = tmp_path / "nested.pth"
    torch.save({"epoch": 199, "model_state_dict": published_layout_state}, path)
    result = _check("--fusion", str(path))
    assert result.returncode == 1
    assert "model_state_dict" in result.stdout


@pytest.fixture(scope="module")
def graspnet_state() -> dict[str, torch.Tensor]:
    from a2_grasping.core.graspnet.model import GraspNet

    torch.manual_seed(0)
    return GraspNet().state_dict()


def _save_graspnet(path, state) -> None:
    torch.save({"epoch": 18, "model_state_dict": state, "optimizer_state_dict": {}}, path)


def test_graspnet_published_format_passes_alone_and_with_fusion(
    graspnet_state, published_layout_state, tmp_path
):
    graspnet = tmp_path / "checkpoint-rs.tar"
    _save_graspnet(graspnet, graspnet_state)
    result = _check("--graspnet", str(graspnet))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "162 tensors, 1,025,964 parameters, epoch 18" in result.stdout
    fusion = tmp_path / "sl_checkpoint_199.pth"
    torch.save(published_layout_state, fusion)
    both = _check("--fusion", str(fusion), "--graspnet", str(graspnet))
    assert both.returncode == 0, both.stdout + both.stderr
    assert "OK   fusion" in both.stdout and "OK   graspnet" in both.stdout


def test_graspnet_wrong_file_fails_and_names_the_key(graspnet_state, tmp_path):
    broken = dict(graspnet_state)
    del broken["grasp_generator.operation.conv3.bias"]
    path = tmp_path / "broken.tar"
    _save_graspnet(path, broken)
    result = _check("--graspnet", str(path))
    assert result.returncode == 1
    assert "grasp_generator.operation.conv3.bias" in result.stdout
    assert _check().returncode == 2
