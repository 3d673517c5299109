"""Strict loading of A2 fusion weights from a plain state dict (`.pth`) or `.safetensors`.

Upstream loads with `strict=False`, so a wrong or nested file silently leaves the network at its
random initialisation (spec §7 item 5). Here every mismatch is an error whose message says which
keys are missing, unexpected or mis-shaped, so a robot never ranks grasps with random weights.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file as load_safetensors_file
from torch import Tensor

from a2_grasping.core.policy.fusion_config import FusionConfig
from a2_grasping.core.policy.fusion_model import A2FusionModel

SAFETENSORS_SUFFIX = ".safetensors"
# Keys that hold a real state dict inside training checkpoints (e.g. GraspNet's checkpoint-rs.tar).
NESTED_STATE_DICT_KEYS = ("model_state_dict", "state_dict", "model", "module", "net")
# Longest key list quoted in an error message; the rest is counted.
MAX_KEYS_IN_MESSAGE = 12
# Key fragments of upstream variants, to say which training flag a foreign checkpoint used.
VARIANT_HINTS = (
    ("vilg_fusion.fusion_attn.", "fusion_sa=True"),
    ("vilg_fusion.task_embedding.", "task_emb (task_num set)"),
    ("policy.ln1.", "layer_norm=True"),
    ("policy.ln2.", "layer_norm=True"),
    ("residual_policy.", "an adaptive-policy variant (AdaptPolicyCLIPAction)"),
)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used as is; the message says what to fix."""

    def __init__(
        self,
        message: str,
        *,
        missing_keys: tuple[str, ...] = (),
        unexpected_keys: tuple[str, ...] = (),
        mismatched_shapes: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (),
    ) -> None:
        super().__init__(message)
        self.missing_keys = missing_keys
        self.unexpected_keys = unexpected_keys
        # (key, expected shape, found shape)
        self.mismatched_shapes = mismatched_shapes


