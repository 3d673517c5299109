"""Per-point CLIP features and text similarities for the A2 policy (spec §1.4, §1.5, §3.6).

The fusion network never sees the text: language reaches it only through per-point visual features
and their similarity to the text (spec §0.1). Those must be computed exactly the way the training
data was made, so upstream's recipe is reproduced with `transformers` weights, one step per module
(as transformers separates processing from modelling):

1. `clip_tiling`: each RGB view is cut into 3x4 tiles, each tile resized (short side 336, aspect
   kept, no crop), and the tiles' maps stitched back into one map per view;
2. `maskclip`: dense MaskCLIP patch features (the last ViT block replaced by its value path) and
   the per-patch similarity to the text;
3. `point_fusion`: points projected into every view, checked against the observed depth
   (mu = 0.02 m), the view features fused; then the top-500 points kept and their similarity
   normalised.

This module is the extractor that runs them, with its per-image tile cache and text cache and the
time-budget check between forward passes. Nothing here imports ROS.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from numpy.typing import NDArray
from torch import Tensor

from a2_grasping.core.policy.clip_config import ClipFeatureConfig
from a2_grasping.core.policy.clip_tiling import preprocess_tiles, stitch_tiles, tile_layout
from a2_grasping.core.policy.maskclip import (
    CLIP_CONTEXT_LENGTH,
    load_clip,
    maskclip_patch_features,
    similarity_map,
)
from a2_grasping.core.policy.point_fusion import (
    PointClipFeatures,
    SampledPoints,
    ViewFeatures,
    check_points,
    fuse_point_features,
    sample_points,
    tiles_needed,
)
from a2_grasping.core.scene import CameraView

if TYPE_CHECKING:
    from transformers import CLIPModel, PreTrainedTokenizerBase


_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


# Called before each CLIP forward pass; raises to stop a computation that is over its budget.
BudgetCheck = Callable[[], None]


def _no_budget() -> None:
    """No budget: benchmarks and offline tools run to the end."""


@dataclass
class ClipCacheStats:
    """What the caches saved since the extractor was built (or since `reset`)."""

    tiles_computed: int = 0  # CLIP forward passes of one tile
    tiles_reused: int = 0  # tiles taken from the per-image cache
    tiles_skipped: int = 0  # tiles no point could read (left zero)
    texts_encoded: int = 0
    texts_reused: int = 0

    def reset(self) -> None:
        self.tiles_computed = self.tiles_reused = self.tiles_skipped = 0
        self.texts_encoded = self.texts_reused = 0


def image_key(color_rgb: NDArray[np.uint8]) -> str:
    """Content key of an image: its shape and a BLAKE2b digest of its bytes (~1 ms for 640x480).

    Keyed by content rather than by the scene's stamp, a cached map can never belong to another
    image that happens to carry the same stamp (a re-published or replayed scene)."""
    data = np.ascontiguousarray(color_rgb)
    digest = hashlib.blake2b(data.data.cast("B"), digest_size=16).hexdigest()
    return f"{data.shape}:{digest}"


class _TileCache:
    """Per-tile CLIP maps of the last `max_images` images, least recently used dropped first."""

    def __init__(self, max_images: int) -> None:
        self._max_images = max_images
        self._images: OrderedDict[str, dict[int, Tensor]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[int, Tensor]:
        with self._lock:
            tiles = self._images.get(key)
            if tiles is None:
                return {}
            self._images.move_to_end(key)
            return dict(tiles)

    def put(self, key: str, tiles: dict[int, Tensor]) -> None:
        if self._max_images == 0:
            return
        with self._lock:
            self._images.setdefault(key, {}).update(tiles)
            self._images.move_to_end(key)
            while len(self._images) > self._max_images:
                self._images.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._images.clear()

    def __len__(self) -> int:
        return len(self._images)


class ClipFeatureExtractor:
    """Loaded once (spec §7 item 4), then turns views + text into per-point features.

    Caches (bounded, per extractor, so a reload starts empty): the text embedding per
    instruction, and each image's per-tile CLIP maps keyed by the image's content. Both assume
    the model's weights do not change after construction; call `clear_caches` if they do.
    """

    def __init__(
        self,
        model: CLIPModel,
        tokenizer: PreTrainedTokenizerBase,
        config: ClipFeatureConfig | None = None,
    ) -> None:
        self.config = config or ClipFeatureConfig()
        patch = int(model.vision_model.embeddings.patch_embedding.kernel_size[0])
        if patch != self.config.patch_size_px:
            raise ValueError(
                f"patch_size_px={self.config.patch_size_px} does not match the model's patch "
                f"size {patch}"
            )
        self.device = torch.device(self.config.device)
        self.dtype = _DTYPES[self.config.dtype]
        # On a GPU, reduced precision runs under autocast: weights stay float32 and autocast keeps
        # the numerically sensitive ops (layer norms, softmax, reductions) in float32. On a CPU
        # the weights are cast (measured and scored that way; CPU autocast is no faster).
        self.autocast_dtype: torch.dtype | None = (
            self.dtype if self.device.type == "cuda" and self.dtype != torch.float32 else None
        )
        weight_dtype = torch.float32 if self.autocast_dtype is not None else self.dtype
        # Cast: transformers' `to` wrapper confuses mypy; at run time its override still runs.
        module = cast(torch.nn.Module, model)
        module.to(device=self.device, dtype=weight_dtype)
        module.eval().requires_grad_(False)
        self.model = model
        self.tokenizer = tokenizer
        self.cache_stats = ClipCacheStats()
        self._tiles = _TileCache(self.config.cache_images)
        self._texts: OrderedDict[str, Tensor] = OrderedDict()
        self._text_lock = threading.Lock()

    @classmethod
    def from_pretrained(cls, config: ClipFeatureConfig | None = None) -> ClipFeatureExtractor:
        """Load the checkpoint named in the config (offline) and wrap it."""
        config = config or ClipFeatureConfig()
        model, tokenizer = load_clip(config)
        return cls(model, tokenizer, config)

    @property
    def feature_dim(self) -> int:
        """Per-point feature length (768 for ViT-L/14@336px)."""
        return int(self.model.visual_projection.out_features)

    def clear_caches(self) -> None:
        """Forget every cached tile map and text embedding (e.g. after changing weights)."""
        self._tiles.clear()
        with self._text_lock:
            self._texts.clear()

    @contextlib.contextmanager
    def _compute(self) -> Iterator[None]:
        """inference_mode, and autocast where the extractor runs reduced precision on a GPU."""
        with torch.inference_mode():
            if self.autocast_dtype is None:
                yield
            else:
                with torch.autocast(self.device.type, dtype=self.autocast_dtype):
                    yield

    def image_feature_map(
        self,
        color_rgb: NDArray[np.uint8],
        check_budget: BudgetCheck = _no_budget,
        needed: NDArray[np.bool_] | None = None,
    ) -> Tensor:
        """(H, W, 3) uint8 -> stitched (rows * h, cols * w, C) float32 MaskCLIP patch map (CPU).

        `needed` (rows * cols,) bool, row-major: compute only those tiles and leave the others
        zero (see `tiles_needed`); None: every tile. Tiles of this image computed before (same
        content) come from the cache. The budget is checked before every batch of tiles run.
        """
        if not isinstance(color_rgb, np.ndarray) or color_rgb.ndim != 3:
            preprocess_tiles(color_rgb, self.config)  # raises the descriptive error
        layout = tile_layout((color_rgb.shape[0], color_rgb.shape[1]), self.config)
        count = layout.rows * layout.cols
        wanted = np.ones(count, dtype=bool) if needed is None else np.asarray(needed, dtype=bool)
        if wanted.shape != (count,):
            raise ValueError(f"needed: expected ({count},) bools, got shape {wanted.shape}")
        use_cache = self.config.cache_images > 0
        key = image_key(color_rgb) if use_cache else ""
        stored = self._tiles.get(key) if use_cache else {}
        maps = {i: stored[i] for i in np.flatnonzero(wanted).tolist() if i in stored}
        todo = [i for i in np.flatnonzero(wanted).tolist() if i not in stored]
        self.cache_stats.tiles_reused += len(maps)
        self.cache_stats.tiles_skipped += int(count - wanted.sum())
        if todo:
            pixels = preprocess_tiles(color_rgb, self.config, todo)  # (T, 3, h_px, w_px)
            computed: dict[int, Tensor] = {}
            try:
                with self._compute():
                    for start in range(0, len(todo), self.config.tile_batch_size):
                        check_budget()
                        batch = pixels[start : start + self.config.tile_batch_size]
                        out = maskclip_patch_features(self.model, batch.to(self.device))
                        out = out.float().cpu()  # (b, h, w, C)
                        for offset, index in enumerate(todo[start : start + len(out)]):
                            computed[index] = out[offset]
            finally:  # tiles finished before a budget stop are kept for the next request
                self.cache_stats.tiles_computed += len(computed)
                if use_cache:
                    self._tiles.put(key, computed)
            maps.update(computed)
        channels = self.feature_dim
        tile_maps = torch.zeros(count, layout.patches_h, layout.patches_w, channels)
        for index, tile_map in maps.items():
            tile_maps[index] = tile_map
        return stitch_tiles(tile_maps, layout.rows, layout.cols)

    def encode_text(self, text: str) -> Tensor:
        """L2-normalised text embedding (C,): 77-token context, EOT pooling, text_projection."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"text: expected a non-empty instruction, got {text!r}")
        with self._text_lock:
            cached = self._texts.get(text)
            if cached is not None:
                self._texts.move_to_end(text)
                self.cache_stats.texts_reused += 1
                return cached.clone()
        context = int(self.model.text_model.embeddings.position_embedding.num_embeddings)
        context = min(context, CLIP_CONTEXT_LENGTH)
        unpadded = self.tokenizer(text)["input_ids"]
        if len(unpadded) > context:
            raise ValueError(
                f"text: {len(unpadded)} tokens exceed CLIP's context of {context}; shorten it "
                "(upstream clip.tokenize refuses it too)"
            )
        tokens = self.tokenizer(
            text, padding="max_length", max_length=context, truncation=True, return_tensors="pt"
        )
        input_ids = tokens["input_ids"].to(self.device)  # (1, 77)
        with self._compute():
            pooled = self.model.text_model(input_ids=input_ids).pooler_output  # (1, D_text)
            embedding = self.model.text_projection(pooled)[0].float()  # (C,)
        unit = F.normalize(embedding.float(), dim=-1).cpu()
        self.cache_stats.texts_encoded += 1
        if self.config.text_cache_size > 0:
            with self._text_lock:
                self._texts[text] = unit.clone()
                while len(self._texts) > self.config.text_cache_size:
                    self._texts.popitem(last=False)
        return unit

    def view_features(
        self,
        view: CameraView,
        text_embedding: Tensor,
        check_budget: BudgetCheck = _no_budget,
        points_m: NDArray[np.floating[Any]] | Tensor | None = None,
    ) -> ViewFeatures:
        """Feature and similarity maps of one view; with `points_m` (and skip_empty_tiles) only
        the tiles those points can read are computed."""
        needed = None
        if points_m is not None and self.config.skip_empty_tiles:
            layout = tile_layout((view.height_px, view.width_px), self.config)
            needed = tiles_needed(points_m, view, layout)
        feature_map = self.image_feature_map(view.color_rgb, check_budget, needed)  # (h, w, C)
        return ViewFeatures(view, feature_map, similarity_map(feature_map, text_embedding))

    def point_features(
        self,
        points_m: NDArray[np.floating[Any]] | Tensor,
        views: Sequence[CameraView],
        text: str,
        check_budget: BudgetCheck = _no_budget,
    ) -> PointClipFeatures:
        """Fused per-point features and similarities for base-frame points (spec §1.4)."""
        check_points(points_m)
        if not views:
            raise ValueError("views: camera data is required; there is no global-CLIP fallback")
        text_embedding = self.encode_text(text)  # (C,)
        per_view = [
            self.view_features(view, text_embedding, check_budget, points_m) for view in views
        ]
        return fuse_point_features(
            points_m, per_view, self.config.depth_tolerance_m, self.config.point_batch_size
        )

    def network_inputs(
        self,
        points_m: NDArray[np.floating[Any]] | Tensor,
        views: Sequence[CameraView],
        text: str,
        check_budget: BudgetCheck = _no_budget,
    ) -> SampledPoints:
        """Everything §1.4-§1.5 produce for the fusion network: top-k points, features, s'."""
        fused = self.point_features(points_m, views, text, check_budget)
        return sample_points(
            points_m, fused, self.config.top_k_points, self.config.sim_norm_epsilon
        )
