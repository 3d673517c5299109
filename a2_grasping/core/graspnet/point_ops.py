"""PointNet++ point operations in plain PyTorch, with the semantics of the CUDA kernels (spec §6).

graspnet-baseline needs seven compiled ops. Here each is a short vectorised function that runs on
any device and reproduces the kernel's rules, not the public CPU fallback's deviations:
- farthest-point sampling starts at index 0 and never picks a point with |p|² <= 1e-3 after it
  (the fallback starts at a random index and so is not deterministic);
- ball and cylinder queries accept a point only strictly inside (d² < r²), keep the first
  `nsample` hits in index order, pad with the first hit, and return index 0 when nothing is hit;
- the cylinder query maps a point into the seed frame with the TRANSPOSE of the seed rotation,
  local = Rᵀ (p - c), as the CUDA kernel and `rotate_xyz` do (the fallback uses R, spec §7.17);
- three-NN breaks distance ties towards the lower index, as the kernel's strict `<` does.

Shapes: xyz (B, N, 3), per-point values channel-last (B, N, C), indices int64.
"""

from __future__ import annotations

from collections.abc import Callable

import fpsample
import numpy as np
import torch
from torch import Tensor

# The CUDA FPS kernel skips points this close to the origin (squared norm, m²) after the start.
FPS_MIN_SQUARED_NORM = 1e-3
# Query blocks hold at most this many (query, point) pairs: about 50 MB of float32 temporaries.
_PAIRS_PER_BLOCK = 4_000_000
# Points tested in the first block of a streamed query; each later block is twice as long.
_FIRST_BLOCK_POINTS = 256


def furthest_point_sample(xyz: Tensor, npoint: int) -> Tensor:
    """(B, npoint) int64 indices of farthest-point samples of xyz (B, N, 3), starting at index 0.

    On the CPU the exact greedy sampler of `fpsample` does the work (a C++ loop, far faster than
    npoint tensor passes); elsewhere a tensor loop with the same rule runs on the device. Points
    with |p|² <= 1e-3 are never chosen after the start, as in the CUDA kernel; when fewer eligible
    points than npoint remain, the rest is index 0 (the kernel's initial value).
    """
    if xyz.dim() != 3 or xyz.shape[2] != 3:
        raise ValueError(f"xyz must be (B, N, 3), got {tuple(xyz.shape)}")
    if npoint < 1 or xyz.shape[1] < 1:
        raise ValueError(f"need npoint >= 1 and N >= 1, got npoint={npoint}, N={xyz.shape[1]}")
    if xyz.device.type == "cpu":
        return torch.stack([_fps_cpu(cloud, npoint) for cloud in xyz])
    return torch.stack([_fps_torch(cloud, npoint) for cloud in xyz])


def _eligible(cloud: Tensor) -> Tensor:
    """Mask of points FPS may pick: index 0 (the start) and every point off the origin."""
    eligible = (cloud * cloud).sum(dim=1) > FPS_MIN_SQUARED_NORM
    eligible[0] = True
    return eligible


def _fps_cpu(cloud: Tensor, npoint: int) -> Tensor:
    eligible = _eligible(cloud)
    candidates = torch.nonzero(eligible).squeeze(1)  # (M,) ascending, candidates[0] == 0
    count = min(npoint, int(candidates.numel()))
    points = np.ascontiguousarray(cloud[candidates].detach().to(torch.float32).numpy())
    # Only the vanilla sampler honours start_idx and is exact: fpsample 1.0.2's bucket variants
    # ignore the start index and its npdu variants are approximate.
    local = fpsample.fps_sampling(points, count, start_idx=0).astype(np.int64)
    chosen = candidates[torch.from_numpy(local)]
    return _pad_with_zero(chosen, npoint)


def _fps_torch(cloud: Tensor, npoint: int) -> Tensor:
    """Greedy max-min sampling as npoint tensor passes; ties go to the lowest index."""
    eligible = _eligible(cloud)
    count = min(npoint, int(eligible.sum()))
    min_sq = torch.where(eligible, torch.inf, -1.0).to(cloud.dtype)
    chosen = torch.zeros(count, dtype=torch.int64, device=cloud.device)
    last = cloud[0]
    for step in range(1, count):
        distance_sq = ((cloud - last) ** 2).sum(dim=1)
        min_sq = torch.minimum(min_sq, torch.where(eligible, distance_sq, min_sq))
        best = torch.argmax(min_sq)
        chosen[step] = best
        min_sq[best] = -1.0
        last = cloud[best]
    return _pad_with_zero(chosen, npoint)


def _pad_with_zero(indices: Tensor, length: int) -> Tensor:
    padded = torch.zeros(length, dtype=torch.int64, device=indices.device)
    padded[: indices.numel()] = indices
    return padded


