"""Hyperparameters of the A2 fusion network; the defaults are those of the published checkpoint.

The field names follow the upstream training flags (spec §3.1) so that a checkpoint's training
command can be read against this class directly. Variants whose forward pass the spec does not
describe are refused at construction rather than silently approximated.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from a2_grasping.core.config_fields import config_field, validate_ranges

# Sinusoid frequencies of the NeRF-style point encoding: 1, 2, 4, 8, 16 (no pi factor).
POINT_ENCODING_NUM_FREQUENCIES = 5
# xyz, then a sine and a cosine per axis and frequency: 3 + 5 * 6 = 33.
POINT_ENCODING_DIM = 3 + 6 * POINT_ENCODING_NUM_FREQUENCIES
# RoPE frequency base, as in the original 1-D RoPE.
ROPE_BASE = 10000.0
# Width of the MLP inside the attention block, relative to the model width (CLIP convention).
BLOCK_MLP_RATIO = 4
# Axes the 3-D RoPE splits the channels over (x, y, z), each block made of channel pairs.
ROPE_NUM_AXES = 3


@dataclass(frozen=True)
class FusionConfig:
    """Shape and variant of CLIPActionFusion + Policy; `FusionConfig()` is the published model."""

    action_dim: int = config_field(
        7,
        "Length of one candidate action: position xyz in metres + quaternion xyzw.",
        min_value=1,
        max_value=64,
    )
    width: int = config_field(
        768,
        "Model width; must equal the per-point CLIP feature dimension (768 for ViT-L/14@336px).",
        min_value=6,
        max_value=8192,
    )
    layers: int = config_field(
        1, "Number of cross-attention blocks (actions attend to points).", min_value=1, max_value=64
    )
    heads: int = config_field(
        8, "Attention heads; width must be divisible by it.", min_value=1, max_value=256
    )
    hidden_size: int = config_field(
        384,
        "Hidden width of the Policy head (768 -> 384 -> 384 -> 1).",
        min_value=1,
        max_value=8192,
    )
    use_rope: bool = config_field(True, "Rotate point keys by their 3-D position (3-D RoPE).")
    no_feat_rope: bool = config_field(
        False, "Upstream flag: if True, the value features are NOT rotated by RoPE."
    )
    fusion_sa: bool = config_field(
        False, "Upstream self-attention over actions; not in the published model, unsupported."
    )
    no_rgb_feat: bool = config_field(
        False, "Upstream ablation without CLIP value features; unsupported."
    )
    layer_norm: bool = config_field(
        False,
        "Upstream LayerNorms inside the Policy head; not in the published model, unsupported.",
    )
    task_num: int | None = config_field(
        None, "Upstream task embedding (task_emb); None = off, the only supported value."
    )
    normalize: bool = config_field(
        False,
        "Upstream input normalisation; the published model takes raw metres, so only False is "
        "supported.",
    )
    sample_num: int = config_field(
        500,
        "Points kept per scene (top similarity) before the network; the network accepts any N.",
        min_value=1,
        max_value=1_000_000,
    )

    def __post_init__(self) -> None:
        # Types first: a float width or a 0/1 flag from YAML should fail here, not deep in torch.
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(field.default, bool) and not isinstance(value, bool):
                raise ValueError(f"{field.name}: expected a bool, got {value!r}")
            expects_int = isinstance(field.default, int) and not isinstance(field.default, bool)
            if expects_int and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{field.name}: expected an int, got {value!r}")
        validate_ranges(self)
        if self.width % self.heads != 0:
            raise ValueError(
                f"width={self.width} must be divisible by heads={self.heads} "
                "(each head gets width / heads channels)"
            )
        if self.width % 2 != 0:
            raise ValueError(f"width={self.width} must be even (the embedding MLPs use width / 2)")
        if self.use_rope and self.width % (2 * ROPE_NUM_AXES) != 0:
            raise ValueError(
                f"width={self.width} must be divisible by 6 when use_rope is set "
                "(channel pairs split evenly over x, y and z)"
            )
        for name in ("fusion_sa", "no_rgb_feat", "layer_norm", "normalize"):
            if getattr(self, name):
                raise ValueError(
                    f"{name}=True is not supported: the published checkpoint was trained with "
                    f"{name}=False and the spec does not define that variant's forward pass"
                )
        if self.task_num is not None:
            raise ValueError(
                f"task_num={self.task_num!r} is not supported: the published model has no task "
                "embedding (task_num must be None)"
            )

    @property
    def head_dim(self) -> int:
        """Channels per attention head (96 for the published model)."""
        return self.width // self.heads

    @property
    def embedding_hidden_size(self) -> int:
        """Hidden width of the action and point MLPs (384 = width / 2 in the published keys)."""
        return self.width // 2

    @property
    def block_mlp_width(self) -> int:
        """Inner width of the attention block's MLP (3072 for the published model)."""
        return BLOCK_MLP_RATIO * self.width

    @property
    def rope_on_values(self) -> bool:
        """Whether the value features are rotated too (the published model: yes)."""
        return self.use_rope and not self.no_feat_rope
