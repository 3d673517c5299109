"""Eval-mode pooling (chunked MLPs, one MLP row per distinct seed-point pair) vs the direct form.

The direct form is the training-mode arithmetic: every grouped row through the MLP at once, then
the max over neighbours. Eval mode must give the same features; it may differ only in float
rounding. The seed-frame offsets are 3-term dot products computed by a different batched matmul
(a few float32 ulps of values below 0.1 m, ~1e-8), and the MLP's matrix products may sum their
up-to-128 terms in another order for another row count: each output then moves by at most about
128 x 6e-8 x (terms of magnitude ~1) ~ 1e-5. Hence atol = rtol = 1e-5 on features of order 1.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from a2_grasping.core.graspnet import model as graspnet_model
from a2_grasping.core.graspnet import point_ops
from a2_grasping.core.graspnet.model import GraspNetArchitecture, distinct_pairs, mlp_max_pool
from a2_grasping.testing.random_graspnet import random_graspnet, three_object_scene

SMALL = GraspNetArchitecture(sa_npoint=(512, 256, 64, 32), sa_nsample=(32, 16, 8, 8))
TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}


@pytest.fixture(scope="module")
def network_and_clouds():
    model = random_graspnet(0, SMALL)
    rng = np.random.default_rng(4)
    points = three_object_scene(4, 1500)
    points = points[points[:, 2] > 0.003]  # objects only, as the generator passes them
    clouds = [
        -points[rng.choice(len(points), 3000, replace=False)] for _ in range(2)
    ]  # a batch of two different clouds
    return model, torch.from_numpy(np.stack(clouds)).float()


def test_distinct_pairs_compacts_rows_and_inverts():
    indices = torch.tensor([[5, 3, 5, 5, 7], [2, 2, 2, 2, 2], [9, 1, 4, 1, 0]])
    query, value, inverse = distinct_pairs(indices)
    assert query.tolist() == [0, 0, 0, 1, 2, 2, 2, 2]
    assert value.tolist() == [3, 5, 7, 2, 0, 1, 4, 9]
    assert torch.equal(value[inverse], indices)
    assert torch.equal(query[inverse], torch.arange(3)[:, None].expand(-1, 5))


def _direct_crop(crop, cloud, seed_xyz, rotation):
    arch = crop.architecture
    indices = point_ops.cylinder_query(
        arch.cylinder_radius_m,
        arch.hmin_m,
        arch.hmax_m,
        arch.crop_nsample,
        cloud,
        seed_xyz,
        rotation,
    )
    batch, seeds, depths, nsample = indices.shape
    grouped = point_ops.group_points(cloud, indices.reshape(batch, seeds, -1))
    local = (grouped - seed_xyz[:, :, None]) @ rotation
    return crop.mlps(local.reshape(batch, seeds, depths, nsample, 3)).amax(dim=3), indices


def test_eval_crop_equals_every_row_through_the_mlp(network_and_clouds, monkeypatch):
    model, clouds = network_and_clouds
    # Small chunks, so a batch spans several chunks and a chunk boundary splits the seeds.
    monkeypatch.setattr(graspnet_model, "POOL_CHUNK_ROWS", 1000)
    with torch.inference_mode():
        out = model(clouds)
        crop = model.grasp_generator.crop
        pooled = crop(clouds, out.fp2_xyz, out.grasp_top_view_rot)
        direct, indices = _direct_crop(crop, clouds, out.fp2_xyz, out.grasp_top_view_rot)
    assert pooled.shape == direct.shape == (2, SMALL.num_seed, len(SMALL.hmax_m), 256)
    torch.testing.assert_close(pooled, direct, **TOLERANCE)
    # The point of the eval path: far fewer distinct pairs than grouped rows on a dense cloud.
    flat = indices.reshape(2 * SMALL.num_seed, -1)
    assert distinct_pairs(flat)[0].numel() < 0.6 * flat.numel()


def test_a_changed_crop_weight_is_seen_by_the_eval_path(network_and_clouds):
    model, clouds = network_and_clouds
    changed = copy.deepcopy(model)
    with torch.no_grad():
        changed.grasp_generator.crop.mlps.layer2.conv.weight[7, 3] += 1e-2
    with torch.inference_mode():
        out = model(clouds)
        args = (clouds, out.fp2_xyz, out.grasp_top_view_rot)
        before = model.grasp_generator.crop(*args)
        after = changed.grasp_generator.crop(*args)
    assert (after - before).abs().max() > 100 * TOLERANCE["atol"]


def test_chunked_max_pool_equals_one_pass(network_and_clouds, monkeypatch):
    model, _ = network_and_clouds
    mlp = model.view_estimator.backbone.sa2.mlp_module
    grouped = torch.randn(2, 300, 16, 131, generator=torch.Generator().manual_seed(1))
    monkeypatch.setattr(graspnet_model, "POOL_CHUNK_ROWS", 16 * 7)  # 7 queries per chunk
    with torch.inference_mode():
        chunked = mlp_max_pool(mlp, grouped)
        whole = mlp(grouped).amax(dim=2)
    torch.testing.assert_close(chunked, whole, **TOLERANCE)
