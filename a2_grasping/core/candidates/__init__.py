"""Grasp-candidate generators behind one interface (`CandidateGenerator` -> `GraspCandidates`).

`AntipodalGenerator` is the geometric fallback used when no learned grasp-network weights are
present; a GraspNet wrapper can implement the same protocol beside it.
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
