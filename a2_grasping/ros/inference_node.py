"""inference_node: serves /select_grasp on the newest fused scene.

A lifecycle node: `configure` builds the selection pipeline (a2 mode when fusion weights and a
CLIP model are configured and load, geometric mode when none are configured), `activate` starts
serving. While not active, every request is answered MODEL_NOT_READY rather than left
unanswered, so callers never wait on a node that cannot help.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from builtin_interfaces.msg import Time
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from a2_grasping.core.candidates.factory import make_candidate_generator
from a2_grasping.core.errors import GraspSelectionError, SelectErrorCode
from a2_grasping.core.inference_config import InferenceConfig
from a2_grasping.core.request import check_scene_age, validate_request
from a2_grasping.core.scene import Scene
from a2_grasping.core.selection import GraspScorer, GraspSelector, SelectionConfig
from a2_grasping.msg import SceneSnapshot
from a2_grasping.ros import conversions, spin
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


@dataclass(frozen=True)
class _ReceivedScene:
    scene: Scene
    stamp: Time


class InferenceNode(LifecycleNode):
    def __init__(self) -> None:
        super().__init__("inference_node")
        self._config = declare_config(self, InferenceConfig)
        self._selection_config = declare_config(self, SelectionConfig)
        self._selector: GraspSelector | None = None
        self._active = False
        self._latest: _ReceivedScene | None = None
        self._scene_lock = threading.Lock()
        # One selection at a time; a second concurrent request is refused BUSY at once.
        self._selection_lock = threading.Lock()

        # Scenes keep arriving while a selection runs: separate groups on a multi-threaded
        # executor. The service group is reentrant so that a concurrent request reaches the
        # callback and can be answered BUSY instead of waiting in the executor's queue.
        self.create_subscription(
            SceneSnapshot,
            self._config.scene_topic,
            self._on_scene,
            SCENE_QOS,
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        # Created at start-up (not on activate), so callers always get an answer.
        self.create_service(
            SelectGrasp,
            self._config.service_name,
            self._on_select_grasp,
            callback_group=ReentrantCallbackGroup(),
        )
        if self._config.autostart:
            self.trigger_configure()
            self.trigger_activate()

    # ---- lifecycle ----

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        scorer: GraspScorer | None = None
        if self._config.a2_mode_configured:
            try:
                scorer = self._load_a2_scorer()
            except (OSError, ValueError) as error:
                self.get_logger().error(f"configure failed: cannot load the A2 policy: {error}")
                return TransitionCallbackReturn.FAILURE
        try:
            generator = make_candidate_generator(self._config)
        except (OSError, ValueError) as error:
            self.get_logger().error(f"configure failed: cannot load GraspNet: {error}")
            return TransitionCallbackReturn.FAILURE
        self._selector = GraspSelector(generator, self._selection_config, scorer=scorer)
        if scorer is None:
            self.get_logger().info(
                "geometric mode: no fusion weights / CLIP model configured; grasps are ranked by "
                "antipodal quality and instructions are not used"
            )
        else:
            self.get_logger().info("a2 mode: CLIP + fusion network loaded")
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
        self._selector = None
        with self._scene_lock:
            self._latest = None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        return TransitionCallbackReturn.SUCCESS

    def _load_a2_scorer(self) -> GraspScorer:
        from a2_grasping.core.policy.a2_scorer import A2Scorer
        from a2_grasping.core.policy.checkpoints import load_fusion_model
        from a2_grasping.core.policy.clip_config import ClipFeatureConfig
        from a2_grasping.core.policy.clip_features import ClipFeatureExtractor
        from a2_grasping.core.policy.fusion_config import FusionConfig

        clip = ClipFeatureExtractor.from_pretrained(
            ClipFeatureConfig(model_name_or_path=self._config.clip_model)
        )
        fusion = load_fusion_model(self._config.fusion_weights_path, FusionConfig())
        return A2Scorer(clip, fusion)

    # ---- callbacks ----

    def _on_scene(self, msg: SceneSnapshot) -> None:
        """Convert on arrival: a malformed scene is dropped here, never served."""
        try:
            scene = conversions.scene_from_msg(msg)
        except ValueError as error:
            self.get_logger().warning(
                f"dropping malformed scene: {error}", throttle_duration_sec=5.0
            )
            return
        with self._scene_lock:
            self._latest = _ReceivedScene(scene, msg.header.stamp)

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
        if "total" not in response.timing_stages:
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
        selector = self._selector
        if not self._active or selector is None:
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
            latest = self._latest
        now_s = self.get_clock().now().nanoseconds * 1e-9
        age_s = check_scene_age(
            None if latest is None else latest.scene.stamp_s,
            now_s,
            validated.max_input_age_s,
            max_future_s=self._config.max_future_stamp_s,
        )
        assert latest is not None  # check_scene_age refused a missing scene
        response.scene_stamp = latest.stamp
        response.scene_age_s = age_s
        response.mode = selector.mode.value
        ranked = selector.select(latest.scene, validated)
        conversions.fill_selection_response(ranked, latest.scene.frame_id, latest.stamp, response)


def main(args: list[str] | None = None) -> int:
    spin.init(args)
    return spin.run(InferenceNode())


if __name__ == "__main__":
    raise SystemExit(main())
