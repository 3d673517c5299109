"""The CLIP model side of the A2 policy's features (spec §1.4): local loading (never a download),
position embeddings interpolated to a tile's patch grid, dense MaskCLIP patch features (the last
ViT block replaced by its value path) and their similarity to a text embedding.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

from a2_grasping.core.policy.clip_config import ClipFeatureConfig

if TYPE_CHECKING:
    from transformers import CLIPModel, PreTrainedTokenizerBase
    from transformers.models.clip.modeling_clip import CLIPEncoderLayer


# DINO-style fudge added to the target patch grid when interpolating position embeddings.
POSITION_GRID_FUDGE = 0.1


# OpenAI CLIP text context length (clip.tokenize pads to 77 tokens).
CLIP_CONTEXT_LENGTH = 77


class ClipModelNotFound(FileNotFoundError):  # noqa: N818 (FileNotFoundError is the base meaning)
    """The CLIP checkpoint is not on disk; it is never downloaded at run time (spec §7 item 24)."""

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"CLIP model not found: {source!r}. {detail}")
        self.source = source


def interpolate_position_embeddings(
    position_embeddings: Tensor, grid_hw: tuple[int, int]
) -> Tensor:
    """Resize ViT position embeddings (1 + g*g, D) to a (h, w) patch grid -> (1 + h*w, D).

    DINO-style, as upstream: bicubic with align_corners=False and scale factors (h + 0.1) / g,
    (w + 0.1) / g. The fudge keeps the output size at exactly h x w, and because the scale factor
    (not the size ratio) sets the sampling positions, it shifts them slightly; that is kept for
    compatibility. The class embedding is passed through; an unchanged grid returns the input.
    """
    if position_embeddings.ndim != 2:
        raise ValueError(
            f"position_embeddings: expected (1 + g*g, D), got {tuple(position_embeddings.shape)}"
        )
    num_patches = position_embeddings.shape[0] - 1
    native = math.isqrt(num_patches)
    if native * native != num_patches or native == 0:
        raise ValueError(f"position_embeddings: {num_patches} patch positions is not a square grid")
    height, width = grid_hw
    if height < 1 or width < 1:
        raise ValueError(f"grid_hw must be positive, got {grid_hw}")
    if (height, width) == (native, native):
        return position_embeddings
    dim = position_embeddings.shape[1]
    class_embedding = position_embeddings[:1]  # (1, D)
    patch_grid = position_embeddings[1:].float().reshape(1, native, native, dim)
    patch_grid = patch_grid.permute(0, 3, 1, 2)  # (1, D, g, g)
    resized = F.interpolate(
        patch_grid,
        scale_factor=(
            (height + POSITION_GRID_FUDGE) / native,
            (width + POSITION_GRID_FUDGE) / native,
        ),
        mode="bicubic",
        align_corners=False,
        recompute_scale_factor=False,
    )  # (1, D, h, w)
    if tuple(resized.shape[-2:]) != (height, width):
        raise RuntimeError(
            f"position interpolation gave {tuple(resized.shape[-2:])}, not {grid_hw}"
        )
    patches = resized.permute(0, 2, 3, 1).reshape(height * width, dim)  # (h*w, D)
    return torch.cat([class_embedding, patches.to(position_embeddings.dtype)], dim=0)


def value_path(layer: CLIPEncoderLayer, hidden: Tensor) -> Tensor:
    """MaskCLIP's last block: out_proj(v_proj(layer_norm1(x))); no attention, residual or MLP.

    Every token keeps its own value vector, which is what makes the patch outputs local.
    """
    attention = layer.self_attn
    values: Tensor = attention.out_proj(attention.v_proj(layer.layer_norm1(hidden)))  # (B, T, D)
    return values


def maskclip_patch_features(
    model: CLIPModel, pixel_values: Tensor, positions: Tensor | None = None
) -> Tensor:
    """Dense MaskCLIP features (B, 3, H, W) -> (B, H // p, W // p, proj_dim), not normalised.

    `positions` (1 + h*w, D): the interpolated position embeddings, when the caller has them for
    its fixed tile size (graph exporters such as OpenVINO cannot trace the interpolation).
    """
    vision = model.vision_model
    embeddings = vision.embeddings
    dtype = embeddings.patch_embedding.weight.dtype
    patches = embeddings.patch_embedding(pixel_values.to(dtype))  # (B, D, h, w)
    batch, _, grid_h, grid_w = patches.shape
    tokens = patches.flatten(2).transpose(1, 2)  # (B, h*w, D)
    class_token = embeddings.class_embedding.to(dtype).expand(batch, 1, -1)  # (B, 1, D)
    tokens = torch.cat([class_token, tokens], dim=1)  # (B, 1 + h*w, D)
    if positions is None:
        positions = interpolate_position_embeddings(
            embeddings.position_embedding.weight, (grid_h, grid_w)
        )  # (1 + h*w, D)
    hidden = vision.pre_layrnorm(tokens + positions.to(dtype)[None])  # (B, 1 + h*w, D)
    layers = [cast("CLIPEncoderLayer", layer) for layer in vision.encoder.layers]
    for layer in layers[:-1]:
        hidden = layer(hidden, None)  # (B, 1 + h*w, D)
    hidden = value_path(layers[-1], hidden)  # (B, 1 + h*w, D)
    hidden = vision.post_layernorm(hidden[:, 1:])  # (B, h*w, D)
    projected: Tensor = model.visual_projection(hidden)  # (B, h*w, proj_dim)
    return projected.reshape(batch, grid_h, grid_w, -1)


def similarity_map(feature_map: Tensor, text_embedding: Tensor) -> Tensor:
    """Cosine similarity of each patch feature to the text: (h, w, C), (C,) -> (h, w)."""
    if feature_map.shape[-1] != text_embedding.shape[-1]:
        raise ValueError(
            f"feature dim {feature_map.shape[-1]} != text embedding dim {text_embedding.shape[-1]}"
        )
    unit_features = F.normalize(feature_map.float(), dim=-1)  # (h, w, C)
    unit_text = F.normalize(text_embedding.float(), dim=-1)  # (C,)
    return unit_features @ unit_text  # (h, w)


def load_clip(config: ClipFeatureConfig) -> tuple[CLIPModel, PreTrainedTokenizerBase]:
    """CLIP model and tokenizer from a local directory or the local HF cache, never the network.

    A path (absolute, relative with ./ or ../, ~, or an existing directory) is loaded as is; any
    other string is taken as a Hugging Face repo id that must already be in the cache.
    """
    from transformers import AutoTokenizer, CLIPModel

    source = config.model_name_or_path
    path = Path(source).expanduser()
    is_path = path.exists() or path.is_absolute() or source.startswith((".", "~"))
    cache_dir = config.cache_dir or None
    if is_path:
        if not path.is_dir():
            raise ClipModelNotFound(
                str(path), "No such directory; point model_name_or_path at a saved CLIPModel."
            )
        location = str(path)
        detail = (
            f"The directory {path} exists but does not hold a loadable transformers CLIPModel and "
            "tokenizer (config.json, model.safetensors, tokenizer files)."
        )
    else:
        location = source
        where = cache_dir or "the default Hugging Face cache (HF_HUB_CACHE / HF_HOME)"
        detail = (
            f"It is not in {where} and is never downloaded at run time; pre-stage it, e.g. "
            f"`hf download {source}` on a machine with network access, or give a local directory."
        )
    try:
        model = CLIPModel.from_pretrained(location, local_files_only=True, cache_dir=cache_dir)
        tokenizer = AutoTokenizer.from_pretrained(
            location, local_files_only=True, cache_dir=cache_dir
        )
    except OSError as error:
        raise ClipModelNotFound(location, f"{detail} ({error})") from error
    return model, tokenizer
