"""Grasp-candidate generators behind one interface (`CandidateGenerator` -> `GraspCandidates`).

`AntipodalGenerator` is the geometric fallback used when no learned grasp-network weights are
present; `core.graspnet` implements the same protocol beside it, and `core.selection.candidates`
chooses between them. May import core's shared modules (geometry, gripper, configs), nothing of
selection/ or graspnet/.
"""

from a2_grasping.core.candidates.antipodal import AntipodalConfig, AntipodalGenerator
from a2_grasping.core.candidates.base import CandidateGenerator, GraspCandidates, validate_cloud

__all__ = [
    "AntipodalConfig",
    "AntipodalGenerator",
    "CandidateGenerator",
    "GraspCandidates",
    "validate_cloud",
]
