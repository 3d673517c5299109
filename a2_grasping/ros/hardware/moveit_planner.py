"""Pick and place planning through MoveIt 2 (`planner_backend: moveit_py`), for MoveIt cells.

Same port as the embedded planner (`core.task.ports.MotionPlanner`): ranked TCP poses in, a
`TaskPlan` of named segments out (pick: transit, approach, lift, retreat; place: transit,
descend, ascend, retreat), tried in order by the shared `plans.plan_first` loop with the same
`PlanningError` kinds. Transits go through the `ompl` pipeline (RRTConnect); approach, lift,
descend and ascend are straight lines through the Pilz `LIN` planner, so the MoveIt config must
load both pipelines. MoveIt sees the scene through its
own planning scene (e.g. an octomap from `/a2/points`); every returned path is checked again
with our collision checker (table, scene cloud, safety box) before it is accepted, so the two
backends obey the same safety rules.

`moveit_py` is not installable where this package is developed; it is imported only when this
backend is chosen, and the node exits at start-up naming it when it is missing. This adapter was
not run against MoveIt here (README, "What was verified where").
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import numpy as np
from geometry_msgs.msg import PoseStamped

from a2_grasping.core.gripper import GripperGeometry, base_from_tool0
from a2_grasping.core.kinematics import UR_JOINT_NAMES
from a2_grasping.core.planning.collision import CollisionChecker
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.core.planning.held_object import holding_the_object
from a2_grasping.core.planning.paths import TimedPath
from a2_grasping.core.planning.pick_planner import FloatArray, HeldBox
from a2_grasping.core.planning.plans import PlanFailure, Segment, TaskPlan, plan_first
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


class MoveItPlanner:
    def __init__(self, config: PlannerConfig, gripper: GripperGeometry | None = None) -> None:
        moveit_py, self._parameters_type, self._state_type = import_moveit_py()
        self.config = config
        self.gripper = gripper or GripperGeometry()
        # Reads the MoveIt config from this process's parameters (the launch passes them).
        self._moveit = moveit_py(node_name="a2_moveit_py")
        self._component = self._moveit.get_planning_component(config.moveit_group)
        self._model = self._moveit.get_robot_model()

    def close(self) -> None:
        """Stop MoveItPy's own node (the executor's cleanup)."""
        self._moveit.shutdown()

    def plan_pick(
        self,
        start_rad: FloatArray,
        grasps_base_from_tcp: FloatArray,
        checker: CollisionChecker,
        velocity_scaling: float = 1.0,
        *,
        retreat: bool = True,
    ) -> TaskPlan:
        start = np.asarray(start_rad, dtype=np.float64)

        def plan_one(grasp: FloatArray) -> tuple[Segment, ...] | PlanFailure:
            back_off = np.eye(4)
            back_off[2, 3] = -self.config.pregrasp_distance_m
            lifted = grasp.copy()
            lifted[2, 3] += self.config.lift_height_m
            steps = [
                ("transit", self._pose(grasp @ back_off), TRANSIT_PIPELINE),
                ("approach", self._pose(grasp), STRAIGHT_PIPELINE),
                ("lift", self._pose(lifted), STRAIGHT_PIPELINE),
            ]
            if retreat:
                steps.append(("retreat", start, TRANSIT_PIPELINE))
            segments = self._chain(start, steps, velocity_scaling)
            if segments is None or not self._pick_free(segments, grasp, checker):
                return PlanFailure.NO_REACHABLE_CANDIDATE
            return segments

        return plan_first(
            start,
            list(grasps_base_from_tcp),
            plan_one,
            checker,
            config=self.config,
            what="grasp",
        )

    def plan_place(
        self,
        start_rad: FloatArray,
        releases_base_from_tcp: FloatArray,
        checker: CollisionChecker,
        held_box: HeldBox | None,
        velocity_scaling: float = 1.0,
        *,
        home_rad: FloatArray | None = None,
        ignore_at_start_m: FloatArray | None = None,
    ) -> TaskPlan:
        start = np.asarray(start_rad, dtype=np.float64)
        home = start if home_rad is None else np.asarray(home_rad, dtype=np.float64)

        def plan_one(release: FloatArray) -> tuple[Segment, ...] | PlanFailure:
            above = release.copy()
            above[2, 3] += self.config.place_approach_m
            steps = [
                ("transit", self._pose(above), TRANSIT_PIPELINE),
                ("descend", self._pose(release), STRAIGHT_PIPELINE),
                ("ascend", self._pose(above), STRAIGHT_PIPELINE),
                ("retreat", home, TRANSIT_PIPELINE),
            ]
            segments = self._chain(start, steps, velocity_scaling)
            if segments is None or not self._place_free(
                segments, checker, held_box, ignore_at_start_m
            ):
                return PlanFailure.NO_REACHABLE_CANDIDATE
            return segments

        return plan_first(
            start,
            list(releases_base_from_tcp),
            plan_one,
            checker,
            config=self.config,
            what="place pose",
        )

    def _chain(
        self,
        start: FloatArray,
        steps: list[tuple[str, PoseStamped | FloatArray, tuple[str, str]]],
        scaling: float,
    ) -> tuple[Segment, ...] | None:
        """Each step planned from where the previous one ends; None when one fails."""
        segments: list[Segment] = []
        current = start
        for name, goal, pipeline in steps:
            path = self._plan_to(current, goal, pipeline, scaling)
            if path is None:
                return None
            segments.append(Segment(name, path))
            current = path.positions_rad[-1]
        return tuple(segments)

    def _pose(self, base_from_tcp: FloatArray) -> PoseStamped:
        return conversions.pose_stamped(
            base_from_tool0(base_from_tcp, self.gripper), self.config.base_frame
        )

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
        return conversions.timed_path_from_msg(message, UR_JOINT_NAMES)

    def _pick_free(
        self, segments: tuple[Segment, ...], grasp: FloatArray, checker: CollisionChecker
    ) -> bool:
        """Our checker's verdict on MoveIt's paths: the object may be touched only while the
        fingers go in and out (approach and lift), and it is in the hand on the retreat, exactly
        as the embedded planner checks them."""
        by_name = {segment.name: segment.path for segment in segments}
        for name, ignore_object in (("transit", False), ("approach", True), ("lift", True)):
            checker.ignore_near(
                grasp[:3, 3] if ignore_object else None, self.config.object_clearance_radius_m
            )
            if not all(checker.is_free(q) for q in by_name[name].positions_rad):
                return False
        if "retreat" not in by_name:
            return True
        checker.ignore_near(grasp[:3, 3], self.config.object_clearance_radius_m)
        with holding_the_object(checker, grasp, self.gripper, self.config):
            return all(checker.is_free(q) for q in by_name["retreat"].positions_rad)

    def _place_free(
        self,
        segments: tuple[Segment, ...],
        checker: CollisionChecker,
        held_box: HeldBox | None,
        ignore_at_start_m: FloatArray | None,
    ) -> bool:
        """Transit and descent with the object in the hand, ascent and retreat without it."""
        by_name = {segment.name: segment.path for segment in segments}
        holding = checker.holding(*held_box) if held_box is not None else nullcontext()
        with holding:
            checker.ignore_near(ignore_at_start_m, self.config.object_clearance_radius_m)
            if not all(checker.is_free(q) for q in by_name["transit"].positions_rad):
                return False
            checker.ignore_near(None, 0.0)
            if not all(checker.is_free(q) for q in by_name["descend"].positions_rad):
                return False
        checker.ignore_near(None, 0.0)
        return all(
            checker.is_free(q)
            for name in ("ascend", "retreat")
            for q in by_name[name].positions_rad
        )