def load_fusion_state_dict(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Read a flat {key: tensor} mapping on the CPU without executing pickled code.

    `.safetensors` files are read with safetensors; anything else with
    `torch.load(weights_only=True)`. Nested training checkpoints are refused, not unwrapped:
    which inner dict is the right one is a decision for whoever converts the file.
    """
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"checkpoint {file} is unreadable: no such file")
    try:
        if file.suffix == SAFETENSORS_SUFFIX:
            content: object = load_safetensors_file(str(file), device="cpu")
        else:
            content = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # every reader failure means the same thing to the caller
        raise CheckpointError(
            f"checkpoint {file} is unreadable ({type(exc).__name__}: {_first_line(exc)}); "
            "expected a plain state dict saved with torch.save(model.state_dict()) or a "
            f"{SAFETENSORS_SUFFIX} file"
        ) from exc
    return _as_flat_state_dict(content, file)


def load_fusion_model(path: str | os.PathLike[str], config: FusionConfig) -> A2FusionModel:
    """Build the network for `config` and load `path` into it strictly, in eval mode on the CPU.

    Raises CheckpointError unless the file has exactly the model's keys with the model's shapes,
    floating-point dtypes and finite values.
    """
    state = load_fusion_state_dict(path)
    model = A2FusionModel(config)
    check_state_dict(state, model.state_dict(), source=str(path))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # unreachable after check_state_dict, kept as the last guard
        raise CheckpointError(f"checkpoint {path} does not fit the model: {exc}") from exc
    model.eval()
    return model


def check_state_dict(
    found: Mapping[str, Tensor],
    expected: Mapping[str, Tensor],
    *,
    source: str,
    model_name: str = "A2 fusion model",
) -> None:
    """Raise CheckpointError listing every key, shape, dtype or value problem at once.

    Where the model holds a floating-point tensor the file must too; where it holds an integer
    one (BatchNorm's `num_batches_tracked`) the file must hold an integer tensor.
    """
    missing = tuple(key for key in expected if key not in found)
    unexpected = tuple(key for key in found if key not in expected)
    mismatched = tuple(
        (key, tuple(expected[key].shape), tuple(found[key].shape))
        for key in expected
        if key in found and found[key].shape != expected[key].shape
    )
    problems: list[str] = []
    if missing:
        problems.append(f"missing keys ({len(missing)}): {_quote(missing)}")
    if unexpected:
        problems.append(f"unexpected keys ({len(unexpected)}): {_quote(unexpected)}")
        hints = sorted({hint for prefix, hint in VARIANT_HINTS if _any_starts(unexpected, prefix)})
        if hints:
            problems.append(f"the file looks trained with {', '.join(hints)}")
    if mismatched:
        shapes = [f"{key}: expected {exp}, found {got}" for key, exp, got in mismatched]
        problems.append(f"mis-shaped keys ({len(mismatched)}): {_quote(shapes)}")
    if not problems:
        not_float = [
            f"{key}: {tensor.dtype}"
            for key, tensor in found.items()
            if expected[key].is_floating_point() and not tensor.is_floating_point()
        ]
        not_integer = [
            f"{key}: {tensor.dtype}"
            for key, tensor in found.items()
            if not expected[key].is_floating_point() and tensor.is_floating_point()
        ]
        if not_float:
            problems.append(f"non-floating-point tensors: {_quote(not_float)}")
        if not_integer:
            problems.append(f"floating-point tensors where integers belong: {_quote(not_integer)}")
        if not (not_float or not_integer):
            not_finite = [
                key
                for key, tensor in found.items()
                if tensor.is_floating_point() and not bool(tensor.isfinite().all())
            ]
            if not_finite:
                problems.append(f"tensors with NaN or infinite values: {_quote(not_finite)}")
    if problems:
        raise CheckpointError(
            f"checkpoint {source} does not match the {model_name} "
            f"({len(expected)} tensors expected): " + "; ".join(problems),
            missing_keys=missing,
            unexpected_keys=unexpected,
            mismatched_shapes=mismatched,
        )


def _as_flat_state_dict(content: object, file: Path) -> dict[str, Tensor]:
    """Accept only a mapping of str to tensor; name what was found instead."""
    if not isinstance(content, Mapping):
        raise CheckpointError(
            f"checkpoint {file} is not a dict of tensors: it holds a {type(content).__name__}"
        )
    nested = [key for key in content if isinstance(content[key], Mapping)]
    if nested:
        known = [key for key in nested if key in NESTED_STATE_DICT_KEYS]
        inner = known[0] if known else nested[0]
        raise CheckpointError(
            f"checkpoint {file} is nested: key {inner!r} holds a dict (top-level keys: "
            f"{_quote([str(key) for key in content])}); save that inner dict on its own as a "
            "plain state dict"
        )
    state: dict[str, Tensor] = {}
    bad: list[str] = []
    for key, value in content.items():
        if isinstance(key, str) and isinstance(value, Tensor):
            state[key] = value
        else:
            bad.append(f"{key!r}: {type(value).__name__}")
    if bad:
        raise CheckpointError(f"checkpoint {file} is not a dict of tensors: {_quote(bad)}")
    return state


def _quote(items: Iterable[str]) -> str:
    listed = list(items)
    shown = ", ".join(listed[:MAX_KEYS_IN_MESSAGE])
    if len(listed) > MAX_KEYS_IN_MESSAGE:
        shown += f", ... and {len(listed) - MAX_KEYS_IN_MESSAGE} more"
    return shown


def _first_line(exc: Exception, max_chars: int = 200) -> str:
    """The reader's own message, cut short: torch's unpickling advice runs to dozens of lines."""
    lines = str(exc).strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= max_chars else line[:max_chars] + "..."


def _any_starts(keys: Iterable[str], prefix: str) -> bool:
    return any(key.startswith(prefix) for key in keys)
