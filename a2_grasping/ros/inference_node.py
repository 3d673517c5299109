"""inference_node: serves /select_grasp on the newest fused scene.

A lifecycle node: `configure` builds the configuration (and, once the policy is integrated, loads
and warms up the models); `activate` starts serving. While not active, every request is answered
MODEL_NOT_READY rather than left unanswered, so callers never wait on a node that cannot help.
"""

from __future__ import annotations

import threading
import time

import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from a2_grasping.core.errors import GraspSelectionError, SelectErrorCode
from a2_grasping.core.inference_config import InferenceConfig
from a2_grasping.core.request import check_scene_age, validate_request
from a2_grasping.msg import SceneSnapshot
from a2_grasping.ros import conversions
from a2_grasping.ros.parameters import declare_config
from a2_grasping.srv import SelectGrasp

# The scene is state, not a stream: a late-starting inference node must still get the last one,
# and it must not be dropped on a lossy link, hence reliable + transient-local with depth 1.
SCENE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)


class InferenceNode(LifecycleNode):
    def __init__(self) -> None:
        super().__init__("inference_node")
        self._config = declare_config(self, InferenceConfig)
        self._active = False
        self._latest_scene: SceneSnapshot | None = None
        self._scene_lock = threading.Lock()
        # One selection at a time; a second concurrent request is refused BUSY at once.
        self._selection_lock = threading.Lock()

        # Scenes keep arriving while a selection runs: separate groups on a multi-threaded
        # executor. The service group is reentrant so that a concurrent request reaches the
        # callback and can be answered BUSY instead of waiting in the executor's queue.
        self._scene_group = MutuallyExclusiveCallbackGroup()
        self._service_group = ReentrantCallbackGroup()
        self.create_subscription(
            SceneSnapshot,
            self._config.scene_topic,
            self._on_scene,
            SCENE_QOS,
            callback_group=self._scene_group,
        )
        # Created at start-up (not on activate), so callers always get an answer.
        self.create_service(
            SelectGrasp,
            self._config.service_name,
            self._on_select_grasp,
            callback_group=self._service_group,
        )
        if self._config.autostart:
            self.trigger_configure()
            self.trigger_activate()

    # ---- lifecycle ----

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().info(
            "configured: no grasp-selection pipeline is integrated yet, requests on a valid "
            "scene are answered MODEL_NOT_READY"
        )
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        self.get_logger().info(f"serving {self._config.service_name}")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        with self._scene_lock:
            self._latest_scene = None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        return TransitionCallbackReturn.SUCCESS

    # ---- callbacks ----

    def _on_scene(self, scene: SceneSnapshot) -> None:
        with self._scene_lock:
            self._latest_scene = scene

    def _on_select_grasp(
        self, request: SelectGrasp.Request, response: SelectGrasp.Response
    ) -> SelectGrasp.Response:
        started_s = time.perf_counter()
        if not self._selection_lock.acquire(blocking=False):
            return conversions.error_response(
                GraspSelectionError(SelectErrorCode.BUSY, "another selection is running"),
                response,
            )
        try:
            self._select(request, response)
        except GraspSelectionError as error:
            conversions.error_response(error, response)
        except Exception as error:  # a request must never take the node down
            self.get_logger().error(f"select_grasp failed: {error!r}")
            conversions.error_response(
                GraspSelectionError(SelectErrorCode.INTERNAL, f"unexpected failure: {error!r}"),
                response,
            )
        finally:
            self._selection_lock.release()
        response.timing_stages.append("total")
        response.timing_ms.append((time.perf_counter() - started_s) * 1e3)
        if response.error_code != SelectErrorCode.NONE:
            self.get_logger().warning(
                f"select_grasp refused ({SelectErrorCode(response.error_code).name}): "
                f"{response.error_message}",
                throttle_duration_sec=1.0,
            )
        return response

    def _select(self, request: SelectGrasp.Request, response: SelectGrasp.Response) -> None:
        if not self._active:
            raise GraspSelectionError(
                SelectErrorCode.MODEL_NOT_READY,
                "inference_node is not active; configure and activate it (lifecycle) first",
            )
        validated = validate_request(
            request.instruction,
            list(request.camera_names),
            request.max_candidates,
            request.max_input_age_s,
            default_max_candidates=self._config.max_candidates,
            default_max_input_age_s=self._config.max_input_age_s,
        )
        with self._scene_lock:
            scene = self._latest_scene
        scene_stamp_s = None if scene is None else conversions.time_to_seconds(scene.header.stamp)
        now_s = self.get_clock().now().nanoseconds * 1e-9
        age_s = check_scene_age(
            scene_stamp_s,
            now_s,
            validated.max_input_age_s,
            max_future_s=self._config.max_future_stamp_s,
        )
        assert scene is not None  # check_scene_age refused a missing scene
        response.scene_stamp = scene.header.stamp
        response.scene_age_s = age_s
        unknown = sorted(set(validated.camera_names) - set(scene.camera_names))
        if unknown:
            raise GraspSelectionError(
                SelectErrorCode.INVALID_REQUEST,
                f"camera_names {unknown} are not in the scene (it has {list(scene.camera_names)})",
            )
        raise GraspSelectionError(
            SelectErrorCode.MODEL_NOT_READY,
            "no grasp-selection pipeline is integrated in this build yet",
        )


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node = InferenceNode()
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown(timeout_sec=2.0)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
