"""PointNet++ ops against brute-force references written as plain loops over the kernel rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from a2_grasping.core.graspnet import point_ops


def _cloud(seed: int, count: int, scale: float = 0.2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(1, count, 3, generator=generator) * scale


def _first_or_pad(hits: list[int], nsample: int) -> list[int]:
    """The kernels' output rule for one query."""
    if not hits:
        return [0] * nsample
    return (hits[:nsample] + [hits[0]] * nsample)[:nsample]


def _fps_reference(points: np.ndarray, npoint: int) -> list[int]:
    """Greedy max-min from index 0 in float32, never picking |p|^2 <= 1e-3 after the start."""
    eligible = (points * points).sum(axis=1) > 1e-3
    eligible[0] = True
    chosen = [0]
    min_sq = np.full(len(points), np.inf, dtype=np.float32)
    for _ in range(1, min(npoint, int(eligible.sum()))):
        distance = ((points - points[chosen[-1]]) ** 2).sum(axis=1)
        min_sq = np.minimum(min_sq, distance)
        candidates = np.where(eligible & ~np.isin(np.arange(len(points)), chosen), min_sq, -1.0)
        chosen.append(int(np.argmax(candidates)))
    return chosen + [0] * (npoint - len(chosen))


def test_fps_matches_greedy_reference_and_skips_points_at_the_origin():
    cloud = _cloud(0, 500)
    cloud[0, 7] = torch.tensor([0.01, 0.01, 0.01])  # |p|^2 = 3e-4: never sampled
    indices = point_ops.furthest_point_sample(cloud, 64)
    expected = _fps_reference(cloud[0].numpy(), 64)
    assert indices[0].tolist() == expected
    assert 7 not in indices[0].tolist()


def test_fps_device_loop_equals_cpu_sampler():
    cloud = _cloud(1, 400)[0]
    assert torch.equal(point_ops._fps_torch(cloud, 50), point_ops._fps_cpu(cloud, 50))


def test_fps_pads_with_zero_when_too_few_points_are_eligible():
    cloud = torch.zeros(1, 5, 3)
    cloud[0, 3] = torch.tensor([1.0, 0.0, 0.0])
    assert point_ops.furthest_point_sample(cloud, 4)[0].tolist() == [0, 3, 0, 0]


def test_ball_query_matches_brute_force_strict_radius_and_padding():
    cloud = _cloud(2, 2000)
    queries = torch.cat([cloud[:, :60], torch.full((1, 2, 3), 5.0)], dim=1)  # 2 far: no hits
    radius, nsample = 0.03, 16
    result = point_ops.ball_query(radius, nsample, cloud, queries)
    for s, centre in enumerate(queries[0]):
        distance_sq = ((cloud[0] - centre) ** 2).sum(dim=1)
        hits = torch.nonzero(distance_sq < radius * radius).flatten().tolist()
        assert result[0, s].tolist() == _first_or_pad(hits, nsample)


def test_ball_query_excludes_points_exactly_on_the_radius():
    cloud = torch.tensor([[[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.25, 0.0, 0.0]]])
    result = point_ops.ball_query(0.5, 3, cloud, cloud[:, :1])
    assert result[0, 0].tolist() == [0, 2, 0]


def test_first_hits_streamed_equals_dense():
    generator = torch.Generator().manual_seed(3)
    mask = torch.rand(40, 3000, generator=generator) < 0.01
    dense = [_first_or_pad(torch.nonzero(row).flatten().tolist(), 8) for row in mask]
    assert point_ops.first_hits(mask, 8).tolist() == dense


def test_group_and_gather_index_rows():
    values = torch.arange(30.0).reshape(1, 10, 3)
    indices = torch.tensor([[[1, 2], [9, 0]]])
    grouped = point_ops.group_points(values, indices)
    assert grouped.shape == (1, 2, 2, 3)
    assert torch.equal(grouped[0, 1, 0], values[0, 9])
    assert torch.equal(point_ops.gather_points(values, torch.tensor([[4, 4]]))[0, 1], values[0, 4])


