"""graspnet-baseline (GraspNet-1Billion) as our own modules, `checkpoint-rs.tar`-compatible (§3.5).

The module tree reproduces the published `model_state_dict` key for key (162 tensors, 1 025 964
parameters): shared MLPs are `layer{i}.conv` (1x1, no bias) + `layer{i}.bn.bn` (the doubled name
of pointnet2's BatchNorm wrapper); head Conv1d layers have biases and their BatchNorm1d layers are
named `bn1`, `bn2`. Shapes of the conv weights stay (out, in, 1[, 1]) so the file loads as is.

Every layer computes on channel-last tensors (..., C) as one matrix product plus batch norm over
the flattened rows. That is the same arithmetic as the 1x1 convolutions on (B, C, ...) tensors,
but avoids the transposes around each grouping, and batch norm keeps its train/eval semantics.

Forward (spec §2.2), mirrored camera-like frame in, tensors out:
backbone (4 set abstractions + 2 feature propagations) -> 1024 seeds with 256-d features ->
ApproachNet (objectness, 300 view scores, best view -> approach rotation) -> CloudCrop (cylinders
at 4 depths around each seed's approach) -> OperationNet (score, angle class, width per angle and
depth) and ToleranceNet.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

from a2_grasping.core.config_fields import config_field, validate_ranges
from a2_grasping.core.graspnet import point_ops

# Architecture of the published model (spec §2.1-2.2, §3.5): these fix the state-dict shapes.
NUM_VIEW = 300
NUM_ANGLE = 12
SEED_FEATURE_DIM = 256
SA_MLPS = ((64, 64, 128), (128, 128, 256), (128, 128, 256), (128, 128, 256))
FP_MLPS = ((256, 256), (256, 256))
CROP_MLP = (64, 128, 256)
HEAD_HIDDEN = 128
# FP weights are 1 / (d + eps), normalised (pointnet2's three_interpolate weights).
FP_DISTANCE_EPS_M = 1e-8
# In eval mode grouped rows go through a shared MLP and its max-pool this many at a time: the
# widest activations of a chunk (256 float32 channels, 8 MB) stay in the CPU's caches instead of
# streaming hundreds of MB through memory. Rows are independent in eval mode, so chunking changes
# no value (measured on a Xeon, crop MLP + pool 228 -> 116 ms on 262 144 rows).
POOL_CHUNK_ROWS = 8192


@dataclass(frozen=True)
class GraspNetArchitecture:
    """Sampling sizes and radii of the network; none of them changes the state-dict shapes.

    Defaults are the published values. Tests shrink the point counts for speed; the radii and
    depths are the training geometry and should stay as they are for real weights.
    """

    sa_npoint: tuple[int, int, int, int] = config_field(
        (2048, 1024, 512, 256),
        "Points kept by farthest-point sampling in sa1..sa4; sa2's count is the seed count.",
    )
    sa_radius_m: tuple[float, float, float, float] = config_field(
        (0.04, 0.1, 0.2, 0.3), "Ball-query radius of sa1..sa4 (m)."
    )
    sa_nsample: tuple[int, int, int, int] = config_field(
        (64, 32, 16, 16), "Neighbours grouped per sampled point in sa1..sa4."
    )
    cylinder_radius_m: float = config_field(
        0.05, "Radius of the CloudCrop cylinders (m).", min_value=0.001, max_value=1.0
    )
    hmin_m: float = config_field(
        -0.02,
        "Near end of the cylinders along the approach, relative to the seed (m).",
        min_value=-1.0,
        max_value=0.0,
    )
    hmax_m: tuple[float, ...] = config_field(
        (0.01, 0.02, 0.03, 0.04),
        "Far ends of the cylinders, one per depth class (m); depth class k means depth (k+1) cm.",
    )
    crop_nsample: int = config_field(
        64, "Points grouped per cylinder.", min_value=1, max_value=4096
    )

    def __post_init__(self) -> None:
        validate_ranges(self)
        for name in ("sa_npoint", "sa_nsample"):
            values = getattr(self, name)
            if len(values) != 4 or not all(isinstance(v, int) and v >= 1 for v in values):
                raise ValueError(f"{name} must be 4 positive ints, got {values!r}")
        if len(self.sa_radius_m) != 4 or not all(r > 0.0 for r in self.sa_radius_m):
            raise ValueError(f"sa_radius_m must be 4 positive radii, got {self.sa_radius_m!r}")
        if list(self.sa_npoint) != sorted(self.sa_npoint, reverse=True):
            raise ValueError(f"sa_npoint must not increase, got {self.sa_npoint!r}")
        hmax = self.hmax_m
        if not hmax or any(h <= self.hmin_m for h in hmax) or list(hmax) != sorted(set(hmax)):
            raise ValueError(f"hmax_m must be increasing and above hmin_m, got {hmax!r}")

    @property
    def num_seed(self) -> int:
        """Seeds (grasp centres) per cloud: the sa2 points."""
        return self.sa_npoint[1]


@dataclass(frozen=True)
class GraspNetOutput:
    """One forward pass; names and shapes as the upstream `end_points` (spec §3.5). S = seeds."""

    objectness_score: Tensor  # (B, 2, S) logits: channel 1 = on an object
    view_score: Tensor  # (B, S, NUM_VIEW)
    grasp_score_pred: Tensor  # (B, NUM_ANGLE, S, D)
    grasp_angle_cls_pred: Tensor  # (B, NUM_ANGLE, S, D) angle-class logits
    grasp_width_pred: Tensor  # (B, NUM_ANGLE, S, D) metres, before the decode factor
    grasp_tolerance_pred: Tensor  # (B, NUM_ANGLE, S, D)
    fp2_xyz: Tensor  # (B, S, 3) seed positions (grasp centres)
    fp2_inds: Tensor  # (B, S) seed indices into the input cloud
    grasp_top_view_xyz: Tensor  # (B, S, 3) best view per seed (unit, points away from approach)
    grasp_top_view_rot: Tensor  # (B, S, 3, 3) approach frame, zero in-plane angle


def grasp_views(num_view: int = NUM_VIEW) -> Tensor:
    """(num_view, 3) float32 unit vectors on a Fibonacci lattice (spec §2.2).

    z_i = (2i+1)/N - 1, azimuth 2π i φ with φ = (√5 - 1)/2; computed in float64, then rounded.
    """
    phi = (math.sqrt(5.0) - 1.0) / 2.0
    i = torch.arange(num_view, dtype=torch.float64)
    z = (2.0 * i + 1.0) / num_view - 1.0
    ring = torch.sqrt(1.0 - z * z)
    azimuth = 2.0 * math.pi * i * phi
    views = torch.stack([ring * torch.cos(azimuth), ring * torch.sin(azimuth), z], dim=1)
    return views.to(torch.float32)


def viewpoint_to_matrix(approach: Tensor, angle_rad: Tensor) -> Tensor:
    """(..., 3, 3) rotations [x̂ ŷ ẑ]·Rx(angle) for approaches (..., 3), angles (...) (spec §2.2).

    x̂ is the approach, ŷ = (-a_y, a_x, 0) normalised (or (0, 1, 0) for a vertical approach),
    ẑ = x̂ x ŷ. Columns are the grasp frame's axes in the cloud frame.
    """
    zeros = torch.zeros_like(approach[..., 0])
    axis_y = torch.stack([-approach[..., 1], approach[..., 0], zeros], dim=-1)
    vertical = torch.linalg.vector_norm(axis_y, dim=-1) == 0
    axis_y = torch.where(vertical[..., None], torch.tensor([0.0, 1.0, 0.0]).to(axis_y), axis_y)
    axis_x = approach / torch.linalg.vector_norm(approach, dim=-1, keepdim=True)
    axis_y = axis_y / torch.linalg.vector_norm(axis_y, dim=-1, keepdim=True)
    axis_z = torch.linalg.cross(axis_x, axis_y, dim=-1)
    frame = torch.stack([axis_x, axis_y, axis_z], dim=-1)  # (..., 3, 3), columns
    cos, sin = torch.cos(angle_rad), torch.sin(angle_rad)
    ones = torch.ones_like(cos)
    in_plane = torch.stack([ones, zeros, zeros, zeros, cos, -sin, zeros, sin, cos], dim=-1).reshape(
        *cos.shape, 3, 3
    )
    return frame @ in_plane


def _conv_bn_rows(
    x: Tensor, weight: Tensor, bias: Tensor | None, bn: nn.modules.batchnorm._BatchNorm
) -> Tensor:
    """Batch norm of a 1x1 convolution on channel-last x (..., C_in); weight (C_out, C_in, 1, ...).

    In eval mode the normalisation is folded into the weights (one matrix product, no extra pass
    over the activations); in training mode batch norm runs on the flattened rows, which equals
    BatchNorm1d/2d over (B, C, ...) because statistics are per channel over everything else.
    """
    matrix = weight.reshape(weight.shape[0], weight.shape[1])
    if not bn.training:
        if bn.running_mean is None or bn.running_var is None:
            raise ValueError("eval-mode batch norm needs running statistics")
        scale = torch.rsqrt(bn.running_var + bn.eps)
        if bn.weight is not None:
            scale = scale * bn.weight
        shift = -bn.running_mean * scale
        if bias is not None:
            shift = shift + bias * scale
        if bn.bias is not None:
            shift = shift + bn.bias
        return F.linear(x, matrix * scale[:, None], shift)
    out = F.linear(x, matrix, bias)
    # nn.BatchNorm's own update rule: count batches, momentum None = cumulative average.
    factor = 0.0 if bn.momentum is None else bn.momentum
    if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        if bn.momentum is None:
            factor = 1.0 / float(bn.num_batches_tracked)
    flat = F.batch_norm(
        out.reshape(-1, out.shape[-1]),
        bn.running_mean,
        bn.running_var,
        bn.weight,
        bn.bias,
        bn.training,
        factor,
        bn.eps,
    )
    return flat.reshape(out.shape)


class _NestedBatchNorm(nn.Module):
    """Holds `bn` (BatchNorm2d) so keys read `bn.bn.*`, as pointnet2's BatchNorm2d wrapper does."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)


