"""Check that weight files load strictly into our networks, before a robot depends on them.

Loads each given file exactly as the inference node will (weights_only, strict keys and shapes)
and prints the parameter count; on any mismatch it names the missing, unexpected and mis-shaped
keys and exits non-zero.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fusion",
        type=Path,
        required=True,
        help="A2 fusion weights: sl_checkpoint_199.pth (plain state dict) or a .safetensors copy",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from a2_grasping.core.policy.checkpoints import CheckpointError, load_fusion_model
    from a2_grasping.core.policy.fusion_config import FusionConfig

    try:
        model = load_fusion_model(args.fusion, FusionConfig())
    except CheckpointError as error:
        print(f"FAIL fusion {args.fusion}: {error}")
        return 1
    tensors = len(model.state_dict())
    parameters = sum(p.numel() for p in model.parameters())
    print(f"OK   fusion {args.fusion}: {tensors} tensors, {parameters:,} parameters (strict)")
    return 0