def test_three_nn_and_interpolate_match_brute_force_with_ties_to_lower_index():
    known = _cloud(4, 30)
    known[0, 12] = known[0, 5]  # duplicate: equal distances, index 5 must come first
    unknown = torch.cat([known[:, 5:6], _cloud(5, 20)], dim=1)
    distance, indices = point_ops.three_nn(unknown, known)
    for n, point in enumerate(unknown[0]):
        exact = ((known[0].double() - point.double()) ** 2).sum(dim=1)
        order = sorted(range(30), key=lambda k: (float(exact[k]), k))[:3]
        assert indices[0, n].tolist() == order
        torch.testing.assert_close(
            distance[0, n].double(), exact[order].sqrt(), atol=1e-6, rtol=1e-5
        )
    assert indices[0, 0, :2].tolist() == [5, 12]
    values = torch.randn(1, 30, 4, generator=torch.Generator().manual_seed(6))
    weights = torch.rand(1, 21, 3, generator=torch.Generator().manual_seed(7))
    mixed = point_ops.three_interpolate(values, indices, weights)
    manual = (values[0][indices[0]] * weights[0][..., None]).sum(dim=1)
    torch.testing.assert_close(mixed[0], manual)


def _cylinder_reference(cloud, centre, rotation, hmax, nsample, *, transpose=True):
    """Brute-force cylinder hits; transpose=False is the public CPU fallback's bug (R p)."""
    offsets = cloud - centre
    local = offsets @ rotation if transpose else offsets @ rotation.T
    inside = (local[:, 1] ** 2 + local[:, 2] ** 2 < 0.05**2) & (local[:, 0] > -0.02)
    hits = torch.nonzero(inside & (local[:, 0] < hmax)).flatten().tolist()
    return _first_or_pad(hits, nsample)


def test_cylinder_query_matches_brute_force_in_the_seed_frame():
    cloud = _cloud(8, 3000)
    seeds = cloud[:, :50]
    rotation = torch.from_numpy(Rotation.random(50, random_state=9).as_matrix()).float()[None]
    hmax = (0.01, 0.02, 0.03, 0.04)
    result = point_ops.cylinder_query(0.05, -0.02, hmax, 16, cloud, seeds, rotation)
    assert result.shape == (1, 50, 4, 16)
    for s in range(50):
        for d, top in enumerate(hmax):
            expected = _cylinder_reference(cloud[0], seeds[0, s], rotation[0, s], top, 16)
            assert result[0, s, d].tolist() == expected


def test_cylinder_crop_uses_the_transpose_not_the_fallbacks_rotation():
    """The crop test: with the approach along world +z, the crop is a cylinder around world +z.

    Seed frame x (approach) = world +z, y = world +x, z = world +y, i.e. R has those columns
    (R != Rᵀ). Correct local coordinates are Rᵀ (p - c) (CUDA kernel); the public CPU fallback
    computes R (p - c), which here is the cylinder around world +y instead. Point sets:
    0-3 on the world z axis, 4 at z = 3.5 cm and 4.5 cm off along x (inside the true cylinder
    only), 5 at y = 3.5 cm and 4.5 cm off along x (inside the fallback's cylinder only).
    """
    rotation = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert torch.equal(rotation[:, 0], torch.tensor([0.0, 0.0, 1.0]))
    cloud = torch.tensor(
        [
            [0.0, 0.0, 0.005],
            [0.0, 0.0, 0.015],
            [0.0, 0.0, 0.025],
            [0.0, 0.0, 0.035],
            [0.045, 0.0, 0.035],
            [0.045, 0.035, 0.0],
        ]
    )[None]
    seed = torch.zeros(1, 1, 3)
    hmax = (0.01, 0.02, 0.03, 0.04)
    result = point_ops.cylinder_query(0.05, -0.02, hmax, 8, cloud, seed, rotation[None, None])
    assert result[0, 0, 0].tolist() == [0] * 8  # depth 1 cm: only point 0
    assert result[0, 0, 1].tolist() == [0, 1] + [0] * 6
    assert result[0, 0, 3].tolist() == [0, 1, 2, 3, 4] + [0] * 3
    fallback = _cylinder_reference(cloud[0], seed[0, 0], rotation, 0.04, 8, transpose=False)
    assert 5 in fallback and 4 not in fallback  # the transposed crop sees another cylinder


@pytest.mark.parametrize("count", [1, 7])
def test_queries_accept_tiny_clouds(count):
    cloud = _cloud(10, count)
    assert point_ops.ball_query(0.5, 4, cloud, cloud).shape == (1, count, 4)
    rotation = torch.eye(3).expand(1, count, 3, 3)
    assert point_ops.cylinder_query(0.05, -0.02, (0.01,), 4, cloud, cloud, rotation).shape == (
        1,
        count,
        1,
        4,
    )
