"""inference_node: serves /select_grasp on the newest fused scene.

A lifecycle node: `configure` builds the selection pipeline (a2 mode when fusion weights and a
CLIP model are configured and load; without them attributes mode, or geometric mode when
ground_instructions is false), `activate` starts
serving. While not active, every request is answered MODEL_NOT_READY rather than left
unanswered, so callers never wait on a node that cannot help.

Configure ends with a warm-up (one dummy selection on a synthetic scene, core/warmup.py) unless
`warm_up` is false. The weight paths, device, precision, clip_tiles, record_path and warm_up
may be set while the node is unconfigured (cleanup -> set -> configure: a weight swap without a
restart); configure reads and validates them again. While configured they are refused.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from visualization_msgs.msg import MarkerArray

from a2_grasping.core.candidates.base import CandidateGenerator
from a2_grasping.core.errors import SelectErrorCode, SelectionError
from a2_grasping.core.gripper import GripperGeometry
from a2_grasping.core.inference_config import RELOADABLE_PARAMETERS, InferenceConfig
from a2_grasping.core.kinematics import UR5eReachability
from a2_grasping.core.policy.hardware import InferenceHardware, resolve_hardware
from a2_grasping.core.scene import Scene
from a2_grasping.core.selection.candidates import make_candidate_generator
from a2_grasping.core.selection.common import PoseScorer, SelectionConfig
from a2_grasping.core.selection.grasp import GraspSelector
from a2_grasping.core.selection.objects import SegmentationConfig
from a2_grasping.core.selection.place import PlaceConfig, PlaceRequest, PlaceSelector
from a2_grasping.core.selection.request import check_scene_age, validate_request
from a2_grasping.core.stats import EventCounts, RollingPercentiles
from a2_grasping.core.warmup import WarmUpResult, warm_up
from a2_grasping.msg import SceneSnapshot
from a2_grasping.ros import conversions, diagnostics, spin
from a2_grasping.ros.bags.request_recorder import RequestRecorder, next_recording_path
from a2_grasping.ros.high_rate import HighRateLane
from a2_grasping.ros.markers import grasp_markers
from a2_grasping.ros.parameters import declare_config
from a2_grasping.ros.qos import DIAGNOSTICS_QOS, LATCHED_QOS, SCENE_QOS
from a2_grasping.srv import SelectGrasp, SelectPlace

# The warm-up selection's own budget (s): it is timed and reported, never refused for time.
WARM_UP_BUDGET_S = 600.0


@dataclass(frozen=True)
class _ReceivedScene:
    scene: Scene
    stamp: Time
    msg: SceneSnapshot | None  # kept only while requests are recorded


class InferenceNode(LifecycleNode):
    def __init__(self) -> None:
        super().__init__("inference_node")
        self._config = declare_config(self, InferenceConfig)
        self._selection_config = declare_config(self, SelectionConfig)
        self._segmentation_config = declare_config(self, SegmentationConfig)
        self._place_config = declare_config(self, PlaceConfig)
        self._place_selector: PlaceSelector | None = None
        self._selector: GraspSelector | None = None
        self._active = False
        self._latest: _ReceivedScene | None = None
        self._scene_lock = threading.Lock()
        # One selection at a time; a concurrent request is refused BUSY (or waits its turn for at
        # most queue_timeout_s).
        self._selection_lock = threading.Lock()
        self._latency_ms = {name: RollingPercentiles() for name in ("select_grasp", "select_place")}
        self._answers = EventCounts()
        self._last_scene_age_s = float("nan")
        self._gripper = GripperGeometry()
        self._recorder: RequestRecorder | None = None
        self._own_recordings: set[Path] = set()  # bags this process wrote (reopen: path_<n>)
        self._hardware: InferenceHardware | None = None  # resolved device + precision
        self._warm_up: WarmUpResult | None = None
        self._scorer: PoseScorer | None = None  # a2 mode's scorer (its CLIP cache counters)
        # True from the start of configure until cleanup: the reloadable parameters are locked.
        self._configured = False
        self.add_on_set_parameters_callback(self._on_set_parameters)

        # /clock (under use_sim_time) on a lane of its own: at 125 Hz it cost this executor a core.
        self._high_rate = HighRateLane(self)
        if self._config.autostart:
            # Configured (models loaded, warm-up run) before the services and the scene
            # subscription exist: a caller that discovers the service finds it ready, and its
            # first scene is not left waiting in the queue while the warm-up runs.
            self.trigger_configure()
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
        self.create_service(
            SelectPlace,
            self._config.place_service_name,
            self._on_select_place,
            callback_group=ReentrantCallbackGroup(),
        )
        # RViz may start after the last answer: latch it.
        self._markers_publisher = self.create_publisher(
            MarkerArray,
            self._config.markers_topic,
            LATCHED_QOS,
        )
        self._diagnostics_publisher = self.create_publisher(
            DiagnosticArray, "/diagnostics", DIAGNOSTICS_QOS
        )
        self.create_timer(
            diagnostics.PERIOD_S,
            self._publish_diagnostics,
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        if self._config.autostart:
            self.trigger_activate()

    # ---- lifecycle ----

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._configured = True  # parameters locked from here on
        try:
            self._config = self._reloaded_config()
            scorer, generator = self._load_models()
        except (OSError, ValueError) as error:
            return self._configure_failed(str(error))
        reachability = UR5eReachability() if self._config.check_reachability else None
        # a2 mode places with the same scorer (its CLIP cache shared with the grasp side: a
        # place on the scene a grasp was just selected on reuses its tile maps).
        self._place_selector = PlaceSelector(
            self._selection_config,
            self._segmentation_config,
            self._place_config,
            reachability,
            scorer=scorer,
            guard=self._config.ground_instructions,
        )

        def selector(config: SelectionConfig) -> GraspSelector:
            return GraspSelector(
                generator,
                config,
                scorer=scorer,
                reachability=reachability,
                ground_instructions=self._config.ground_instructions,
                segmentation=self._segmentation_config,
                gripper=self._gripper,
            )

        self._warm_up = None
        if self._config.warm_up:
            warm = selector(
                dataclasses.replace(self._selection_config, time_budget_s=WARM_UP_BUDGET_S)
            )
            self._warm_up = warm_up(warm.select, self._selection_config.table_height_m)
            self.get_logger().info(self._warm_up.describe())
        refused = self._open_recorder()
        if refused:
            return self._configure_failed(refused)
        self._selector = selector(self._selection_config)
        self._scorer = scorer
        self.get_logger().info(self._mode_description())
        return TransitionCallbackReturn.SUCCESS

    def _load_models(self) -> tuple[PoseScorer | None, CandidateGenerator]:
        """Device and precision, decided once before any model loads, then a2 mode's scorer
        (None without fusion weights) and the candidate generator. Without models (geometric
        mode, no GraspNet) there is nothing to place, unless cuda was asked for: a device that
        does not exist is a configuration error in every mode. OSError / ValueError say why."""
        models = self._config.a2_mode_configured or bool(self._config.graspnet_weights_path)
        self._hardware = None
        if models or self._config.device == "cuda":
            # DeviceUnavailableError (a ValueError): cuda requested, none present
            self._hardware = resolve_hardware(self._config.device, self._config.precision)
            self.get_logger().info(
                f"inference {self._hardware.describe()}; CPU {self._hardware.cpu.describe()}"
            )
        device = str(self._hardware.device) if self._hardware is not None else "cpu"
        scorer: PoseScorer | None = None
        if self._config.a2_mode_configured:
            assert self._hardware is not None  # resolved above whenever models are set
            try:
                scorer = self._load_a2_scorer(self._hardware)
            except (OSError, ValueError) as error:
                raise ValueError(f"cannot load the A2 policy: {error}") from None
        try:
            return scorer, make_candidate_generator(self._config, device)
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot load GraspNet: {error}") from None

    def _open_recorder(self) -> str:
        """Open the request recorder when record_path is set; the reason it cannot, or ""."""
        if not self._config.record_path or self._recorder is not None:
            return ""
        path = Path(self._config.record_path).expanduser()
        target = next_recording_path(path, self._own_recordings)
        if target is None:
            return (
                f"record_path {path} exists already (a bag this node did not write; "
                "it is never overwritten)"
            )
        # The bag names topics as the graph does: resolved in this node's namespace.
        self._recorder = RequestRecorder(
            target,
            self.resolve_topic_name(self._config.scene_topic),
            self.resolve_service_name(self._config.service_name),
        )
        self._own_recordings.add(target.resolve())
        again = f" ({path} holds this node's earlier recording)" if target != path else ""
        self.get_logger().info(f"recording every request to {target}{again}")
        return ""

    def _mode_description(self) -> str:
        if self._scorer is not None:
            guard = (
                "guarded by grounding (the words it understands restrict A2's choice)"
                if self._config.ground_instructions
                else "unguarded (ground_instructions false)"
            )
            return f"a2 mode: CLIP + fusion network loaded, {guard}"
        if self._config.ground_instructions:
            return (
                "attributes mode: no fusion weights / CLIP model configured; each instruction is "
                "grounded to the object it names, generic requests are answered geometrically"
            )
        return (
            "geometric mode (ground_instructions false): grasps are ranked by antipodal "
            "quality and instructions are not used"
        )

    def _configure_failed(self, reason: str) -> TransitionCallbackReturn:
        """Log why, leave nothing half-built, unlock the parameters (the node stays
        unconfigured: set them right and configure again)."""
        self.get_logger().error(f"configure failed: {reason}")
        self._selector = None
        self._place_selector = None
        self._scorer = None
        self._warm_up = None
        self._configured = False
        return TransitionCallbackReturn.FAILURE

    def _reloaded_config(self) -> InferenceConfig:
        """The configuration with the reloadable parameters' current values (ValueError naming
        the parameter when one is invalid)."""
        values: dict[str, Any] = {}
        for name in RELOADABLE_PARAMETERS:
            value = self.get_parameter(name).value
            values[name] = tuple(int(v) for v in value) if name == "clip_tiles" else value
        return dataclasses.replace(self._config, **values)

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Reloadable parameters change only while unconfigured, and only to valid values."""
        changes: dict[str, Any] = {}
        for parameter in parameters:
            if parameter.name not in RELOADABLE_PARAMETERS:
                continue
            if self._configured:
                return SetParametersResult(
                    successful=False,
                    reason=f"{parameter.name} can change only while inference_node is "
                    "unconfigured: cleanup (deactivate first), set it, configure",
                )
            value = parameter.value
            changes[parameter.name] = (
                tuple(int(v) for v in value) if parameter.name == "clip_tiles" else value
            )
        if changes:
            try:
                dataclasses.replace(self._config, **changes)
            except (TypeError, ValueError) as error:
                return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        self.get_logger().info(f"serving {self._config.service_name}")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._selector = None  # the models go with it (and their caches)
        self._place_selector = None
        self._scorer = None
        self._hardware = None
        self._warm_up = None
        with self._scene_lock:
            self._latest = None
        self._close_recorder()
        self._configured = False  # the reloadable parameters may change now
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._close_recorder()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        self._close_recorder()  # process exit without a lifecycle shutdown: still a valid bag
        self._high_rate.close()
        super().destroy_node()

    def _close_recorder(self) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            recorder.close()
            self.get_logger().info(
                f"request recording closed: {recorder.written} written, {recorder.dropped} "
                f"dropped, {recorder.failed} failed {recorder.last_error}"
            )

    def _load_a2_scorer(self, hardware: InferenceHardware) -> PoseScorer:
        from a2_grasping.core.policy.a2_scorer import load_a2_scorer

        rows, cols = self._config.clip_tiles
        return load_a2_scorer(
            self._config.fusion_weights_path, self._config.clip_model, hardware, (rows, cols)
        )

    def _newest_scene_stamp_s(self) -> float:
        with self._scene_lock:
            latest = self._latest
        return 0.0 if latest is None else conversions.time_to_seconds(latest.stamp)

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
            self._latest = _ReceivedScene(
                scene, msg.header.stamp, msg if self._recorder is not None else None
            )

    def _take_turn(self) -> SelectionError | None:
        """Acquire the one selection slot (both services share it), or the BUSY refusal."""
        queue_timeout_s = self._config.queue_timeout_s
        acquired = (
            self._selection_lock.acquire(timeout=queue_timeout_s)
            if queue_timeout_s > 0
            else self._selection_lock.acquire(blocking=False)
        )
        if acquired:
            return None
        waited = f" (waited {queue_timeout_s:.1f} s)" if queue_timeout_s else ""
        self._answers[SelectErrorCode.BUSY.name] += 1
        return SelectionError(
            SelectErrorCode.BUSY, f"another selection is running{waited}; retry later"
        )

    def _on_select_grasp(
        self, request: SelectGrasp.Request, response: SelectGrasp.Response
    ) -> SelectGrasp.Response:
        received = self.get_clock().now().to_msg()
        served = self._answer(
            "select_grasp",
            lambda: self._select(request, response),
            lambda error: conversions.error_response(error, response),
            response,
        )
        recorder = self._recorder
        if recorder is not None and response.error_code != SelectErrorCode.BUSY:
            if served is None:  # refused: record the scene the node held, if any
                with self._scene_lock:
                    served = self._latest
            recorder.record(
                served.msg if served is not None else None,
                request,
                response,
                received,
                self.get_clock().now().to_msg(),
            )
        return response

    def _answer(
        self,
        service: str,
        select: Callable[[], _ReceivedScene],
        refuse: Callable[[SelectionError], object],
        response: SelectGrasp.Response | SelectPlace.Response,
    ) -> _ReceivedScene | None:
        """What both services share: one selection at a time (BUSY otherwise), every failure a
        refusal with its code (never an exception out of the callback), the answer timed and
        counted, refusals logged. Returns the scene selected on (None: refused)."""
        started_s = time.perf_counter()
        served: _ReceivedScene | None = None
        busy = self._take_turn()
        if busy is not None:  # counted by _take_turn; not timed, logged or recorded
            refuse(busy)
            return None
        try:
            served = select()
        except SelectionError as error:
            refuse(error)
        except Exception as error:  # a request must never take the node down
            self.get_logger().error(f"{service} failed: {error!r}")
            refuse(SelectionError(SelectErrorCode.INTERNAL, f"unexpected failure: {error!r}"))
        finally:
            self._selection_lock.release()
        elapsed_ms = (time.perf_counter() - started_s) * 1e3
        if isinstance(response, SelectGrasp.Response) and "total" not in response.timing_stages:
            response.timing_stages.append("total")
            response.timing_ms.append(elapsed_ms)
        self._latency_ms[service].add(elapsed_ms)
        name = SelectErrorCode(response.error_code).name
        self._answers[name if service == "select_grasp" else f"place_{name}"] += 1
        if response.error_code != SelectErrorCode.NONE:
            self.get_logger().warning(
                f"{service} refused ({name}): {response.error_message}",
                throttle_duration_sec=1.0,
            )
        return served if response.error_code == SelectErrorCode.NONE else None

    def _select(
        self, request: SelectGrasp.Request, response: SelectGrasp.Response
    ) -> _ReceivedScene:
        """Fill `response` from the newest scene and return that scene (SelectionError on
        refusal)."""
        selector = self._selector
        if not self._active or selector is None:
            raise SelectionError(
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
        latest, age_s = self._fresh_scene(validated.max_input_age_s)
        response.scene_stamp = latest.stamp
        response.scene_age_s = age_s
        response.mode = selector.mode.value
        ranked = selector.select(latest.scene, validated)
        conversions.fill_selection_response(ranked, latest.scene.frame_id, latest.stamp, response)
        self._markers_publisher.publish(
            grasp_markers(
                ranked.candidates,
                ranked.selected_index,
                latest.scene.frame_id,
                latest.stamp,
                self._gripper,
            )
        )
        return latest

    def _fresh_scene(self, max_age_s: float) -> tuple[_ReceivedScene, float]:
        """The newest scene and its age, or NO_SCENE / STALE_SCENE."""
        with self._scene_lock:
            latest = self._latest
        now_s = conversions.clock_seconds(self.get_clock())
        age_s = check_scene_age(
            None if latest is None else latest.scene.stamp_s,
            now_s,
            max_age_s,
            max_future_s=self._config.max_future_stamp_s,
        )
        assert latest is not None  # check_scene_age refused a missing scene
        self._last_scene_age_s = age_s
        return latest, age_s

    def _on_select_place(
        self, request: SelectPlace.Request, response: SelectPlace.Response
    ) -> SelectPlace.Response:
        self._answer(
            "select_place",
            lambda: self._select_place(request, response),
            lambda error: conversions.place_error_response(error, response),
            response,
        )
        return response

    def _select_place(
        self, request: SelectPlace.Request, response: SelectPlace.Response
    ) -> _ReceivedScene:
        selector = self._place_selector
        if not self._active or selector is None:
            raise SelectionError(
                SelectErrorCode.MODEL_NOT_READY,
                "inference_node is not active; configure and activate it (lifecycle) first",
            )
        validated = validate_request(
            request.instruction,
            [],
            request.max_candidates,
            request.max_input_age_s,
            default_max_candidates=self._config.max_candidates,
            default_max_input_age_s=self._config.max_input_age_s,
        )
        try:
            held = conversions.held_object_from_request(request)
            moving_xy_m = conversions.moving_object_from_request(request)
        except ValueError as error:
            raise SelectionError(SelectErrorCode.INVALID_REQUEST, str(error)) from None
        latest, age_s = self._fresh_scene(validated.max_input_age_s)
        response.scene_stamp = latest.stamp
        response.scene_age_s = age_s
        response.mode = selector.mode
        ranked = selector.select(
            latest.scene,
            PlaceRequest(validated.instruction, held, validated.max_candidates, moving_xy_m),
        )
        conversions.fill_place_response(ranked, latest.scene.frame_id, latest.stamp, response)
        return latest

    def _clip_cache_summary(self) -> str:
        stats = getattr(self._scorer, "cache_stats", None)
        if stats is None:
            return "none"
        return (
            f"tiles computed={stats.tiles_computed} reused={stats.tiles_reused} "
            f"skipped={stats.tiles_skipped}; texts encoded={stats.texts_encoded} "
            f"reused={stats.texts_reused}"
        )

    def _publish_diagnostics(self) -> None:
        selector = self._selector
        mode = selector.mode.value if selector is not None else "unconfigured"
        model = (
            f"fusion={self._config.fusion_weights_path} clip={self._config.clip_model}"
            if self._config.a2_mode_configured
            else "segmentation + grounding, antipodal sampler (no weights)"
            if self._config.ground_instructions
            else "antipodal sampler (no weights)"
        )
        hardware = self._hardware
        level = diagnostics.OK if self._active else diagnostics.WARN
        status = diagnostics.status(
            "inference_node: grasp selection",
            self._config.service_name,
            level,
            f"{'active' if self._active else 'not active'}, mode {mode}",
            {
                "mode": mode,
                "model": model,
                # Where the models run (CLIP, fusion, GraspNet); "none" without models.
                "device": str(hardware.device) if hardware is not None else "none",
                "precision": hardware.precision if hardware is not None else "none",
                "hardware": hardware.reason if hardware is not None else "no models loaded",
                # The dummy selection at configure: seconds (nan: none ran) and its outcome.
                "warm_up_s": self._warm_up.seconds if self._warm_up is not None else float("nan"),
                "warm_up": self._warm_up.outcome if self._warm_up is not None else "none",
                # a2 mode since configure (warm-up included): CLIP tiles run, taken from the
                # cache, skipped (no point reads them); instructions encoded / reused.
                "clip_cache": self._clip_cache_summary(),
                "last_scene_age_s": self._last_scene_age_s,
                # The newest scene held (its sensor stamp, s; 0: none): what a selection now uses.
                "scene_stamp_s": self._newest_scene_stamp_s(),
                "latency_ms_p50": self._latency_ms["select_grasp"].percentile(50),
                "latency_ms_p95": self._latency_ms["select_grasp"].percentile(95),
                "place_latency_ms_p50": self._latency_ms["select_place"].percentile(50),
                "place_latency_ms_p95": self._latency_ms["select_place"].percentile(95),
                "answers": self._answers.summary(),
            },
        )
        self._diagnostics_publisher.publish(
            diagnostics.array(self.get_clock().now().to_msg(), [status])
        )


def main(args: list[str] | None = None) -> int:
    # torch is imported before any executor thread runs. Imported lazily at configure, it is
    # half-initialised for a second while scene callbacks convert quaternions with SciPy, whose
    # array-API check then reads `torch.Tensor` from the partial module and kills the node
    # (AttributeError: partially initialized module 'torch'; seen in the a2-mode e2e test).
    import torch  # noqa: F401

    return spin.main(InferenceNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
