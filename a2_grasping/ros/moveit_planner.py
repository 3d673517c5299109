"""Pick planning through MoveIt 2 (`planner_backend: moveit_py`), for labs with a MoveIt config.

Same contract as `core.planning.PickPlanner.plan`: ranked TCP poses in, a `PickPlan` (transit,
approach, lift, retreat) out, `PlanningError` with the same failure kinds. Transit and retreat go
through the `ompl` pipeline (RRTConnect); approach and lift are straight lines through the Pilz
`LIN` planner, so the MoveIt config must load both pipelines. MoveIt sees the scene through its
own planning scene (e.g. an octomap from `/a2/points`); every returned path is checked again
with our collision checker (table, scene cloud, safety box) before it is accepted, so the two
backends obey the same safety rules.

`moveit_py` is not installable where this package is developed; it is imported only when this
backend is chosen, and the node exits at start-up naming it when it is missing. This adapter was
not run against MoveIt here (README, "What was verified where").
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from geometry_msgs.msg import PoseStamped

from a2_grasping.core.gripper import GripperGeometry, base_from_tool0
from a2_grasping.core.kinematics import UR_JOINT_NAMES
from a2_grasping.core.planning.collision import CollisionChecker
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.core.planning.held_object import holding_the_object
from a2_grasping.core.planning.pick_planner import (
    FloatArray,
    PickPlan,
    PlanFailure,
    PlanningError,
    TimedPath,
    require_free_start,
)
from a2_grasping.ros import conversions

TRANSIT_PIPELINE = ("ompl", "RRTConnectkConfigDefault")
STRAIGHT_PIPELINE = ("pilz_industrial_motion_planner", "LIN")
TOOL_LINK = "tool0"


def import_moveit_py() -> tuple[Any, Any, Any]:
    """(MoveItPy, PlanRequestParameters, RobotState); ValueError (-> exit code 2) when absent."""
    try:
        from moveit.core.robot_state import RobotState
        from moveit.planning import MoveItPy, PlanRequestParameters
    except ImportError as error:
        raise ValueError(
            "planner_backend 'moveit_py' needs MoveIt 2's Python API (apt: ros-jazzy-moveit-py), "
            f"which cannot be imported here ({error}); use planner_backend: embedded"
        ) from None
    return MoveItPy, PlanRequestParameters, RobotState


class MoveItPickPlanner:
    def __init__(self, config: PlannerConfig, gripper: GripperGeometry | None = None) -> None:
        moveit_py, self._parameters_type, self._state_type = import_moveit_py()
        self.config = config
        self.gripper = gripper or GripperGeometry()
        # Reads the MoveIt config from this process's parameters (the launch passes them).
        self._moveit = moveit_py(node_name="a2_moveit_py")
        self._component = self._moveit.get_planning_component(config.moveit_group)
        self._model = self._moveit.get_robot_model()

    def plan(
        self,
        start_rad: FloatArray,
        grasps_base_from_tcp: FloatArray,
        checker: CollisionChecker,
        velocity_scaling: float = 1.0,
        deadline_s: float | None = None,
    ) -> PickPlan:
        started_s = time.perf_counter()
        deadline_s = deadline_s or started_s + 4 * self.config.planning_timeout_s
        start = np.asarray(start_rad, dtype=np.float64)
        require_free_start(start, checker)
        failures = 0
        for index, grasp in enumerate(grasps_base_from_tcp[: self.config.max_grasps_tried]):
            if time.perf_counter() > deadline_s:
                break
            segments = self._segments(start, np.asarray(grasp, np.float64), velocity_scaling)
            if segments is None or not self._all_free(segments, grasp, checker):
                failures += 1
                continue
            transit, approach, lift, retreat = segments
            return PickPlan(
                grasp_index=index,
                transit=transit,
                approach=approach,
                lift=lift,
                retreat=retreat,
                timings_ms={"planning": (time.perf_counter() - started_s) * 1e3},
            )
        raise PlanningError(
            PlanFailure.NO_REACHABLE_CANDIDATE if failures else PlanFailure.PLANNING_FAILED,
            f"MoveIt found no collision-free pick for {failures} grasp(s) "
            f"(group {self.config.moveit_group})",
        )

    def _segments(
        self, start: FloatArray, grasp: FloatArray, scaling: float
    ) -> tuple[TimedPath, ...] | None:
        back_off = np.eye(4)
        back_off[2, 3] = -self.config.pregrasp_distance_m
        lifted = grasp.copy()
        lifted[2, 3] += self.config.lift_height_m
        transit = self._plan_to(start, self._pose(grasp @ back_off), TRANSIT_PIPELINE, scaling)
        if transit is None:
            return None
        approach = self._plan_to(
            transit.positions_rad[-1], self._pose(grasp), STRAIGHT_PIPELINE, scaling
        )
        if approach is None:
            return None
        lift = self._plan_to(
            approach.positions_rad[-1], self._pose(lifted), STRAIGHT_PIPELINE, scaling
        )
        if lift is None:
            return None
        retreat = self._plan_to(lift.positions_rad[-1], start, TRANSIT_PIPELINE, scaling)
        if retreat is None:
            return None
        return transit, approach, lift, retreat

    def _pose(self, base_from_tcp: FloatArray) -> PoseStamped:
        pose = PoseStamped()
        pose.header.frame_id = "base_link"
        pose.pose = conversions.matrix_to_pose(base_from_tool0(base_from_tcp, self.gripper))
        return pose

    def _state(self, joints_rad: FloatArray) -> Any:
        state = self._state_type(self._model)
        state.set_joint_group_positions(self.config.moveit_group, [float(q) for q in joints_rad])
        state.update()
        return state

    def _plan_to(
        self,
        start_rad: FloatArray,
        goal: PoseStamped | FloatArray,
        pipeline: tuple[str, str],
        scaling: float,
    ) -> TimedPath | None:
        self._component.set_start_state(robot_state=self._state(start_rad))
        if isinstance(goal, PoseStamped):
            self._component.set_goal_state(pose_stamped_msg=goal, pose_link=TOOL_LINK)
        else:
            self._component.set_goal_state(robot_state=self._state(goal))
        parameters = self._parameters_type(self._moveit)
        parameters.planning_pipeline, parameters.planner_id = pipeline
        parameters.planning_time = self.config.planning_timeout_s
        parameters.max_velocity_scaling_factor = scaling
        parameters.max_acceleration_scaling_factor = scaling
        result = self._component.plan(single_plan_parameters=parameters)
        if not result:
            return None
        message = result.trajectory.get_robot_trajectory_msg().joint_trajectory
        return _timed_path(message)

    def _all_free(
        self, segments: tuple[TimedPath, ...], grasp: FloatArray, checker: CollisionChecker
    ) -> bool:
        """Our checker's verdict on MoveIt's paths: the object may be touched only while the
        fingers go in and out (approach and lift), and it is in the hand on the retreat, exactly
        as the embedded planner checks them."""
        transit, approach, lift, retreat = segments
        for path, ignore_object in (
            (transit, False),
            (approach, True),
            (lift, True),
        ):
            checker.ignore_near(
                grasp[:3, 3] if ignore_object else None, self.config.object_clearance_radius_m
            )
            if not all(checker.is_free(q) for q in path.positions_rad):
                return False
        checker.ignore_near(grasp[:3, 3], self.config.object_clearance_radius_m)
        with holding_the_object(checker, grasp, self.gripper, self.config):
            return all(checker.is_free(q) for q in retreat.positions_rad)


def _timed_path(message: Any) -> TimedPath:
    """A JointTrajectory in UR joint order as a TimedPath (MoveIt may order joints otherwise)."""
    order = [list(message.joint_names).index(name) for name in UR_JOINT_NAMES]
    points = message.points
    times = np.array([conversions.duration_to_seconds(p.time_from_start) for p in points])
    positions = np.array([[p.positions[i] for i in order] for p in points], dtype=np.float64)
    velocities = np.array(
        [[p.velocities[i] for i in order] if len(p.velocities) else [0.0] * 6 for p in points],
        dtype=np.float64,
    )
    return TimedPath(times, positions, velocities)