def gather_points(xyz: Tensor, indices: Tensor) -> Tensor:
    """(B, S, C) rows of xyz (B, N, C) at indices (B, S)."""
    return torch.gather(xyz, 1, indices.unsqueeze(-1).expand(-1, -1, xyz.shape[2]))


def group_points(values: Tensor, indices: Tensor) -> Tensor:
    """(B, S, K, C) rows of values (B, N, C) at indices (B, S, K).

    Channel-last, unlike the kernel's (B, C, N) -> (B, C, S, K): our MLPs run as matrix products
    over the last axis, and this layout saves a transpose on both sides of each.
    """
    batch, queries, nsample = indices.shape
    flat = indices.reshape(batch, queries * nsample, 1).expand(-1, -1, values.shape[2])
    return torch.gather(values, 1, flat).reshape(batch, queries, nsample, values.shape[2])


def first_hits(mask: Tensor, nsample: int) -> Tensor:
    """(R, nsample) int64: the first nsample True columns of each row of mask (R, N), in order.

    Rows with fewer hits are padded with their first hit, rows with none are all 0: the output
    rule of the CUDA ball and cylinder queries. This is the brute-force form; the queries below
    compute the same thing without scanning every column.
    """
    out = torch.zeros(mask.shape[0], 1, nsample, dtype=torch.int64, device=mask.device)
    counts = torch.zeros(mask.shape[0], 1, dtype=torch.int64, device=mask.device)
    rows = torch.arange(mask.shape[0], device=mask.device)
    row, col = torch.nonzero(mask, as_tuple=True)
    _record_hits(out, counts, rows, 0, row, col)
    return _pad_with_first(out, counts)[:, 0]


def _record_hits(  # noqa: PLR0917 (a private helper, all arguments positional)
    out: Tensor, counts: Tensor, rows: Tensor, depth: int, row: Tensor, col: Tensor
) -> None:
    """Append hits (row, col), sorted by (row, col), to slot `depth` of out (R, D, K).

    row indexes `rows` (A,), the queries of the block; col is the point index.
    """
    nsample = out.shape[2]
    if row.numel() == 0:
        return
    per_row = torch.bincount(row, minlength=rows.shape[0])  # (A,)
    first = torch.cumsum(per_row, 0) - per_row
    query = rows[row]
    rank = counts[query, depth] + torch.arange(row.numel(), device=row.device) - first[row]
    keep = rank < nsample
    out[query[keep], depth, rank[keep]] = col[keep]
    counts[rows, depth] += per_row


def _pad_with_first(out: Tensor, counts: Tensor) -> Tensor:
    slots = torch.arange(out.shape[2], device=out.device)
    return torch.where(slots < counts[..., None], out, out[..., :1])


# test(queries (A,), start, stop) -> hit mask (A, b) of points start..stop and, for nested
# queries, a value per point (A, b) from which `_stream_queries` tells the depths hit.
BlockTest = Callable[[Tensor, int, int], tuple[Tensor, Tensor | None]]