class _SharedLayer(nn.Module):
    """1x1 conv without bias (`conv`), batch norm (`bn.bn`), ReLU; on channel-last input."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.bn = _NestedBatchNorm(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(_conv_bn_rows(x, self.conv.weight, None, self.bn.bn), inplace=True)


class SharedMLP(nn.Sequential):
    """`layer0`, `layer1`, ...: every layer, the last included, ends with batch norm and ReLU."""

    def __init__(self, widths: tuple[int, ...]) -> None:
        super().__init__()
        for i, (width_in, width_out) in enumerate(itertools.pairwise(widths)):
            self.add_module(f"layer{i}", _SharedLayer(width_in, width_out))


def mlp_max_pool(mlp: SharedMLP, grouped: Tensor) -> Tensor:
    """max over neighbours of mlp(grouped): (B, Q, K, C) -> (B, Q, C').

    Training-mode batch norm needs every row of the batch at once; in eval mode the queries are
    processed in chunks of about POOL_CHUNK_ROWS rows.
    """
    if mlp.training:
        return mlp(grouped).amax(dim=2)  # type: ignore[no-any-return]
    queries_per_chunk = max(1, POOL_CHUNK_ROWS // grouped.shape[2])
    chunks = [mlp(chunk).amax(dim=2) for chunk in torch.split(grouped, queries_per_chunk, dim=1)]
    return torch.cat(chunks, dim=1)


def distinct_pairs(indices: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The distinct entries of each row of indices (Q, M), compacted row after row.

    Returns query (R,) and value (R,) of each distinct (row, entry) pair, and inverse (Q, M): the
    pair each entry of indices is, so `value[inverse] == indices`.
    """
    ordered, order = torch.sort(indices, dim=1)
    is_new = torch.ones_like(ordered, dtype=torch.bool)
    is_new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    slot = torch.cumsum(is_new, dim=1) - 1  # (Q, M) slot in its row's distinct list
    counts = slot[:, -1] + 1
    row_start = torch.cumsum(counts, dim=0) - counts
    inverse = torch.empty_like(indices).scatter_(1, order, row_start[:, None] + slot)
    query = torch.repeat_interleave(torch.arange(indices.shape[0], device=indices.device), counts)
    return query, ordered[is_new], inverse


class SetAbstraction(nn.Module):
    """FPS -> ball query -> [local xyz / radius, features] -> shared MLP -> max over neighbours."""

    def __init__(self, npoint: int, radius_m: float, nsample: int, mlp: tuple[int, ...]) -> None:
        super().__init__()
        self.npoint = npoint
        self.radius_m = radius_m
        self.nsample = nsample
        self.mlp_module = SharedMLP(mlp)

    def forward(self, xyz: Tensor, features: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """(B, N, 3), (B, N, C) or None -> xyz (B, S, 3), features (B, S, C'), indices (B, S)."""
        indices = point_ops.furthest_point_sample(xyz, self.npoint)  # (B, S)
        new_xyz = point_ops.gather_points(xyz, indices)  # (B, S, 3)
        neighbours = point_ops.ball_query(self.radius_m, self.nsample, xyz, new_xyz)  # (B, S, K)
        # normalize_xyz=True upstream: local offsets are divided by the radius.
        grouped = (point_ops.group_points(xyz, neighbours) - new_xyz[:, :, None]) / self.radius_m
        if features is not None:  # use_xyz=True: xyz channels first
            grouped = torch.cat([grouped, point_ops.group_points(features, neighbours)], dim=-1)
        new_features = mlp_max_pool(self.mlp_module, grouped)  # (B, S, C')
        return new_xyz, new_features, indices


class FeaturePropagation(nn.Module):
    """Inverse-distance 3-NN interpolation of coarse features, skip concatenation, shared MLP."""

    def __init__(self, mlp: tuple[int, ...]) -> None:
        super().__init__()
        self.mlp = SharedMLP(mlp)

    def forward(
        self, fine_xyz: Tensor, coarse_xyz: Tensor, fine_features: Tensor, coarse_features: Tensor
    ) -> Tensor:
        """(B, n, 3), (B, m, 3), (B, n, C1), (B, m, C2) -> (B, n, C')."""
        distance_m, indices = point_ops.three_nn(fine_xyz, coarse_xyz)  # (B, n, 3)
        inverse = 1.0 / (distance_m + FP_DISTANCE_EPS_M)
        weights = inverse / inverse.sum(dim=2, keepdim=True)
        interpolated = point_ops.three_interpolate(coarse_features, indices, weights)
        return self.mlp(torch.cat([interpolated, fine_features], dim=-1))  # type: ignore[no-any-return]


class Backbone(nn.Module):
    """PointNet++ (sa1..sa4, fp1, fp2): seeds = the sa2 points with 256-d features."""

    def __init__(self, architecture: GraspNetArchitecture) -> None:
        super().__init__()
        arch = architecture
        widths_in = (0, SA_MLPS[0][-1], SA_MLPS[1][-1], SA_MLPS[2][-1])
        stages = [
            SetAbstraction(
                arch.sa_npoint[i],
                arch.sa_radius_m[i],
                arch.sa_nsample[i],
                (widths_in[i] + 3, *SA_MLPS[i]),  # use_xyz: 3 more input channels
            )
            for i in range(4)
        ]
        self.sa1, self.sa2, self.sa3, self.sa4 = stages
        self.fp1 = FeaturePropagation((SA_MLPS[3][-1] + SA_MLPS[2][-1], *FP_MLPS[0]))
        self.fp2 = FeaturePropagation((FP_MLPS[0][-1] + SA_MLPS[1][-1], *FP_MLPS[1]))

    def forward(self, xyz: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, N, 3) -> seed xyz (B, S, 3), seed features (B, S, 256), seed input indices (B, S)."""
        xyz1, features1, indices1 = self.sa1(xyz, None)
        xyz2, features2, _ = self.sa2(xyz1, features1)
        xyz3, features3, _ = self.sa3(xyz2, features2)
        xyz4, features4, _ = self.sa4(xyz3, features3)
        features = self.fp1(xyz3, xyz4, features3, features4)
        features = self.fp2(xyz2, xyz3, features2, features)
        # FPS from index 0 nests: sa2's points are sa1's first ones, so these index the input.
        seed_indices = indices1[:, : xyz2.shape[1]]
        return xyz2, features, seed_indices


class _HeadConvs(nn.Module):
    """conv1 -> bn1 -> ReLU -> conv2 -> bn2 -> ReLU -> conv3 (Conv1d with biases), channel-last."""

    def __init__(self, width_in: int, hidden: tuple[int, int], width_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(width_in, hidden[0], 1)
        self.conv2 = nn.Conv1d(hidden[0], hidden[1], 1)
        self.conv3 = nn.Conv1d(hidden[1], width_out, 1)
        self.bn1 = nn.BatchNorm1d(hidden[0])
        self.bn2 = nn.BatchNorm1d(hidden[1])

    def run(self, x: Tensor) -> Tensor:
        x = F.relu(_conv_bn_rows(x, self.conv1.weight, self.conv1.bias, self.bn1), inplace=True)
        x = F.relu(_conv_bn_rows(x, self.conv2.weight, self.conv2.bias, self.bn2), inplace=True)
        weight = self.conv3.weight
        return F.linear(x, weight.reshape(weight.shape[0], weight.shape[1]), self.conv3.bias)


class ApproachNet(_HeadConvs):
    """Objectness (2 logits) and 300 view scores per seed; the best view gives the approach."""

    def __init__(self) -> None:
        super().__init__(SEED_FEATURE_DIM, (SEED_FEATURE_DIM, 2 + NUM_VIEW), 2 + NUM_VIEW)
        self.register_buffer("views", grasp_views(NUM_VIEW), persistent=False)

    def forward(self, seed_features: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(B, S, 256) -> objectness (B, 2, S), view scores (B, S, V), view (B, S, 3), rot."""
        out = self.run(seed_features)  # (B, S, 2 + V)
        objectness = out[..., :2].transpose(1, 2)
        view_score = out[..., 2:]
        top_view = torch.argmax(view_score, dim=2)  # (B, S)
        view_xyz = self.get_buffer("views")[top_view]  # (B, S, 3)
        # The approach points against the view direction (a = -view), zero in-plane angle.
        rotation = viewpoint_to_matrix(-view_xyz, torch.zeros_like(view_xyz[..., 0]))
        return objectness, view_score, view_xyz, rotation


class CloudCrop(nn.Module):
    """Groups each seed's cylinders in the seed's approach frame; max-pools an MLP over them."""

    def __init__(self, architecture: GraspNetArchitecture) -> None:
        super().__init__()
        self.architecture = architecture
        self.mlps = SharedMLP((3, *CROP_MLP))

    def forward(self, cloud: Tensor, seed_xyz: Tensor, rotation: Tensor) -> Tensor:
        """(B, N, 3), (B, S, 3), (B, S, 3, 3) -> (B, S, D, 256) features per seed and depth."""
        arch = self.architecture
        indices = point_ops.cylinder_query(
            arch.cylinder_radius_m,
            arch.hmin_m,
            arch.hmax_m,
            arch.crop_nsample,
            cloud,
            seed_xyz,
            rotation,
        )  # (B, S, D, K)
        batch, seeds, depths, nsample = indices.shape
        if self.training:  # batch statistics over every grouped row, duplicates included
            grouped = point_ops.group_points(cloud, indices.reshape(batch, seeds, -1))
            local = (grouped - seed_xyz[:, :, None]) @ rotation  # rows: Rᵀ (p - c), seed frame
            features = self.mlps(local.reshape(batch, seeds, depths, nsample, 3))
            return features.amax(dim=3)  # type: ignore[no-any-return]
        return self._pool_distinct(cloud, seed_xyz, rotation, indices)

    def _pool_distinct(
        self, cloud: Tensor, seed_xyz: Tensor, rotation: Tensor, indices: Tensor
    ) -> Tensor:
        """Eval mode: the MLP runs once per distinct (seed, point) pair.

        A point's seed-frame coordinates do not depend on the depth, the nested cylinders share
        most of their first hits and short lists are padded with repeats: on a tabletop scene a
        seed's 4 x 64 entries hold about 73 distinct points, so this is ~3.5x less MLP work.
        """
        batch, seeds, depths, nsample = indices.shape
        points = cloud.shape[1]
        offset = torch.arange(batch, device=indices.device)[:, None, None, None] * points
        flat = (indices + offset).reshape(batch * seeds, depths * nsample)
        seed, point, inverse = distinct_pairs(flat)
        offsets = cloud.reshape(-1, 3)[point] - seed_xyz.reshape(-1, 3)[seed]  # (R, 3)
        local = (offsets[:, None, :] @ rotation.reshape(-1, 3, 3)[seed])[:, 0]  # Rᵀ (p - c)
        inverse = inverse.reshape(batch * seeds, depths, nsample)
        # A seed's pairs are contiguous rows; the features of a chunk of seeds are pooled while
        # they are still in cache (the whole (R, 256) tensor is ~75 MB).
        counts = torch.bincount(seed, minlength=batch * seeds)
        starts = [0, *torch.cumsum(counts, dim=0).tolist()]
        seeds_per_chunk = max(1, POOL_CHUNK_ROWS // (depths * nsample))
        pooled = []
        for first in range(0, batch * seeds, seeds_per_chunk):
            last = min(batch * seeds, first + seeds_per_chunk)
            features = self.mlps(local[starts[first] : starts[last]])  # (rows, C)
            pooled.append(features[inverse[first:last] - starts[first]].amax(dim=2))
        return torch.cat(pooled).reshape(batch, seeds, depths, -1)


class OperationNet(_HeadConvs):
    """Score, angle-class logits and width per (seed, depth), for each of the 12 angles."""

    def __init__(self) -> None:
        super().__init__(SEED_FEATURE_DIM, (HEAD_HIDDEN, HEAD_HIDDEN), 3 * NUM_ANGLE)

    def forward(self, crop_features: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, S, D, 256) -> three (B, NUM_ANGLE, S, D) tensors: score, angle logits, width."""
        out = self.run(crop_features).permute(0, 3, 1, 2)  # (B, 36, S, D)
        return out[:, :NUM_ANGLE], out[:, NUM_ANGLE : 2 * NUM_ANGLE], out[:, 2 * NUM_ANGLE :]


class ToleranceNet(_HeadConvs):
    """Grasp tolerance per (angle, seed, depth)."""

    def __init__(self) -> None:
        super().__init__(SEED_FEATURE_DIM, (HEAD_HIDDEN, HEAD_HIDDEN), NUM_ANGLE)

    def forward(self, crop_features: Tensor) -> Tensor:
        """(B, S, D, 256) -> (B, NUM_ANGLE, S, D)."""
        return self.run(crop_features).permute(0, 3, 1, 2)


class _ViewEstimator(nn.Module):
    def __init__(self, architecture: GraspNetArchitecture) -> None:
        super().__init__()
        self.backbone = Backbone(architecture)
        self.vpmodule = ApproachNet()


class _GraspGenerator(nn.Module):
    def __init__(self, architecture: GraspNetArchitecture) -> None:
        super().__init__()
        self.crop = CloudCrop(architecture)
        self.operation = OperationNet()
        self.tolerance = ToleranceNet()


class GraspNet(nn.Module):
    """The whole network; `state_dict()` has checkpoint-rs.tar's keys and shapes."""

    def __init__(self, architecture: GraspNetArchitecture | None = None) -> None:
        super().__init__()
        self.architecture = GraspNetArchitecture() if architecture is None else architecture
        self.view_estimator = _ViewEstimator(self.architecture)
        self.grasp_generator = _GraspGenerator(self.architecture)

    def forward(self, cloud: Tensor) -> GraspNetOutput:
        """(B, N, 3) float32 cloud in the network's (mirrored, camera-like) frame, metres."""
        if cloud.dim() != 3 or cloud.shape[2] != 3:
            raise ValueError(f"cloud must be (B, N, 3), got {tuple(cloud.shape)}")
        seed_xyz, seed_features, seed_indices = self.view_estimator.backbone(cloud)
        objectness, view_score, view_xyz, rotation = self.view_estimator.vpmodule(seed_features)
        crop_features = self.grasp_generator.crop(cloud, seed_xyz, rotation)
        score, angle_logits, width = self.grasp_generator.operation(crop_features)
        tolerance = self.grasp_generator.tolerance(crop_features)
        return GraspNetOutput(
            objectness_score=objectness,
            view_score=view_score,
            grasp_score_pred=score,
            grasp_angle_cls_pred=angle_logits,
            grasp_width_pred=width,
            grasp_tolerance_pred=tolerance,
            fp2_xyz=seed_xyz,
            fp2_inds=seed_indices,
            grasp_top_view_xyz=view_xyz,
            grasp_top_view_rot=rotation,
        )
