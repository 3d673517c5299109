"""executor_node: the /pick, /place and /pick_and_place actions, a thin lifecycle node around the
core task runner.

The task sequence, the collision world and the hold logic live in `a2_grasping.core.task`; the
runner's ports over ROS (joint states, scenes, the selection services, the arm and gripper
adapters, the planner) are built by `ros/ports/executor_ports.py`; goals and results are
converted in `ros/task_conversions.py`. This node wires them and owns the lifecycle.

Lifecycle: a backend this machine cannot provide is refused at start-up (exit code 2); configure
builds the runner and its ports (a failure leaves the node unconfigured, saying why), cleanup
destroys them; goals are accepted only while active; deactivating cancels a running goal, which
stops the arm. Threading: the action's execute callback runs on its own thread of the
multi-threaded executor (reentrant group) and waits there with timeouts, while joint states,
scenes and the selection responses are delivered by other threads; services are called with
call_async, never a blocking call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from a2_grasping.action import Pick, PickAndPlace, Place
from a2_grasping.core.executor_config import ExecutorConfig
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.core.selection.objects import SegmentationConfig
from a2_grasping.core.task.codes import CanceledError, ExecutionError, TaskError, TaskErrorCode
from a2_grasping.core.task.goals import pick_and_place_texts, velocity_scaling
from a2_grasping.core.task.runner import PickRequest, TaskReport
from a2_grasping.msg import GraspCandidate, GraspTarget
from a2_grasping.ros import conversions, diagnostics, spin, task_conversions
from a2_grasping.ros.hardware.backends import check_backends
from a2_grasping.ros.high_rate import HighRateLane
from a2_grasping.ros.nodes.executor_diagnostics import TaskRecord, robot_status, task_status
from a2_grasping.ros.parameters import declare_config
from a2_grasping.ros.ports.executor_ports import ExecutorPorts, wire_executor
from a2_grasping.ros.qos import DIAGNOSTICS_QOS

# How much longer than stop_timeout_s cleanup waits for a canceled task to unwind.
CLEANUP_MARGIN_S = 5.0
# One task on the configured ports, with its feedback sender and cancel query.
Feedback = Callable[[str, float], None]
Canceled = Callable[[], bool]
Task = Callable[[ExecutorPorts, Feedback, Canceled], None]


class ExecutorNode(LifecycleNode):
    def __init__(self) -> None:
        super().__init__("executor_node")
        self._config = declare_config(self, ExecutorConfig)
        self._planner_config = declare_config(self, PlannerConfig)
        self._segmentation = declare_config(self, SegmentationConfig)
        check_backends(self._config, self._planner_config)
        self._ports: ExecutorPorts | None = None  # from configure until cleanup
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
        # The action servers exist from start-up, so a goal sent too early is rejected (and
        # logged) rather than lost; a goal runs on this reentrant group's threads.
        goal_group = ReentrantCallbackGroup()
        cfg = self._config
        self._actions = [
            ActionServer(
                self,
                action_type,
                name,
                execute_callback=execute,
                goal_callback=self._on_goal,
                cancel_callback=lambda _goal: CancelResponse.ACCEPT,
                callback_group=goal_group,
            )
            for action_type, name, execute in (
                (Pick, cfg.action_name, self._execute),
                (Place, cfg.place_action_name, self._execute_place),
                (PickAndPlace, cfg.pick_and_place_action_name, self._execute_pick_and_place),
            )
        ]
        # Last: the lane's thread must be stopped before the context goes (destroy_node).
        self._high_rate = HighRateLane(self)
        if cfg.autostart:
            self.trigger_configure()
            self.trigger_activate()

    def destroy_node(self) -> None:
        for action in self._actions:
            action.destroy()
        self._release()
        self._high_rate.close()
        super().destroy_node()

    def _publish_diagnostics(self) -> None:
        robot = robot_status(self._config, self._ports)
        tasks = task_status(self._active, self._running_task, self._last_task)
        self._diagnostics_publisher.publish(
            diagnostics.array(self.get_clock().now().to_msg(), [robot, tasks])
        )

    # ---- lifecycle ----

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._ports = wire_executor(
                self, self._high_rate, self._config, self._planner_config, self._segmentation
            )
        except ValueError as error:
            self.get_logger().error(f"configure failed: {error}")
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        self.get_logger().info(f"serving {self._config.action_name}")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False  # a running task sees itself canceled at its next wait
        if self._running.locked() and self._ports is not None:
            self.get_logger().warning("deactivated during a task: stopping the arm")
            self._ports.backends.arm.stop(timeout_s=self._config.stop_timeout_s)
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        # A task canceled by the deactivation may still be unwinding (stopping the arm).
        if not self._running.acquire(timeout=self._config.stop_timeout_s + CLEANUP_MARGIN_S):
            self.get_logger().error("cleanup refused: a task is still stopping")
            return TransitionCallbackReturn.FAILURE
        try:
            self._release()
        finally:
            self._running.release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        ports, self._ports = self._ports, None
        if ports is not None:
            ports.close()

    # ---- goals ----

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
        report: TaskReport,
        task: Task,
    ) -> tuple[tuple[int, str, int], ExecutorPorts | None]:
        """Run one task under the one-task lock: ((code, message, select error code), the
        ports it ran on, for the result's fields; None when the node was not configured)."""

        def canceled() -> bool:
            return bool(goal_handle.is_cancel_requested) or not self._active

        def feedback(stage: str, progress: float) -> None:
            goal_handle.publish_feedback(
                task_conversions.feedback_msg(what, stage, progress, report.grasp_attempts)
            )

        code, message, select_code = int(TaskErrorCode.NONE), "", 0
        with self._running:
            self._running_task = what
            ports = self._ports
            try:
                if ports is None:  # cleaned up between the goal's acceptance and now
                    raise TaskError(TaskErrorCode.INVALID_GOAL, "executor_node is not configured")
                task(ports, feedback, canceled)
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
        return (code, message, select_code), ports

    def _execute(self, goal_handle: ServerGoalHandle) -> Pick.Result:
        report, goal = TaskReport(), goal_handle.request
        candidates: list[GraspCandidate] = []

        def task(wired: ExecutorPorts, feedback: Feedback, canceled: Canceled) -> None:
            nonlocal candidates
            wired.grasps.forget()
            request, candidates = task_conversions.pick_request_from_goal(
                goal,
                velocity_scaling=self._velocity_scaling(goal.velocity_scaling),
                scene=wired.scenes.latest(),
                now_s=conversions.clock_seconds(self.get_clock()),
                max_age_s=self._config.max_scene_age_s,
                max_width_m=wired.runner.ports.planner.gripper.max_width_m,
            )
            wired.runner.pick(request, report, feedback, canceled)

        codes, ports = self._run_task(goal_handle, "pick", report, task)
        target, last = goal.target, []
        if ports is not None:
            target = goal.target if goal.use_candidate else ports.grasps.last_target_msg
            last = ports.grasps.last_candidates
        return task_conversions.pick_result_msg(codes, report, candidates or last, target)

    def _execute_place(self, goal_handle: ServerGoalHandle) -> Place.Result:
        report, goal = TaskReport(), goal_handle.request

        def task(wired: ExecutorPorts, feedback: Feedback, canceled: Canceled) -> None:
            wired.places.forget()
            scaling = self._velocity_scaling(goal.velocity_scaling)
            place_goal = task_conversions.place_goal_from_msg(goal, velocity_scaling=scaling)
            wired.runner.place(place_goal, report, feedback, canceled)

        codes, ports = self._run_task(goal_handle, "place", report, task)
        return task_conversions.place_result_msg(codes, report, *self._last_place(ports))

    def _execute_pick_and_place(self, goal_handle: ServerGoalHandle) -> PickAndPlace.Result:
        report, goal = TaskReport(), goal_handle.request
        texts = ("", "")

        def task(wired: ExecutorPorts, feedback: Feedback, canceled: Canceled) -> None:
            nonlocal texts
            wired.grasps.forget()
            wired.places.forget()
            texts = pick_and_place_texts(
                goal.instruction, goal.pick_instruction, goal.place_instruction
            )
            scaling = self._velocity_scaling(goal.velocity_scaling)
            request = PickRequest(texts[0], None, goal.dry_run, scaling)
            wired.runner.pick_and_place(request, texts[1], report, feedback, canceled)

        codes, ports = self._run_task(goal_handle, "pick and place", report, task)
        grasp: tuple[list[GraspCandidate], GraspTarget] = (
            [],
            conversions.grasp_target_to_msg(None),
        )
        if ports is not None:
            grasp = (ports.grasps.last_candidates, ports.grasps.last_target_msg)
        return task_conversions.pick_and_place_result_msg(
            codes, texts, report, grasp, self._last_place(ports)
        )

    @staticmethod
    def _last_place(ports: ExecutorPorts | None) -> tuple[list[PoseStamped], GraspTarget]:
        """The releases and reference of the last /select_place answer the task used."""
        if ports is None:
            return [], conversions.grasp_target_to_msg(None)
        return ports.places.last_releases, ports.places.last_reference_msg

    def _velocity_scaling(self, value: float) -> float:
        return velocity_scaling(
            value,
            default=self._config.default_velocity_scaling,
            maximum=self._config.max_velocity_scaling,
        )


def main(args: list[str] | None = None) -> int:
    return spin.main(ExecutorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
