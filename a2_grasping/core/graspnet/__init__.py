"""graspnet-baseline in plain PyTorch: the network, its point ops, decoding and a generator.

`GraspNetGenerator` implements `CandidateGenerator` beside the geometric `AntipodalGenerator`;
`load_graspnet_model` reads `checkpoint-rs.tar` strictly. See spec §2.1-2.6, §3.5, §6, §7. May
import core's shared modules and core.candidates (the protocol), nothing of selection/.
"""

from a2_grasping.core.graspnet.checkpoint import load_graspnet_model, load_graspnet_state_dict
from a2_grasping.core.graspnet.generator import GraspNetConfig, GraspNetGenerator
from a2_grasping.core.graspnet.model import GraspNet, GraspNetArchitecture, GraspNetOutput

__all__ = [
    "GraspNet",
    "GraspNetArchitecture",
    "GraspNetConfig",
    "GraspNetGenerator",
    "GraspNetOutput",
    "load_graspnet_model",
    "load_graspnet_state_dict",
]
