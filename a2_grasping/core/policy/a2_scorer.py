"""The A2 policy as a grasp scorer: CLIP point features + fusion network logits (spec §1.7).

Candidates come from any generator as TCP poses; the network sees each as the 7-D action
[x, y, z, qx, qy, qz, qw] of the spec's tip frame, which is our TCP frame (z = approach,
y = closing axis), in raw base-frame metres.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from a2_grasping.core.errors import SelectErrorCode, SelectionError
from a2_grasping.core.geometry import voxel_downsample
from a2_grasping.core.policy.clip_features import (
    BudgetCheck,
    ClipCacheStats,
    ClipFeatureExtractor,
)
from a2_grasping.core.policy.fusion_model import A2FusionModel
from a2_grasping.core.policy.hardware import InferenceHardware
from a2_grasping.core.scene import CameraView

# Sparse feature points: the cloud voxelised at 1 cm (spec §1.3 b).
FEATURE_VOXEL_M = 0.01


def tcp_poses_to_actions(base_from_tcp: NDArray[np.float64]) -> NDArray[np.float32]:
    """(K, 4, 4) -> (K, 7) [x, y, z, qx, qy, qz, qw].

    SciPy's matrix-to-quaternion sign convention is the one the network was trained with
    (spec §2.6), so SciPy is used here rather than our own conversion.
    """
    quaternions = Rotation.from_matrix(base_from_tcp[:, :3, :3]).as_quat()  # (K, 4) xyzw
    return np.concatenate([base_from_tcp[:, :3, 3], quaternions], axis=1).astype(np.float32)


class A2Scorer:
    """Scores candidates for an instruction; satisfies core.selection.grasp.PoseScorer."""

    def __init__(self, clip: ClipFeatureExtractor, fusion: A2FusionModel) -> None:
        if clip.feature_dim != fusion.config.width:
            raise ValueError(
                f"CLIP feature dim {clip.feature_dim} != fusion width {fusion.config.width}"
            )
        self._clip = clip
        self._fusion = fusion.eval()
        self._device = next(fusion.parameters()).device

    @property
    def cache_stats(self) -> ClipCacheStats:
        """CLIP tiles computed, reused from the cache and skipped; texts encoded and reused."""
        return self._clip.cache_stats

    def score(
        self,
        object_points_xyz: NDArray[np.float64],
        views: tuple[CameraView, ...],
        base_from_tcp: NDArray[np.float64],
        instruction: str,
        timings_ms: dict[str, float],
        *,
        check_budget: BudgetCheck,
    ) -> NDArray[np.float64]:
        if not views:
            raise SelectionError(
                SelectErrorCode.INVALID_REQUEST,
                "a2 mode needs camera images in the scene; none were selected",
            )
        started_s = time.perf_counter()
        sparse = object_points_xyz[voxel_downsample(object_points_xyz, FEATURE_VOXEL_M)]
        try:
            sampled = self._clip.network_inputs(sparse, views, instruction, check_budget)
        except ValueError as error:  # e.g. an instruction longer than CLIP's context
            raise SelectionError(SelectErrorCode.INVALID_REQUEST, str(error)) from None
        clip_done_s = time.perf_counter()
        timings_ms["clip"] = (clip_done_s - started_s) * 1e3

        device = self._device
        actions = torch.from_numpy(tcp_poses_to_actions(base_from_tcp))[None]  # (1, M, 7)
        with torch.inference_mode():
            logits = self._fusion(
                sampled.positions_m[None].to(device),  # (1, K, 3)
                sampled.features[None].to(device),  # (1, K, C)
                sampled.similarities[None, :, None].to(device),  # (1, K, 1)
                actions.to(device),
            )  # (1, M)
        timings_ms["fusion"] = (time.perf_counter() - clip_done_s) * 1e3
        scores: NDArray[np.float64] = logits[0].double().cpu().numpy()
        return scores


def load_a2_scorer(
    fusion_weights_path: str,
    clip_model: str,
    hardware: InferenceHardware,
    clip_tiles: tuple[int, int] = (3, 4),
) -> A2Scorer:
    """CLIP (offline) and the fusion network (strictly loaded) on the resolved device, CLIP in
    the resolved precision (bf16 on a GPU: autocast), with `clip_tiles` = (rows, columns) per
    view. The fusion network stays fp32 everywhere: milliseconds, and its logits rank
    candidates whose differences bf16's 8-bit mantissa would blur."""
    from a2_grasping.core.policy.checkpoints import load_fusion_model
    from a2_grasping.core.policy.clip_config import ClipFeatureConfig
    from a2_grasping.core.policy.fusion_config import FusionConfig

    rows, cols = clip_tiles
    on_gpu = hardware.device.type == "cuda"
    clip = ClipFeatureExtractor.from_pretrained(
        ClipFeatureConfig(
            model_name_or_path=clip_model,
            tile_rows=rows,
            tile_cols=cols,
            # On a GPU a view's tiles run as one batch (a whole view takes milliseconds, so the
            # budget checks between batches lose nothing); on a CPU one tile fills the cores.
            tile_batch_size=rows * cols if on_gpu else 1,
            dtype=hardware.clip_dtype,
            device=str(hardware.device),
        )
    )
    fusion = load_fusion_model(fusion_weights_path, FusionConfig()).to(hardware.device)
    return A2Scorer(clip, fusion)
