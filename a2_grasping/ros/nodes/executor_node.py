"""executor_node: the /pick action, a thin lifecycle node around the core task runner.

The task sequence, the collision world and the hold logic live in `a2_grasping.core.task`; this
node wires ROS to its ports: joint states and the scene topic (`ros/ports/observed.py`), the
/select_grasp and /select_place clients (`ros/ports/selection_services.py`), the arm and gripper
controller adapters and the planner (chosen once by `hardware.backends.make_backends`), and
converts goals and results at its edge.

Lifecycle: backends are built and validated at start-up (a bad configuration exits with code 2);
goals are accepted only while active; deactivating cancels a running goal, which stops the arm.
Threading: the action's execute callback runs on its own thread of the multi-threaded executor
(reentrant group) and waits there with timeouts, while joint states, scenes and the
/select_grasp response are delivered by other executor threads; services are called with
call_async, never a blocking call.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from a2_grasping.action import Pick, PickAndPlace, Place
from a2_grasping.core.errors import SelectionError
from a2_grasping.core.executor_config import ExecutorConfig
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.core.planning.plans import TaskPlan
from a2_grasping.core.selection.objects import SegmentationConfig
from a2_grasping.core.selection.place_regions import split_pick_and_place
from a2_grasping.core.task.codes import CanceledError, ExecutionError, TaskError, TaskErrorCode
from a2_grasping.core.task.goals import check_candidate
from a2_grasping.core.task.placing import HeldRecord
from a2_grasping.core.task.ports import (
    Choice,
)
from a2_grasping.core.task.runner import (
    PickRequest,
    PlaceGoal,
    TaskPorts,
    TaskReport,
    TaskRunner,
)
from a2_grasping.msg import GraspCandidate, SceneSnapshot
from a2_grasping.ros import conversions, diagnostics, spin
from a2_grasping.ros.hardware.backends import make_backends
from a2_grasping.ros.hardware.controllers import JointStateMonitor
from a2_grasping.ros.high_rate import HighRateLane
from a2_grasping.ros.nodes.executor_diagnostics import TaskRecord, robot_status, task_status
from a2_grasping.ros.parameters import declare_config
from a2_grasping.ros.ports.observed import RobotStates, SceneTopic
from a2_grasping.ros.ports.selection_services import GraspService, PlaceService
from a2_grasping.ros.qos import DIAGNOSTICS_QOS, JOINT_STATE_QOS, LATCHED_QOS, SCENE_QOS
from a2_grasping.srv import SelectGrasp, SelectPlace


class ExecutorNode(LifecycleNode):
    def __init__(self) -> None:
        super().__init__("executor_node")
        self._config = declare_config(self, ExecutorConfig)
        planner_config = declare_config(self, PlannerConfig)
        segmentation = declare_config(self, SegmentationConfig)
        cfg = self._config
        self._monitor = JointStateMonitor(cfg.joint_names, cfg.gripper_joint)
        self._scenes = SceneTopic(self.get_clock(), cfg.input_wait_s, cfg.max_scene_age_s)
        self.create_subscription(
            SceneSnapshot,
            cfg.scene_topic,
            self._on_scene,
            SCENE_QOS,
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        service_group = ReentrantCallbackGroup()
        select_client = self.create_client(
            SelectGrasp, cfg.select_service, callback_group=service_group
        )
        place_client = self.create_client(
            SelectPlace, cfg.select_place_service, callback_group=service_group
        )
        backends = make_backends(self, cfg, planner_config, self._monitor)
        # Joint states (100-500 Hz) feed every wait of a running task: on the high-rate lane,
        # never starved by the executor's other callbacks. Started once the backends (which can
        # refuse the configuration) exist.
        self._high_rate = HighRateLane(self)
        self._high_rate.subscribe(
            JointState, cfg.joint_states_topic, self._monitor.on_joint_state, JOINT_STATE_QOS
        )
        self._path_publisher = self.create_publisher(
            JointTrajectory, cfg.planned_path_topic, LATCHED_QOS
        )
        self._grasps = GraspService(select_client, cfg.select_timeout_s, self.get_clock())
        self._places = PlaceService(place_client, cfg.select_timeout_s, self.get_clock())
        self._runner = TaskRunner(
            cfg,
            TaskPorts(
                planner=backends.planner,
                arm=backends.arm,
                gripper=backends.gripper,
                robot=RobotStates(self._monitor, self.get_clock()),
                scenes=self._scenes,
                grasps=self._grasps,
                places=self._places,
                publish_plan=self._publish_plan,
                log=lambda text: self.get_logger().info(text),
            ),
            segmentation,
        )
        self._arm = backends.arm
        self._backends = backends
        self._active = False
        self._running = threading.Lock()
        self._running_task = ""
        self._last_task = TaskRecord()
        self._diagnostics_publisher = self.create_publisher(
            DiagnosticArray, "/diagnostics", DIAGNOSTICS_QOS
        )
        self.create_timer(
            diagnostics.PERIOD_S,
            self._publish_diagnostics,
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        self._actions = [
            ActionServer(
                self,
                action_type,
                name,
                execute_callback=execute,
                goal_callback=self._on_goal,
                cancel_callback=lambda _goal: CancelResponse.ACCEPT,
                callback_group=service_group,
            )
            for action_type, name, execute in (
                (Pick, cfg.action_name, self._execute),
                (Place, cfg.place_action_name, self._execute_place),
                (PickAndPlace, cfg.pick_and_place_action_name, self._execute_pick_and_place),
            )
        ]
        if cfg.autostart:
            self.trigger_configure()
            self.trigger_activate()

    def destroy_node(self) -> None:
        for action in self._actions:
            action.destroy()
        self._high_rate.close()
        super().destroy_node()

    def _publish_diagnostics(self) -> None:
        cfg = self._config
        state = self._monitor.latest(cfg.max_joint_state_age_s)
        robot = robot_status(
            cfg,
            arm_connected=self._backends.arm.connected(),
            gripper_connected=self._backends.gripper.connected(),
            ages_s=self._monitor.joint_ages_s(),
            gripper_rad=None if state is None else state.gripper_rad,
            holding=None if state is None else self._runner.reading.holding(state.gripper_rad),
        )
        tasks = task_status(self._active, self._running_task, self._last_task)
        self._diagnostics_publisher.publish(
            diagnostics.array(self.get_clock().now().to_msg(), [robot, tasks])
        )

    # ---- lifecycle ----

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        self.get_logger().info(f"serving {self._config.action_name}")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        if self._running.locked():
            self.get_logger().warning("deactivated during a task: stopping the arm")
            self._arm.stop(timeout_s=self._config.stop_timeout_s)
        return super().on_deactivate(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        return TransitionCallbackReturn.SUCCESS

    # ---- callbacks ----

    def _on_scene(self, msg: SceneSnapshot) -> None:
        try:
            scene = conversions.scene_from_msg(msg)
            if not scene.views:
                raise ValueError("it has no camera images: obstacles outside the cloud are unknown")
        except ValueError as error:
            self.get_logger().warning(f"ignoring scene: {error}", throttle_duration_sec=5.0)
            return
        self._scenes.on_scene(scene)

    def _on_goal(self, _goal: object) -> GoalResponse:
        if not self._active:
            self.get_logger().warning("rejecting a goal: executor_node is not active")
            return GoalResponse.REJECT
        if self._running.locked():
            self.get_logger().warning("rejecting a goal: another task is running")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _run_task(
        self,
        goal_handle: ServerGoalHandle,
        what: str,
        feedback_type: Callable[..., Any],
        task: Callable[[Callable[[str, float], None], Callable[[], bool]], None],
    ) -> tuple[int, str, int]:
        """Run one task under the one-task lock; (code, message, select error code)."""

        def canceled() -> bool:
            return bool(goal_handle.is_cancel_requested) or not self._active

        def feedback(stage: str, progress: float) -> None:
            goal_handle.publish_feedback(feedback_type(stage=stage, progress=progress))

        code, message, select_code = int(TaskErrorCode.NONE), "", 0
        with self._running:
            self._running_task = what
            try:
                task(feedback, canceled)
            except TaskError as error:
                code, message, select_code = int(error.code), error.message, error.select_error_code
            except CanceledError as error:
                code, message = int(TaskErrorCode.CANCELED), str(error)
            except ExecutionError as error:
                code, message = int(TaskErrorCode.EXECUTION_FAILED), str(error)
            except Exception as error:  # a goal must never take the node down
                self.get_logger().error(f"{what} failed unexpectedly: {error!r}")
                code, message = int(TaskErrorCode.INTERNAL), repr(error)
        self._running_task = ""
        self._last_task.what, self._last_task.message = what, message
        self._last_task.code_name = TaskErrorCode(code).name
        self._last_task.finished += 1
        self._last_task.failed += code != TaskErrorCode.NONE
        if code == TaskErrorCode.NONE:
            goal_handle.succeed()
        elif code == TaskErrorCode.CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            self.get_logger().warning(f"{what} failed ({code}): {message}")
            goal_handle.abort()
        return code, message, select_code

    def _execute(self, goal_handle: ServerGoalHandle) -> Pick.Result:
        result = Pick.Result()
        report = TaskReport()
        goal: Pick.Goal = goal_handle.request
        candidates: list[GraspCandidate] = []

        def task(feedback: Callable[[str, float], None], canceled: Callable[[], bool]) -> None:
            nonlocal candidates
            request, candidates = self._pick_request(goal)
            self._runner.pick(request, report, feedback, canceled)

        def pick_feedback(stage: str, progress: float) -> Pick.Feedback:
            return Pick.Feedback(stage=stage, progress=progress, attempt=report.grasp_attempts)

        result.error_code, result.error_message, result.select_error_code = self._run_task(
            goal_handle, "pick", pick_feedback, task
        )
        candidates = candidates or self._grasps.last_candidates
        if 0 <= report.chosen_index < len(candidates):
            result.executed_grasp = candidates[report.chosen_index]
        result.target = goal.target if goal.use_candidate else self._grasps.last_target_msg
        result.object_held = report.object_held
        result.gripper_width_m = report.gripper_width_m
        result.target_verified = report.target_verified
        result.grasp_attempts = report.grasp_attempts
        return result

    def _execute_place(self, goal_handle: ServerGoalHandle) -> Place.Result:
        result = Place.Result()
        report = TaskReport()
        goal: Place.Goal = goal_handle.request

        def task(feedback: Callable[[str, float], None], canceled: Callable[[], bool]) -> None:
            self._places.forget()
            self._runner.place(self._place_goal(goal), report, feedback, canceled)

        result.error_code, result.error_message, result.select_error_code = self._run_task(
            goal_handle, "place", Place.Feedback, task
        )
        self._fill_place_result(result, report)
        return result

    def _execute_pick_and_place(self, goal_handle: ServerGoalHandle) -> PickAndPlace.Result:
        result = PickAndPlace.Result()
        report = TaskReport()
        goal: PickAndPlace.Goal = goal_handle.request

        def task(feedback: Callable[[str, float], None], canceled: Callable[[], bool]) -> None:
            self._grasps.forget()
            self._places.forget()
            pick_text, place_text = self._split(goal)
            result.pick_instruction, result.place_instruction = pick_text, place_text
            scaling = self._velocity_scaling(goal.velocity_scaling)
            request = PickRequest(pick_text, None, goal.dry_run, scaling)
            self._runner.pick_and_place(request, place_text, report, feedback, canceled)

        result.error_code, result.error_message, result.select_error_code = self._run_task(
            goal_handle, "pick and place", PickAndPlace.Feedback, task
        )
        candidates = self._grasps.last_candidates
        if 0 <= report.chosen_index < len(candidates):
            result.executed_grasp = candidates[report.chosen_index]
        result.target = self._grasps.last_target_msg
        result.target_verified = report.target_verified
        self._fill_place_result(result, report)
        return result

    def _fill_place_result(
        self, result: Place.Result | PickAndPlace.Result, report: TaskReport
    ) -> None:
        releases = self._places.last_releases
        if 0 <= report.release_index < len(releases):
            result.executed_release = releases[report.release_index]
        result.reference = self._places.last_reference_msg
        result.released = report.released
        result.placement_verified = report.placement_verified
        if report.placed_at_m is not None:
            result.placed_at_m.x, result.placed_at_m.y, result.placed_at_m.z = (
                float(v) for v in report.placed_at_m
            )

    def _split(self, goal: PickAndPlace.Goal) -> tuple[str, str]:
        if goal.instruction.strip():
            try:
                return split_pick_and_place(goal.instruction)
            except SelectionError as error:
                raise TaskError(TaskErrorCode.INVALID_GOAL, error.message) from None
        if not goal.pick_instruction.strip() or not goal.place_instruction.strip():
            raise TaskError(
                TaskErrorCode.INVALID_GOAL,
                "give instruction (one sentence) or both pick_instruction and place_instruction",
            )
        return goal.pick_instruction, goal.place_instruction

    def _place_goal(self, goal: Place.Goal) -> PlaceGoal:
        if not goal.instruction.strip():
            raise TaskError(TaskErrorCode.INVALID_GOAL, "instruction is empty: say where to place")
        scaling = self._velocity_scaling(goal.velocity_scaling)
        held = None
        if goal.held_object.description.strip():
            try:
                target = conversions.object_box_from_msg(goal.held_object)
                grasp = conversions.pose_to_matrix(goal.grasp_pose.pose)
            except ValueError as error:
                raise TaskError(
                    TaskErrorCode.INVALID_GOAL, f"held_object or grasp_pose: {error}"
                ) from None
            assert target is not None  # a description names an object
            held = HeldRecord(target, grasp)
        return PlaceGoal(goal.instruction, held, goal.dry_run, scaling)

    # ---- goals ----

    def _pick_request(self, goal: Pick.Goal) -> tuple[PickRequest, list[GraspCandidate]]:
        """Every goal field checked before anything moves (TaskError INVALID_GOAL / STALE_STATE)."""
        self._grasps.forget()
        scaling = self._velocity_scaling(goal.velocity_scaling)
        if not goal.use_candidate:
            if not goal.instruction.strip():
                raise TaskError(
                    TaskErrorCode.INVALID_GOAL, "instruction is empty (and use_candidate false)"
                )
            return PickRequest(goal.instruction, None, goal.dry_run, scaling), []
        candidate = goal.candidate
        try:
            pose = conversions.pose_to_matrix(candidate.pose.pose)
            target = conversions.object_box_from_msg(goal.target)
        except ValueError as error:
            raise TaskError(TaskErrorCode.INVALID_GOAL, f"candidate or target: {error}") from None
        observation = self._scenes.latest()
        if observation is None:
            raise TaskError(
                TaskErrorCode.STALE_STATE,
                f"no scene on {self._config.scene_topic} yet: the candidate's frame cannot be "
                "checked against the scene's",
            )
        frame = observation.frame_id
        if candidate.pose.header.frame_id != frame:
            raise TaskError(
                TaskErrorCode.INVALID_GOAL,
                f"candidate pose is in '{candidate.pose.header.frame_id}', expected '{frame}'",
            )
        check_candidate(
            width_m=candidate.width_m,
            approach_depth_m=candidate.approach_depth_m,
            stamp_s=conversions.time_to_seconds(candidate.pose.header.stamp),
            now_s=conversions.clock_seconds(self.get_clock()),
            max_age_s=self._config.max_scene_age_s,
            max_width_m=self._runner.ports.planner.gripper.max_width_m,
        )
        choice = Choice(pose[None], target)
        return PickRequest(goal.instruction, choice, goal.dry_run, scaling), [candidate]

    def _velocity_scaling(self, value: float) -> float:
        if not math.isfinite(value) or value < 0.0 or value > 1.0:
            raise TaskError(
                TaskErrorCode.INVALID_GOAL, f"velocity_scaling must be in [0, 1], got {value}"
            )
        if value == 0.0:
            value = self._config.default_velocity_scaling
        return min(value, self._config.max_velocity_scaling)

    def _publish_plan(self, plan: TaskPlan) -> None:
        path = plan.joined()
        self._path_publisher.publish(
            conversions.trajectory_to_msg(
                self._config.joint_names, path.times_s, path.positions_rad, path.velocities_rad_s
            )
        )


def main(args: list[str] | None = None) -> int:
    return spin.main(ExecutorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
