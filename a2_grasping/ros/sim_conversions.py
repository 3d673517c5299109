"""The sim-only messages (SimObject, SimObstacle, SimFault) and the simulator's values.

Kept apart from `conversions` so the pipeline's nodes never import simulator code; only
sim_node and the tools that drive the simulated cell use this module.
"""

from __future__ import annotations

from a2_grasping.msg import SimObject, SimObstacle
from a2_grasping.ros.conversions import matrix_to_pose
from a2_grasping.sim.faults import FaultKind, FaultRequest
from a2_grasping.sim.objects import ObjectState, ObstacleSpec  # pure numpy: no MuJoCo import
from a2_grasping.srv import SimFault


def sim_object_to_msg(state: ObjectState) -> SimObject:
    spec = state.spec
    return SimObject(
        name=spec.name,
        shape=spec.shape.value,
        color=spec.color,
        size_m=list(spec.size_m),
        pose=matrix_to_pose(state.base_from_object),
        height_gain_m=state.height_gain_m,
    )


def sim_obstacle_from_msg(msg: SimObstacle) -> ObstacleSpec:
    """Raises ValueError (naming the obstacle) for an empty name or non-positive size."""
    center = tuple(float(v) for v in msg.center_m)
    size = tuple(float(v) for v in msg.size_m)
    return ObstacleSpec(msg.name, (center[0], center[1], center[2]), (size[0], size[1], size[2]))


def sim_fault_from_msg(msg: SimFault.Request) -> FaultRequest:
    """Raises ValueError for an unknown kind or fields no cell could apply."""
    try:
        kind = FaultKind(int(msg.kind))
    except ValueError:
        kinds = ", ".join(f"{k.name} = {k.value}" for k in FaultKind)
        raise ValueError(f"unknown fault kind {msg.kind}; use one of {kinds}") from None
    x, y, z = (float(v) for v in msg.position_m)
    return FaultRequest(
        kind=kind,
        object_name=str(msg.object_name),
        position_m=(x, y, z),
        relative=bool(msg.relative),
        duration_s=float(msg.duration_s),
        camera_name=str(msg.camera_name),
    )
