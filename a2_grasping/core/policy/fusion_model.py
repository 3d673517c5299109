"""The A2 fusion network: candidate actions attend to language-weighted 3-D CLIP points.

Module and attribute names reproduce the published state_dict keys exactly (including the
upstream spelling `embbedding`), so `sl_checkpoint_199.pth` loads strictly. The maths follows
spec §3.2. Shapes use B = batch, N = points, M = candidate actions, D = width, H = heads.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F  # noqa: N812 (the customary alias)
from torch import Tensor, nn

from a2_grasping.core.policy.fusion_config import (
    POINT_ENCODING_DIM,
    POINT_ENCODING_NUM_FREQUENCIES,
    ROPE_BASE,
    ROPE_NUM_AXES,
    FusionConfig,
)

# Epsilon of every LayerNorm (PyTorch default, as upstream).
LAYER_NORM_EPS = 1e-5
# QuickGELU slope: x * sigmoid(1.702 x), the activation CLIP was trained with.
QUICK_GELU_SLOPE = 1.702


def encode_point_positions(pts_pos: Tensor) -> Tensor:
    """NeRF-style encoding [p, sin(p f), cos(p f) for f = 1, 2, 4, 8, 16] of raw metres.

    There is no pi factor: the checkpoint was trained on these exact features (spec §3.2 step 2).
    """
    features = [pts_pos]  # [(B, N, 3)]
    for k in range(POINT_ENCODING_NUM_FREQUENCIES):
        scaled = pts_pos * float(2**k)  # (B, N, 3)
        features.append(torch.sin(scaled))  # (B, N, 3)
        features.append(torch.cos(scaled))  # (B, N, 3)
    encoded = torch.cat(features, dim=-1)  # (B, N, 33)
    return encoded


def rope_angles(pts_pos: Tensor, dim: int) -> Tensor:
    """Rotation angle of every channel: channel pairs share one angle coord_axis * omega_j.

    Channels form three contiguous blocks [x, y, z] of dim / 3; inside a block, pair j rotates by
    omega_j = base^(-2j / (dim / 3)). Each angle is repeated for both channels of its pair.
    """
    channels_per_axis = dim // ROPE_NUM_AXES
    pair_index = torch.arange(0, channels_per_axis, 2, dtype=torch.float64)  # (dim/6,)
    omega = torch.exp(pair_index * (-math.log(ROPE_BASE) / channels_per_axis))  # (dim/6,)
    omega = omega.to(device=pts_pos.device, dtype=pts_pos.dtype)  # (dim/6,)
    per_pair = pts_pos.unsqueeze(-1) * omega  # (B, N, 3, dim/6)
    per_channel = per_pair.repeat_interleave(2, dim=-1)  # (B, N, 3, dim/3)
    angles = per_channel.flatten(-2)  # (B, N, dim)
    return angles


def apply_rope(features: Tensor, pts_pos: Tensor) -> Tensor:
    """Rotate each channel pair (2i, 2i+1) of `features` by its position-dependent angle.

    Dot products of two rotated vectors then depend only on the difference of their positions.
    """
    angles = rope_angles(pts_pos, features.shape[-1])  # (B, N, D)
    cos = torch.cos(angles)  # (B, N, D)
    sin = torch.sin(angles)  # (B, N, D)
    pairs = features.reshape(*features.shape[:-1], -1, 2)  # (B, N, D/2, 2)
    # (v0, v1) -> (-v1, v0): the 90-degree turn of every pair.
    turned = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)  # (B, N, D)
    rotated = features * cos + turned * sin  # (B, N, D)
    return rotated


class LayerNormFp32(nn.LayerNorm):
    """LayerNorm evaluated in float32 whatever the input dtype, as the checkpoint was trained."""

    def forward(self, x: Tensor) -> Tensor:
        # The affine parameters are cast too, so a half-precision model still normalises in fp32.
        weight = self.weight.float() if self.weight is not None else None  # (D,)
        bias = self.bias.float() if self.bias is not None else None  # (D,)
        normed = F.layer_norm(x.float(), self.normalized_shape, weight, bias, self.eps)  # (..., D)
        return normed.to(x.dtype)


class QuickGELU(nn.Module):
    """The sigmoid approximation of GELU used by CLIP-style blocks."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(QUICK_GELU_SLOPE * x)