def _stream_queries(  # noqa: PLR0917 (a private helper, all arguments positional)
    num_queries: int,
    num_points: int,
    depth_bounds: Tensor | None,
    nsample: int,
    test: BlockTest,
    device: torch.device,
) -> Tensor:
    """(Q, D, nsample) first hits per query and depth, scanning points in index order.

    Without depth_bounds there is one depth (D = 1) and every hit counts. With increasing
    depth_bounds (D,), a hit whose value v satisfies v < depth_bounds[d] counts for depth d and
    every deeper one: the depths are nested, so one hit mask serves them all and only the hits,
    not every (query, point, depth), are examined per depth.

    Points are visited in growing blocks and a query leaves the scan once every depth holds
    nsample hits: later points cannot change its answer. A dense tabletop cloud fills 64 slots
    within the first few hundred points, so this visits a small fraction of the Q x N pairs of
    a full scan and returns exactly the same indices.
    """
    depths = 1 if depth_bounds is None else depth_bounds.numel()
    out = torch.zeros(num_queries, depths, nsample, dtype=torch.int64, device=device)
    counts = torch.zeros(num_queries, depths, dtype=torch.int64, device=device)
    active = torch.arange(num_queries, device=device)
    start, block = 0, _FIRST_BLOCK_POINTS
    while active.numel() and start < num_points:
        stop = min(num_points, start + block)
        # Bound the temporaries: split the active queries into row chunks for this block.
        rows_per_chunk = max(1, _PAIRS_PER_BLOCK // (stop - start))
        for chunk in torch.split(active, rows_per_chunk):
            mask, values = test(chunk, start, stop)
            row, block_col = torch.nonzero(mask, as_tuple=True)  # sorted by (row, col)
            col = block_col + start
            if depth_bounds is None or values is None:
                _record_hits(out, counts, chunk, 0, row, col)
                continue
            # First depth each hit belongs to: the number of bounds at or below its value.
            first_depth = torch.searchsorted(depth_bounds, values[row, block_col], right=True)
            for depth in range(depths):
                hit = first_depth <= depth
                _record_hits(out, counts, chunk, depth, row[hit], col[hit])
        active = active[(counts[active] < nsample).any(dim=1)]
        start, block = stop, 2 * block
    return _pad_with_first(out, counts)


def ball_query(radius_m: float, nsample: int, xyz: Tensor, new_xyz: Tensor) -> Tensor:
    """(B, S, nsample) indices of points of xyz (B, N, 3) strictly within radius of new_xyz.

    new_xyz is (B, S, 3).

    Squared distances are summed from coordinate differences, like the kernel, so the strict
    boundary test agrees with it rather than going through |p|² + |q|² - 2 p·q.
    """
    radius_sq = radius_m * radius_m
    results = []
    for cloud, queries in zip(xyz, new_xyz, strict=True):
        planes = cloud.t().contiguous()  # (3, N): one contiguous row per coordinate

        def inside(rows: Tensor, start: int, stop: int) -> tuple[Tensor, None]:
            # d² = dx² + dy² + dz², summed in the kernel's order on contiguous (A, b) planes.
            centre = queries[rows]  # noqa: B023
            distance_sq = _squared(planes[0, start:stop] - centre[:, :1])  # noqa: B023
            distance_sq += _squared(planes[1, start:stop] - centre[:, 1:2])  # noqa: B023
            distance_sq += _squared(planes[2, start:stop] - centre[:, 2:3])  # noqa: B023
            return distance_sq < radius_sq, None

        hits = _stream_queries(
            queries.shape[0], cloud.shape[0], None, nsample, inside, cloud.device
        )
        results.append(hits[:, 0])
    return torch.stack(results)


def _squared(values: Tensor) -> Tensor:
    return values.mul_(values)


def cylinder_query(  # noqa: PLR0917 (the kernel's signature)
    radius_m: float,
    hmin_m: float,
    hmax_m: tuple[float, ...],
    nsample: int,
    xyz: Tensor,
    new_xyz: Tensor,
    rotation: Tensor,
) -> Tensor:
    """(B, S, D, nsample) indices of points in the seed cylinders, one set per hmax in hmax_m.

    The cylinder of seed s and depth d is {p : local = R_sᵀ (p - c_s), local_y² + local_z² < r²,
    hmin < local_x < hmax_d}: its axis is the seed frame's x (the approach), R_s = rotation[:, s]
    (B, S, 3, 3) maps seed-frame to cloud-frame coordinates. All depths share one pass over the
    points because only the upper bound along the axis differs.
    """
    radius_sq = radius_m * radius_m
    hmax = torch.tensor(hmax_m, dtype=xyz.dtype, device=xyz.device)
    results = []
    for cloud, centres, rotations in zip(xyz, new_xyz, rotation, strict=True):
        planes = cloud.t().contiguous()  # (3, N)

        def inside(rows: Tensor, start: int, stop: int) -> tuple[Tensor, Tensor]:
            # Offsets first, then local_k = sum_i offset_i R[i, k] (= Rᵀ offset), as the kernel
            # does, on contiguous (A, b) planes.
            centre, frame = centres[rows], rotations[rows]  # noqa: B023  (A, 3), (A, 3, 3)
            offsets = [planes[i, start:stop] - centre[:, i : i + 1] for i in range(3)]  # noqa: B023
            local = [
                offsets[0] * frame[:, 0, k : k + 1]
                + offsets[1] * frame[:, 1, k : k + 1]
                + offsets[2] * frame[:, 2, k : k + 1]
                for k in range(3)
            ]
            axial = local[0]
            inside_tube = (_squared(local[1]) + _squared(local[2]) < radius_sq) & (axial > hmin_m)
            return inside_tube & (axial < hmax[-1]), axial  # the deepest cylinder holds them all

        results.append(
            _stream_queries(centres.shape[0], cloud.shape[0], hmax, nsample, inside, cloud.device)
        )
    return torch.stack(results)


def three_nn(unknown: Tensor, known: Tensor) -> tuple[Tensor, Tensor]:
    """Euclidean distances (B, n, 3) and indices (B, n, 3) of the 3 nearest known points.

    A stable sort keeps the lower index first among equal distances, as the kernel does.
    """
    offsets = unknown[:, :, None, :] - known[:, None, :, :]  # (B, n, m, 3)
    distance_sq = (offsets * offsets).sum(dim=3)
    sorted_sq, order = torch.sort(distance_sq, dim=2, stable=True)
    return torch.sqrt(sorted_sq[:, :, :3]), order[:, :, :3]


def three_interpolate(values: Tensor, indices: Tensor, weights: Tensor) -> Tensor:
    """(B, n, C): weighted sums of values (B, m, C) at indices (B, n, 3) with weights (B, n, 3).

    Channel-last, like `group_points`.
    """
    picked = group_points(values, indices)  # (B, n, 3, C)
    return (picked * weights[..., None]).sum(dim=2)
