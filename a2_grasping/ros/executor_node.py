"""executor_node: the /pick action. Select (or take) a grasp, plan, and execute it safely.

Sequence: select -> plan -> move to pre-grasp -> open -> straight approach -> close -> verify the
hold -> lift -> verify again -> verify the target (a fresh scene must show the named object's
place empty, otherwise the object is set back down: WRONG_OBJECT) -> retreat. Nothing moves on
stale joint states, a stale scene or a plan whose start no longer matches the robot; every wait
is bounded; a cancel stops the arm.
One pick at a time: a second goal is rejected while one runs.

Threading: the action's execute callback runs on its own thread of the multi-threaded executor
(reentrant group) and waits there with timeouts, while joint states, the scene and the
/select_grasp response are delivered by other executor threads; the service is called with
call_async, never a blocking call.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import overload

import numpy as np
from numpy.typing import NDArray
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from a2_grasping.action import Pick
from a2_grasping.core.errors import SelectErrorCode
from a2_grasping.core.executor_config import ExecutorConfig
from a2_grasping.core.gripper import GripperGeometry
from a2_grasping.core.perception import collision_cloud
from a2_grasping.core.planning.collision import CollisionChecker
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.core.planning.pick_planner import (
    PickPlan,
    PickPlanner,
    PlanFailure,
    PlanningError,
    TimedPath,
)
from a2_grasping.core.scene import CameraView
from a2_grasping.core.target_check import check_target_left
from a2_grasping.msg import GraspCandidate, GraspTarget, SceneSnapshot
from a2_grasping.ros import conversions, spin
from a2_grasping.ros.controller_actions import ActionArmController, ActionGripper
from a2_grasping.ros.controllers import (
    CanceledError,
    Deadline,
    ExecutionError,
    JointStateMonitor,
    RobotState,
    TopicArmController,
    TopicGripper,
)
from a2_grasping.ros.inference_node import SCENE_QOS
from a2_grasping.ros.moveit_planner import MoveItPickPlanner
from a2_grasping.ros.parameters import declare_config
from a2_grasping.srv import SelectGrasp

R = Pick.Result
_PLAN_FAILURES = {
    PlanFailure.NO_REACHABLE_CANDIDATE: R.NO_REACHABLE_CANDIDATE,
    PlanFailure.PLANNING_FAILED: R.PLANNING_FAILED,
    PlanFailure.START_IN_COLLISION: R.PLANNING_FAILED,
}


class PickError(Exception):
    def __init__(self, code: int, message: str, select_error_code: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.select_error_code = select_error_code


@dataclass(frozen=True)
class _Cloud:
    """What the cameras saw: every view's registered depth, for the planner's collision cloud."""

    views: tuple[CameraView, ...]
    stamp_s: float
    frame_id: str
    points_xyz: NDArray[np.float32]  # the scene cloud, for the target check


class ExecutorNode(Node):
    def __init__(self) -> None:
        super().__init__("executor_node")
        self._config = declare_config(self, ExecutorConfig)
        planner_config = declare_config(self, PlannerConfig)
        self._planner: PickPlanner | MoveItPickPlanner
        if planner_config.planner_backend == "moveit_py":
            self._planner = MoveItPickPlanner(planner_config, GripperGeometry())
        else:
            self._planner = PickPlanner(planner_config, GripperGeometry())
        cfg = self._config
        self._monitor = JointStateMonitor(cfg.joint_names, cfg.gripper_joint)
        # Joint states feed every wait of a running pick: their own group, never starved.
        self.create_subscription(
            JointState,
            cfg.joint_states_topic,
            self._monitor.on_joint_state,
            QoSProfile(depth=10),
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        self._cloud: _Cloud | None = None
        self._cloud_lock = threading.Lock()
        self.create_subscription(
            SceneSnapshot,
            cfg.scene_topic,
            self._on_scene,
            SCENE_QOS,
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        service_group = ReentrantCallbackGroup()
        self._select_client = self.create_client(
            SelectGrasp, cfg.select_service, callback_group=service_group
        )
        self._arm: TopicArmController | ActionArmController
        self._gripper: TopicGripper | ActionGripper
        if cfg.controller_interface == "action":
            self._arm = ActionArmController(
                self,
                cfg.trajectory_action,
                cfg.joint_names,
                self._monitor,
                cfg.max_joint_state_age_s,
            )
            self._gripper = ActionGripper(self, cfg.gripper_action, self._monitor)
        else:
            self._arm = TopicArmController(
                self,
                cfg.trajectory_topic,
                cfg.joint_names,
                self._monitor,
                cfg.max_joint_state_age_s,
            )
            self._gripper = TopicGripper(self, cfg.gripper_command_topic, self._monitor)
        self._path_publisher = self.create_publisher(
            JointTrajectory,
            cfg.planned_path_topic,
            QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL),
        )
        self._running = threading.Lock()
        self._action = ActionServer(
            self,
            Pick,
            cfg.action_name,
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            cancel_callback=lambda _goal: CancelResponse.ACCEPT,
            callback_group=service_group,
        )
        self.get_logger().info(f"serving {cfg.action_name}")

    def destroy_node(self) -> None:
        self._action.destroy()
        super().destroy_node()

    # ---- callbacks ----

    def _on_scene(self, msg: SceneSnapshot) -> None:
        try:
            scene = conversions.scene_from_msg(msg)
            if not scene.views:
                raise ValueError("it has no camera images: obstacles outside the cloud are unknown")
        except ValueError as error:
            self.get_logger().warning(f"ignoring scene: {error}", throttle_duration_sec=5.0)
            return
        cloud = _Cloud(scene.views, scene.stamp_s, scene.frame_id, scene.points_xyz)
        with self._cloud_lock:
            self._cloud = cloud

    def _on_goal(self, _goal: Pick.Goal) -> GoalResponse:
        if self._running.locked():
            self.get_logger().warning("rejecting a pick goal: another pick is running")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _execute(self, goal_handle: ServerGoalHandle) -> Pick.Result:
        result = Pick.Result()
        with self._running:
            try:
                self._pick(goal_handle, result)
            except PickError as error:
                result.error_code, result.error_message = error.code, error.message
                result.select_error_code = error.select_error_code
            except CanceledError as error:
                result.error_code, result.error_message = R.CANCELED, str(error)
            except ExecutionError as error:
                result.error_code, result.error_message = R.EXECUTION_FAILED, str(error)
            except Exception as error:  # a goal must never take the node down
                self.get_logger().error(f"pick failed unexpectedly: {error!r}")
                result.error_code, result.error_message = R.INTERNAL, repr(error)
        if result.error_code == R.NONE:
            goal_handle.succeed()
        elif result.error_code == R.CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            self.get_logger().warning(f"pick failed ({result.error_code}): {result.error_message}")
            goal_handle.abort()
        return result

    # ---- the pick ----

    def _pick(self, goal_handle: ServerGoalHandle, result: Pick.Result) -> None:
        goal: Pick.Goal = goal_handle.request
        scaling = self._velocity_scaling(goal)
        feedback = _Feedback(goal_handle)
        state = self._fresh_state(wait_s=self._config.input_wait_s)
        candidates, result.target = self._candidates(goal, goal_handle, feedback)
        try:
            target_box = conversions.target_box_from_msg(result.target)
        except ValueError as error:
            raise PickError(R.INVALID_GOAL, f"target: {error}") from None
        cloud = self._fresh_cloud()

        feedback.send("planning", 0.15)
        plan = self._plan(state, candidates, cloud, scaling)
        chosen = candidates[plan.grasp_index]
        result.executed_grasp = chosen
        self._publish_plan(plan)
        if goal.dry_run:
            self.get_logger().info(f"dry run: planned grasp {plan.grasp_index}, moved nothing")
            return

        cfg = self._config

        def canceled() -> bool:
            return bool(goal_handle.is_cancel_requested)

        feedback.send("moving_to_pregrasp", 0.25)
        self._run_segment(plan.transit, canceled)
        feedback.send("opening", 0.45)
        self._gripper.move(cfg.gripper_open_rad, cfg.gripper_timeout_s, cfg.max_joint_state_age_s)
        feedback.send("approaching", 0.5)
        self._run_segment(plan.approach, canceled)
        feedback.send("closing", 0.6)
        closed_at = self._gripper.move(
            cfg.gripper_closed_rad, cfg.gripper_timeout_s, cfg.max_joint_state_age_s
        )
        feedback.send("verifying", 0.65)
        result.gripper_width_m = self._width_m(closed_at)
        if not self._holding(closed_at):
            self._gripper.move(
                cfg.gripper_open_rad, cfg.gripper_timeout_s, cfg.max_joint_state_age_s
            )
            self._run_segment(plan.lift, canceled)  # back up, empty-handed
            raise PickError(
                R.GRASP_FAILED, f"the gripper closed on nothing (knuckle {closed_at:.3f} rad)"
            )
        feedback.send("lifting", 0.75)
        self._run_segment(plan.lift, canceled)
        after_lift_rad = self._settled_gripper_rad()
        result.object_held = self._holding(after_lift_rad)
        result.gripper_width_m = self._width_m(after_lift_rad)
        if not result.object_held:
            raise PickError(R.GRASP_FAILED, "the object slipped out during the lift")
        if target_box is not None:
            feedback.send("verifying_target", 0.85)
            self._verify_target(target_box, cloud, plan, canceled, feedback)
            result.target_verified = True
        feedback.send("retreating", 0.9)
        self._run_segment(plan.retreat, canceled)
        result.object_held = self._holding(self._settled_gripper_rad())
        if not result.object_held:
            raise PickError(R.GRASP_FAILED, "the object was lost during the retreat")

    def _candidates(
        self, goal: Pick.Goal, goal_handle: ServerGoalHandle, feedback: _Feedback
    ) -> tuple[list[GraspCandidate], GraspTarget]:
        """The goal's own candidate and target, or /select_grasp's answer to its instruction."""
        if goal.use_candidate:
            return [self._checked_candidate(goal.candidate)], goal.target
        if not goal.instruction.strip():
            raise PickError(R.INVALID_GOAL, "instruction is empty (and use_candidate false)")
        feedback.send("selecting", 0.05)
        return self._select(goal.instruction, goal_handle)

    def _velocity_scaling(self, goal: Pick.Goal) -> float:
        value = goal.velocity_scaling
        if not math.isfinite(value) or value < 0.0 or value > 1.0:
            raise PickError(R.INVALID_GOAL, f"velocity_scaling must be in [0, 1], got {value}")
        if value == 0.0:
            value = self._config.default_velocity_scaling
        return min(value, self._config.max_velocity_scaling)

    def _fresh_state(self, wait_s: float = 0.0) -> RobotState:
        deadline = time.monotonic() + wait_s
        while (state := self._monitor.latest(self._config.max_joint_state_age_s)) is None:
            if time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        if state is None:
            raise PickError(
                R.STALE_STATE,
                f"no joint state younger than {self._config.max_joint_state_age_s} s on "
                f"{self._config.joint_states_topic}",
            )
        return state

    @overload
    def _fresh_cloud(self) -> _Cloud: ...

    @overload
    def _fresh_cloud(self, newer_than_s: float) -> _Cloud | None: ...

    def _fresh_cloud(self, newer_than_s: float | None = None) -> _Cloud | None:
        """The newest scene once it is fresh (or stamped after `newer_than_s`), waiting at most
        input_wait_s. Without `newer_than_s` a missing fresh scene is a PickError; with it, None.
        """
        deadline = time.monotonic() + self._config.input_wait_s
        while True:
            with self._cloud_lock:
                cloud = self._cloud
            now_s = conversions.clock_seconds(self.get_clock())
            fresh = cloud is not None and now_s - cloud.stamp_s <= self._config.max_scene_age_s
            if newer_than_s is not None:
                fresh = fresh and cloud is not None and cloud.stamp_s > newer_than_s
            if fresh or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if newer_than_s is not None:
            return cloud if fresh else None
        if cloud is None or not fresh:
            raise PickError(
                R.STALE_STATE,
                "no scene younger than "
                f"{self._config.max_scene_age_s} s on {self._config.scene_topic}: the collision "
                "environment is unknown, nothing is moved",
            )
        return cloud

    def _checked_candidate(self, candidate: GraspCandidate) -> GraspCandidate:
        try:
            conversions.pose_to_matrix(candidate.pose.pose)
        except ValueError as error:
            raise PickError(R.INVALID_GOAL, f"candidate pose: {error}") from None
        with self._cloud_lock:
            frame = self._cloud.frame_id if self._cloud is not None else "base_link"
        if candidate.pose.header.frame_id != frame:
            raise PickError(
                R.INVALID_GOAL,
                f"candidate pose is in '{candidate.pose.header.frame_id}', expected '{frame}'",
            )
        return candidate

    def _verify_target(
        self,
        target_box: tuple[NDArray[np.float64], NDArray[np.float64]],
        before: _Cloud,
        plan: PickPlan,
        canceled: Callable[[], bool],
        feedback: _Feedback,
    ) -> None:
        """Refuse to carry anything but the target: a fresh scene must show its place empty.

        A wrong object, or no fresh scene to judge by, is set back down where it was lifted from.
        """
        lifted_at_s = conversions.clock_seconds(self.get_clock())
        after = self._fresh_cloud(newer_than_s=lifted_at_s)
        if after is None:
            feedback.send("setting_down", 0.9)
            self._set_down(plan, canceled)
            raise PickError(
                R.STALE_STATE,
                f"no scene newer than the lift arrived within {self._config.input_wait_s} s on "
                f"{self._config.scene_topic}: the held object could not be verified, so it was "
                "set back down",
            )
        check = check_target_left(
            *target_box,
            before.points_xyz,
            after.points_xyz,
            self._planner.config.lift_height_m,
        )
        if not check.target_left:
            feedback.send("setting_down", 0.9)
            self._set_down(plan, canceled)
            what = (
                "the target was not visible before the grasp"
                if not check.observable
                else f"the target is still on the table ({check.summary()})"
            )
            raise PickError(
                R.WRONG_OBJECT, f"{what}: the lifted object was set back down where it came from"
            )
        self.get_logger().info(f"target verified: {check.summary()}")

    def _set_down(self, plan: PickPlan, canceled: Callable[[], bool]) -> None:
        """Back down the lift, open, and up again empty-handed."""
        cfg = self._config
        self._run_segment(plan.lift.reversed(), canceled)
        self._gripper.move(cfg.gripper_open_rad, cfg.gripper_timeout_s, cfg.max_joint_state_age_s)
        self._run_segment(plan.lift, canceled)

    def _select(
        self, instruction: str, goal_handle: ServerGoalHandle
    ) -> tuple[list[GraspCandidate], GraspTarget]:
        timeout_s = self._config.select_timeout_s
        deadline = time.monotonic() + timeout_s
        while not self._select_client.service_is_ready():
            if time.monotonic() > deadline:
                raise PickError(
                    R.SERVER_UNAVAILABLE, f"{self._config.select_service} is not available"
                )
            time.sleep(0.05)
        future = self._select_client.call_async(SelectGrasp.Request(instruction=instruction))
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        while not done.wait(timeout=0.05):
            if goal_handle.is_cancel_requested:
                self._select_client.remove_pending_request(future)
                raise CanceledError("canceled while selecting")
            if time.monotonic() > deadline:
                self._select_client.remove_pending_request(future)
                raise PickError(
                    R.SERVER_UNAVAILABLE,
                    f"{self._config.select_service} did not answer within {timeout_s:.1f} s",
                )
        response: SelectGrasp.Response = future.result()
        if response.error_code != SelectErrorCode.NONE:
            code = (
                R.NO_REACHABLE_CANDIDATE
                if response.error_code == SelectErrorCode.NO_REACHABLE_CANDIDATE
                else R.SELECTION_FAILED
            )
            name = SelectErrorCode(response.error_code).name
            raise PickError(
                code, f"/select_grasp: {name}: {response.error_message}", response.error_code
            )
        return list(response.candidates), response.target

    def _plan(
        self, state: RobotState, candidates: list[GraspCandidate], cloud: _Cloud, scaling: float
    ) -> PickPlan:
        planner_config = self._planner.config
        checker = CollisionChecker(
            planner_config.table_height_m,
            self._planner.gripper,
            octree_resolution_m=planner_config.octree_resolution_m,
            table_clearance_m=planner_config.table_clearance_m,
            padding_m=planner_config.collision_padding_m,
        )
        points = collision_cloud(
            cloud.views,
            planner_config.collision_box_m,
            planner_config.octree_resolution_m,
            robot_mask=lambda points: checker.robot_points_mask(
                points, state.arm_rad, planner_config.robot_filter_radius_m
            ),
            occlusion_depth_m=planner_config.occlusion_depth_m,
            floor_z_m=planner_config.table_height_m,
        )
        checker.set_scene_points(points)
        poses = np.stack([conversions.pose_to_matrix(c.pose.pose) for c in candidates])
        try:
            return self._planner.plan(state.arm_rad, poses, checker, velocity_scaling=scaling)
        except PlanningError as error:
            raise PickError(_PLAN_FAILURES[error.failure], error.message) from None

    def _run_segment(self, path: TimedPath, canceled: Callable[[], bool]) -> None:
        state = self._fresh_state()
        offset = float(np.max(np.abs(state.arm_rad - path.positions_rad[0])))
        if offset > self._config.start_tolerance_rad:
            raise PickError(
                R.STALE_STATE,
                f"the robot is {offset:.3f} rad away from the plan's start "
                f"(tolerance {self._config.start_tolerance_rad}); refusing to execute",
            )
        self._arm.execute(
            path,
            self._config.goal_tolerance_rad,
            path.duration_s + self._config.execution_margin_s,
            canceled,
        )

    def _publish_plan(self, plan: PickPlan) -> None:
        segments = list(plan.segments().values())
        offsets = np.cumsum([0.0] + [s.duration_s for s in segments[:-1]])
        times = np.concatenate([s.times_s + o for s, o in zip(segments, offsets, strict=True)])
        keep = np.r_[True, np.diff(times) > 0]
        self._path_publisher.publish(
            conversions.trajectory_to_msg(
                self._config.joint_names,
                times[keep],
                np.concatenate([s.positions_rad for s in segments])[keep],
                np.concatenate([s.velocities_rad_s for s in segments])[keep],
            )
        )

    def _settled_gripper_rad(self) -> float:
        """Where the fingers rest after a motion: a dropped object shows only once they stop."""
        return self._monitor.settled_gripper_rad(
            Deadline(self._config.gripper_timeout_s, self.get_clock()),
            self._config.max_joint_state_age_s,
        )

    def _holding(self, knuckle_rad: float) -> bool:
        cfg = self._config
        travel = cfg.gripper_closed_rad - cfg.gripper_open_rad
        return (
            cfg.gripper_open_rad + 0.05 * travel
            < knuckle_rad
            < cfg.gripper_closed_rad - cfg.hold_margin_rad
        )

    def _width_m(self, knuckle_rad: float) -> float:
        """Finger opening from the knuckle angle (linear approximation of the 2F-85 linkage)."""
        cfg = self._config
        closed_fraction = (knuckle_rad - cfg.gripper_open_rad) / (
            cfg.gripper_closed_rad - cfg.gripper_open_rad
        )
        return float(np.clip(1.0 - closed_fraction, 0.0, 1.0) * self._planner.gripper.max_width_m)


class _Feedback:
    def __init__(self, goal_handle: ServerGoalHandle) -> None:
        self._goal_handle = goal_handle

    def send(self, stage: str, progress: float) -> None:
        self._goal_handle.publish_feedback(Pick.Feedback(stage=stage, progress=progress))


def main(args: list[str] | None = None) -> int:
    return spin.main(ExecutorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