class CrossAttention(nn.Module):
    """Multi-head attention with separate q/k/v projections (keys `q_proj`, ..., `c_proj`)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.k_proj = nn.Linear(width, width)
        self.q_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.c_proj = nn.Linear(width, width)

    def forward(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        """Return the attended output (B, M, D) and the head-averaged weights (B, M, N)."""
        q = self._split_heads(self.q_proj(query))  # (B, H, M, D/H)
        k = self._split_heads(self.k_proj(key))  # (B, H, N, D/H)
        v = self._split_heads(self.v_proj(value))  # (B, H, N, D/H)
        scale = 1.0 / math.sqrt(q.shape[-1])
        weights = torch.softmax((q @ k.transpose(-2, -1)) * scale, dim=-1)  # (B, H, M, N)
        attended = (weights @ v).transpose(1, 2).flatten(-2)  # (B, M, D)
        out: Tensor = self.c_proj(attended)  # (B, M, D)
        return out, weights.mean(dim=1)  # (B, M, D), (B, M, N)

    def _split_heads(self, x: Tensor) -> Tensor:
        batch, length, width = x.shape  # (B, L, D)
        split = x.reshape(batch, length, self.heads, width // self.heads)  # (B, L, H, D/H)
        return split.transpose(1, 2)  # (B, H, L, D/H)


class CrossResidualAttentionBlock(nn.Module):
    """CLIP-style pre-norm block; one `ln_1` normalises queries, keys and values alike."""

    def __init__(self, width: int, heads: int, mlp_width: int) -> None:
        super().__init__()
        self.attn = CrossAttention(width, heads)
        self.ln_1 = LayerNormFp32(width, eps=LAYER_NORM_EPS)
        self.mlp = nn.Sequential(
            OrderedDict(
                [
                    ("c_fc", nn.Linear(width, mlp_width)),
                    ("gelu", QuickGELU()),
                    ("c_proj", nn.Linear(mlp_width, width)),
                ]
            )
        )
        self.ln_2 = LayerNormFp32(width, eps=LAYER_NORM_EPS)

    def forward(self, x: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        """Update the action features x (B, M, D) from the points; also return the weights."""
        attended, weights = self.attn(self.ln_1(x), self.ln_1(key), self.ln_1(value))
        x = x + attended  # (B, M, D)
        x = x + self.mlp(self.ln_2(x))  # (B, M, D)
        return x, weights  # (B, M, D), (B, M, N)


class CrossTransformer(nn.Module):
    """A stack of cross-attention blocks (`resblocks.<i>`); every block sees the same points."""

    def __init__(self, width: int, layers: int, heads: int, mlp_width: int) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(
            CrossResidualAttentionBlock(width, heads, mlp_width) for _ in range(layers)
        )

    def forward(self, x: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        """Return the updated actions (B, M, D) and the last block's weights (B, M, N)."""
        weights = torch.empty(0)
        for block in self.resblocks:
            x, weights = block(x, key, value)  # (B, M, D), (B, M, N)
        return x, weights


def _embedding_mlp(in_dim: int, hidden: int, width: int) -> nn.Sequential:
    """Linear -> ReLU -> Linear -> ReLU -> Linear; Linears sit at indices 0, 2, 4 of the keys."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, width),
        nn.ReLU(),
        nn.Linear(width, width),
    )


class CLIPActionFusion(nn.Module):
    """Fuse candidate actions with the point cloud: queries = actions, keys = positions.

    Language enters only through `pts_sim`, which scales the CLIP features used as values.
    """

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.config = config
        self.cross_attn = CrossTransformer(
            config.width, config.layers, config.heads, config.block_mlp_width
        )
        self.action_embbedding = _embedding_mlp(
            config.action_dim, config.embedding_hidden_size, config.width
        )
        self.point_embbedding = _embedding_mlp(
            POINT_ENCODING_DIM, config.embedding_hidden_size, config.width
        )

    def forward(
        self, pts_pos: Tensor, pts_feat: Tensor, pts_sim: Tensor, actions: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Return the fused action features (B, M, D) and attention weights (B, M, N)."""
        values = pts_feat * pts_sim  # (B, N, D)
        keys = self.point_embbedding(encode_point_positions(pts_pos))  # (B, N, D)
        if self.config.use_rope:
            # RoPE acts on the features before LayerNorm and projections, from raw xyz metres.
            keys = apply_rope(keys, pts_pos)  # (B, N, D)
        if self.config.rope_on_values:
            values = apply_rope(values, pts_pos)  # (B, N, D)
        queries = self.action_embbedding(actions)  # (B, M, D)
        fused, weights = self.cross_attn(queries, keys, values)  # (B, M, D), (B, M, N)
        return fused, weights


