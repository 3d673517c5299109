"""Regenerate `fusion_tiny.json`, the golden logits of a tiny seeded A2 fusion network.

Run from the repository root, against the source tree:

    PYTHONPATH=. .venv/bin/python test/core/golden/make_fusion_golden.py

Only regenerate after a deliberate change to the forward maths, and say why in the commit: the
test exists to catch unintended changes. Weights and inputs come from a seeded torch.Generator
(the test rebuilds them with `make_tiny_case`), so the JSON stays small; it also stores checksums
of the weights and inputs, so a change in torch's random stream is told apart from a change in the
model.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import torch
from torch import Tensor

from a2_grasping.core.policy.fusion_config import FusionConfig
from a2_grasping.core.policy.fusion_model import A2FusionModel

GOLDEN_PATH = Path(__file__).with_name("fusion_tiny.json")
SEED = 20250314
# width 12 = 2 heads x 6 channels and 3 RoPE axes x 2 channel pairs; everything else published.
TINY_CONFIG = {"width": 12, "heads": 2, "hidden_size": 6, "layers": 1, "action_dim": 7}
BATCH = 2
NUM_POINTS = 16
NUM_ACTIONS = 5


def _uniform(generator: torch.Generator, shape: tuple[int, ...], low: float, high: float) -> Tensor:
    """Uniform samples drawn in float64 so the stream does not depend on float32 rounding."""
    unit = torch.rand(shape, generator=generator, dtype=torch.float64)
    return (low + (high - low) * unit).to(torch.float32)


def make_tiny_case(seed: int = SEED) -> tuple[A2FusionModel, dict[str, Tensor]]:
    """The tiny model with seeded weights, and seeded inputs in the published value ranges."""
    config = FusionConfig(**TINY_CONFIG)
    model = A2FusionModel(config).eval()
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, tensor in model.state_dict().items():
        shape = tuple(tensor.shape)
        # Twice the PyTorch init range, so the candidates' logits spread well beyond atol.
        bound = 2.0 / math.sqrt(shape[1]) if len(shape) == 2 else 0.5
        state[key] = _uniform(generator, shape, -bound, bound)
    model.load_state_dict(state, strict=True)

    low = torch.tensor([0.3, -0.2, 0.0])  # workspace-like metres, the range the network was fed
    high = torch.tensor([0.7, 0.2, 0.15])
    pts_pos = low + (high - low) * _uniform(generator, (BATCH, NUM_POINTS, 3), 0.0, 1.0)
    pts_feat = _uniform(generator, (BATCH, NUM_POINTS, config.width), -1.0, 1.0)
    pts_sim = _uniform(generator, (BATCH, NUM_POINTS, 1), 1e-4, 1.0)
    positions = low + (high - low) * _uniform(generator, (BATCH, NUM_ACTIONS, 3), 0.0, 1.0)
    quaternions = _uniform(generator, (BATCH, NUM_ACTIONS, 4), -1.0, 1.0)
    quaternions = quaternions / quaternions.norm(dim=-1, keepdim=True)
    actions = torch.cat([positions, quaternions], dim=-1)
    inputs = {
        "pts_pos": pts_pos,
        "pts_feat": pts_feat,
        "pts_sim": pts_sim,
        "actions": actions,
    }
    return model, inputs


def checksums(model: A2FusionModel, inputs: dict[str, Tensor]) -> dict[str, float]:
    """Sums that pin the seeded weights and inputs independently of the forward pass."""
    sums = {name: float(tensor.double().sum()) for name, tensor in inputs.items()}
    sums["parameters_abs"] = float(sum(t.double().abs().sum() for t in model.state_dict().values()))
    return sums


def float32_max_abs_error(model: A2FusionModel, inputs: dict[str, Tensor]) -> float:
    """Largest |float32 - float64| logit: the same weights and inputs, widened exactly, run once
    in float64. test_fusion_model.py derives the golden's tolerance from it."""
    wide = copy.deepcopy(model).double()
    with torch.no_grad():
        low = model(**inputs).double()
        high = wide(**{name: tensor.double() for name, tensor in inputs.items()})
    return float((low - high).abs().max())


def main() -> None:
    torch.set_num_threads(1)
    model, inputs = make_tiny_case()
    with torch.no_grad():
        logits = model(**inputs)
    golden = {
        "description": "Logits of the tiny seeded A2 fusion network; see make_fusion_golden.py.",
        "seed": SEED,
        "config": TINY_CONFIG,
        "batch": BATCH,
        "num_points": NUM_POINTS,
        "num_actions": NUM_ACTIONS,
        "checksums": {k: round(v, 6) for k, v in checksums(model, inputs).items()},
        "logits": [[round(float(x), 8) for x in row] for row in logits],
        "argmax": [int(i) for i in logits.argmax(dim=-1)],
        "float32_max_abs_error": float32_max_abs_error(model, inputs),
        "torch_version": torch.__version__,
    }
    GOLDEN_PATH.write_text(json.dumps(golden, indent=2) + "\n")
    print(f"wrote {GOLDEN_PATH}")
    print(json.dumps(golden["logits"]))


if __name__ == "__main__":
    main()
