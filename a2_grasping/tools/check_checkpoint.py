"""Check that weight files load strictly into our networks, before a robot depends on them.

Loads each given file exactly as the inference node will (weights_only, strict keys and shapes)
and prints the parameter count; on any mismatch it names the missing, unexpected and mis-shaped
keys and exits non-zero. Give --fusion, --graspnet or both.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fusion",
        type=Path,
        help="A2 fusion weights: sl_checkpoint_199.pth (plain state dict) or a .safetensors copy",
    )
    parser.add_argument(
        "--graspnet",
        type=Path,
        help="GraspNet weights: checkpoint-rs.tar (dict with model_state_dict, epoch, optimizer)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.fusion is None and args.graspnet is None:
        print("FAIL nothing to check: give --fusion PATH and/or --graspnet PATH")
        return 2
    failed = False
    if args.fusion is not None:
        failed |= not _check_fusion(args.fusion)
    if args.graspnet is not None:
        failed |= not _check_graspnet(args.graspnet)
    return 1 if failed else 0


def _check_fusion(path: Path) -> bool:
    from a2_grasping.core.policy.checkpoints import CheckpointError, load_fusion_model
    from a2_grasping.core.policy.fusion_config import FusionConfig

    try:
        model = load_fusion_model(path, FusionConfig())
    except CheckpointError as error:
        print(f"FAIL fusion {path}: {error}")
        return False
    tensors = len(model.state_dict())
    parameters = sum(p.numel() for p in model.parameters())
    print(f"OK   fusion {path}: {tensors} tensors, {parameters:,} parameters (strict)")
    return True


def _check_graspnet(path: Path) -> bool:
    from a2_grasping.core.graspnet.checkpoint import (
        graspnet_from_state_dict,
        load_graspnet_state_dict,
    )
    from a2_grasping.core.policy.checkpoints import CheckpointError

    try:
        state, epoch = load_graspnet_state_dict(path)
        model = graspnet_from_state_dict(state, str(path))
    except CheckpointError as error:
        print(f"FAIL graspnet {path}: {error}")
        return False
    tensors = len(model.state_dict())
    parameters = sum(p.numel() for p in model.parameters())
    print(
        f"OK   graspnet {path}: {tensors} tensors, {parameters:,} parameters, epoch {epoch} "
        "(strict)"
    )
    return True