class Policy(nn.Module):
    """Score each fused action: 768 -> 384 -> 384 -> 1 with ReLUs."""

    def __init__(self, width: int, hidden_size: int) -> None:
        super().__init__()
        self.linear1 = nn.Linear(width, hidden_size)
        self.linear2 = nn.Linear(hidden_size, hidden_size)
        self.linear3 = nn.Linear(hidden_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Return logits (B, M); only the unit feature axis is squeezed, unlike upstream."""
        h = F.relu(self.linear1(x))  # (B, M, hidden)
        h = F.relu(self.linear2(h))  # (B, M, hidden)
        logits: Tensor = self.linear3(h).squeeze(-1)  # (B, M)
        return logits


class A2FusionModel(nn.Module):
    """CLIPActionFusion + Policy under the published prefixes `vilg_fusion.` and `policy.`."""

    def __init__(self, config: FusionConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else FusionConfig()
        self.vilg_fusion = CLIPActionFusion(self.config)
        self.policy = Policy(self.config.width, self.config.hidden_size)

    def forward(
        self, pts_pos: Tensor, pts_feat: Tensor, pts_sim: Tensor, actions: Tensor
    ) -> Tensor:
        """Logits (B, M) of the M candidate actions; higher is better, no softmax applied.

        pts_pos (B, N, 3) metres, pts_feat (B, N, D) CLIP features, pts_sim (B, N, 1) normalised
        similarity, actions (B, M, action_dim) as [x, y, z, qx, qy, qz, qw] in metres.
        """
        self._check_inputs(pts_pos, pts_feat, pts_sim, actions)
        fused, _ = self.vilg_fusion(pts_pos, pts_feat, pts_sim, actions)  # (B, M, D)
        logits: Tensor = self.policy(fused)  # (B, M)
        return logits

    @torch.no_grad()
    def select_action_index(
        self, pts_pos: Tensor, pts_feat: Tensor, pts_sim: Tensor, actions: Tensor
    ) -> int:
        """Index of the best of the M candidates of one scene (B = 1), the argmax of the logits.

        Raises ValueError for zero candidates or non-finite logits instead of returning an
        arbitrary index (argmax over NaN is meaningless, and the index drives a robot).
        """
        if actions.ndim != 3 or actions.shape[0] != 1:
            raise ValueError(
                f"select_action_index takes one scene: actions must be (1, M, "
                f"{self.config.action_dim}), got {tuple(actions.shape)}"
            )
        if actions.shape[1] == 0:
            raise ValueError("select_action_index needs at least one candidate action (M = 0)")
        logits = self.forward(pts_pos, pts_feat, pts_sim, actions)  # (1, M)
        if not bool(torch.isfinite(logits).all()):
            raise ValueError("the network produced non-finite logits; check the inputs for NaN")
        return int(torch.argmax(logits[0]).item())

    def _check_inputs(
        self, pts_pos: Tensor, pts_feat: Tensor, pts_sim: Tensor, actions: Tensor
    ) -> None:
        """Fail with the offending shape: a silent broadcast here would corrupt the ranking."""
        width = self.config.width
        action_dim = self.config.action_dim
        expected = {
            "pts_pos": (pts_pos, 3),
            "pts_feat": (pts_feat, width),
            "pts_sim": (pts_sim, 1),
            "actions": (actions, action_dim),
        }
        for name, (tensor, last_dim) in expected.items():
            if tensor.ndim != 3 or tensor.shape[-1] != last_dim:
                raise ValueError(
                    f"{name} must have shape (B, *, {last_dim}), got {tuple(tensor.shape)}"
                )
        batch, num_points = pts_pos.shape[0], pts_pos.shape[1]
        for name, tensor in (("pts_feat", pts_feat), ("pts_sim", pts_sim)):
            if tensor.shape[:2] != (batch, num_points):
                raise ValueError(
                    f"{name} must match pts_pos (B={batch}, N={num_points}) in its first two "
                    f"dimensions, got {tuple(tensor.shape)}"
                )
        if actions.shape[0] != batch:
            raise ValueError(
                f"actions must have batch size {batch} like pts_pos, got {tuple(actions.shape)}"
            )
        if num_points == 0:
            raise ValueError("the network needs at least one point (N = 0)")
