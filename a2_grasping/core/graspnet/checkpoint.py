"""Strict loading of GraspNet weights in the published `checkpoint-rs.tar` format (spec §3.5).

The file is a `torch.save` dict {"epoch": int, "model_state_dict": {...}, "optimizer_state_dict":
{...}} (the H-Freax trainer adds "loss"). Only `model_state_dict` is used, and it must match our
module tree exactly: same 162 keys, same shapes, float weights and integer BatchNorm counters.
Anything else is a CheckpointError that names the missing, unexpected and mis-shaped keys, because
upstream's `strict=False` loaders run random weights without a word (spec §7 item 5).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from a2_grasping.core.graspnet.model import GraspNet, GraspNetArchitecture
from a2_grasping.core.policy.checkpoints import CheckpointError, check_state_dict

MODEL_STATE_KEY = "model_state_dict"
EPOCH_KEY = "epoch"
MODEL_NAME = "GraspNet model (checkpoint-rs.tar layout)"


def load_graspnet_state_dict(path: str | os.PathLike[str]) -> tuple[dict[str, Tensor], int | None]:
    """(model_state_dict, epoch) of a published-format checkpoint, read on the CPU.

    `torch.load(weights_only=True)` never executes pickled code; the optimizer state is read
    (it is part of the file) but ignored.
    """
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"GraspNet checkpoint {file} is unreadable: no such file")
    try:
        content: object = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # every reader failure means the same thing to the caller
        first_line = (str(exc).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(
            f"GraspNet checkpoint {file} is unreadable ({type(exc).__name__}: {first_line}); "
            f"expected a torch.save dict with {MODEL_STATE_KEY!r} (checkpoint-rs.tar)"
        ) from exc
    if not isinstance(content, Mapping):
        raise CheckpointError(
            f"GraspNet checkpoint {file} holds a {type(content).__name__}, not the published "
            f"dict with {MODEL_STATE_KEY!r}"
        )
    top_level = ", ".join(repr(key) for key in list(content)[:12])
    if MODEL_STATE_KEY not in content:
        hint = (
            " (it looks like a bare state dict: save it as "
            f"{{{MODEL_STATE_KEY!r}: state_dict, {EPOCH_KEY!r}: epoch}})"
            if any(isinstance(value, Tensor) for value in content.values())
            else ""
        )
        raise CheckpointError(
            f"GraspNet checkpoint {file} has no {MODEL_STATE_KEY!r} key (top-level keys: "
            f"{top_level}){hint}"
        )
    inner = content[MODEL_STATE_KEY]
    if not isinstance(inner, Mapping):
        raise CheckpointError(
            f"GraspNet checkpoint {file}: {MODEL_STATE_KEY!r} holds a {type(inner).__name__}, "
            "not a state dict"
        )
    state: dict[str, Tensor] = {}
    bad: list[str] = []
    for key, value in inner.items():
        if isinstance(key, str) and isinstance(value, Tensor):
            state[key] = value
        else:
            bad.append(f"{key!r}: {type(value).__name__}")
    if bad:
        raise CheckpointError(
            f"GraspNet checkpoint {file}: {MODEL_STATE_KEY!r} is not a dict of tensors "
            f"({', '.join(bad[:12])})"
        )
    epoch = content.get(EPOCH_KEY)
    return state, epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None


def load_graspnet_model(
    path: str | os.PathLike[str],
    architecture: GraspNetArchitecture | None = None,
    device: torch.device | str = "cpu",
) -> GraspNet:
    """Build GraspNet, load `path` strictly, and return it in eval mode on `device`.

    Raises:
        CheckpointError: unreadable file, wrong layout, or any key/shape/dtype/value mismatch.
    """
    state, _ = load_graspnet_state_dict(path)
    return graspnet_from_state_dict(state, str(path), architecture, device)


def graspnet_from_state_dict(
    state: Mapping[str, Tensor],
    source: str,
    architecture: GraspNetArchitecture | None = None,
    device: torch.device | str = "cpu",
) -> GraspNet:
    """GraspNet holding exactly `state` (checked strictly first), eval mode, on `device`."""
    model = GraspNet(architecture)
    check_state_dict(state, model.state_dict(), source=source, model_name=MODEL_NAME)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # unreachable after check_state_dict, kept as the last guard
        raise CheckpointError(f"GraspNet checkpoint {source} does not fit: {exc}") from exc
    return model.to(device).eval()
