"""RViz markers of ranked grasps: each candidate drawn as the 2F-85's fingers and palm.

Built from the same gripper boxes the collision checks use, so what RViz shows is what was
checked. The selected grasp is opaque green, the others translucent and fading with rank.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from numpy.typing import NDArray
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from a2_grasping.core.candidates.base import GraspCandidates
from a2_grasping.core.gripper import GripperGeometry
from a2_grasping.ros import conversions

NAMESPACE = "a2_grasps"
SELECTED_RGBA = (0.1, 0.85, 0.2, 0.9)
OTHER_RGBA = (0.2, 0.45, 0.95, 0.5)


def grasp_markers(
    candidates: GraspCandidates,
    selected_index: int,
    frame_id: str,
    stamp: Time,
    gripper: GripperGeometry,
) -> MarkerArray:
    """A DELETEALL (clears the previous answer) followed by three boxes per candidate."""
    clear = Marker(action=Marker.DELETEALL, ns=NAMESPACE)
    clear.header.frame_id, clear.header.stamp = frame_id, stamp
    markers = [clear]
    for rank, (pose, width) in enumerate(
        zip(candidates.tcp_poses, candidates.width_m, strict=True)
    ):
        boxes = gripper.collision_boxes(min(float(width) + 0.01, gripper.max_width_m))
        selected = rank == selected_index
        r, g, b, alpha = SELECTED_RGBA if selected else OTHER_RGBA
        if not selected:
            alpha *= 1.0 / (1.0 + 0.3 * rank)
        for part, (lower, upper) in enumerate(zip(boxes.lower_m, boxes.upper_m, strict=True)):
            box_pose = np.array(pose, dtype=np.float64) @ _translation((lower + upper) / 2)
            marker = Marker(ns=NAMESPACE, id=3 * rank + part, type=Marker.CUBE, action=Marker.ADD)
            marker.header.frame_id, marker.header.stamp = frame_id, stamp
            marker.pose = conversions.matrix_to_pose(box_pose)
            marker.scale.x, marker.scale.y, marker.scale.z = (float(v) for v in upper - lower)
            marker.color = ColorRGBA(r=r, g=g, b=b, a=alpha)
            markers.append(marker)
    return MarkerArray(markers=markers)


def _translation(offset_m: NDArray[np.float64]) -> NDArray[np.float64]:
    transform = np.eye(4)
    transform[:3, 3] = offset_m
    return transform
