"""The candidate generator a configuration asks for: GraspNet with weights, else antipodal."""

from __future__ import annotations

from a2_grasping.core.candidates.antipodal import AntipodalGenerator
from a2_grasping.core.candidates.base import CandidateGenerator
from a2_grasping.core.inference_config import InferenceConfig


def make_candidate_generator(config: InferenceConfig, device: str = "cpu") -> CandidateGenerator:
    """GraspNetGenerator with strictly loaded weights (on `device`), or AntipodalGenerator.

    Raises:
        CheckpointError (a ValueError): the GraspNet weights are set but do not load strictly.
    """
    path = config.graspnet_weights_path.strip()
    if not path:
        return AntipodalGenerator()
    # Imported here so geometric mode never pays for building the network module tree.
    from a2_grasping.core.graspnet import GraspNetGenerator, load_graspnet_model

    return GraspNetGenerator(load_graspnet_model(path, device=device))
